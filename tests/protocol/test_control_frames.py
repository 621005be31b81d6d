"""Control frames of the families that offer opt-in switches, against captured bytes.

JBD: the vendor app's writes on an SP04S034 (esphome-jbd-bms docs/pdus, MOS capture).
JK02: the charging-switch write of the JK app (``AA 55 90 EB 1D 04 …``).
Daly: Modbus function 0x06 on the MOSFET switch registers 0x00A5 / 0x00A6, as an HCI
snoop of the official Daly app shows (``D2 06 00 A5 00 01 4B 8A`` turns charging on).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import get_driver
from custom_components.ble_battery_solar.protocol.base import BALANCER, CHARGE, DISCHARGE
from custom_components.ble_battery_solar.protocol.checksums import crc16_modbus

BOTH_ON = {CHARGE: True, DISCHARGE: True}


@pytest.mark.parametrize(
    ("switch", "on", "state", "register_write"),
    [
        (CHARGE, False, BOTH_ON, "dd5ae1020001ff1c77"),
        (CHARGE, True, {CHARGE: False, DISCHARGE: True}, "dd5ae1020000ff1d77"),
        (DISCHARGE, False, BOTH_ON, "dd5ae1020002ff1b77"),
        (DISCHARGE, True, {CHARGE: True, DISCHARGE: False}, "dd5ae1020000ff1d77"),
        # the other switch keeps its reported state
        (DISCHARGE, False, {CHARGE: False, DISCHARGE: True}, "dd5ae1020003ff1a77"),
    ],
)
def test_jbd_mosfet_writes_match_the_capture(
    switch: str, on: bool, state: dict[str, bool], register_write: str
) -> None:
    requests = get_driver("jbd")().control_requests(switch, on, state)  # type: ignore[arg-type]
    assert [r.hex() for r in requests] == [register_write, "dd5a01020000fffd77"]


def test_jbd_needs_the_reported_state_and_offers_no_balancer() -> None:
    driver = get_driver("jbd")()
    assert driver.control_requests(CHARGE, False) == []
    assert driver.control_requests(CHARGE, False, {CHARGE: True}) == []  # type: ignore[typeddict-item]
    assert driver.control_requests(BALANCER, True, BOTH_ON) == []  # type: ignore[arg-type]
    assert driver.control_switches() == (CHARGE, DISCHARGE)


def test_jbd_reply_accepted_refused_or_missing() -> None:
    driver = get_driver("jbd")()
    request = bytes.fromhex("dd5ae1020001ff1c77")
    assert driver.control_reply(request, [bytes.fromhex("dde100"), bytes.fromhex("00000077")])
    refused = bytes.fromhex("dde18000") + (0x10000 - 0x80).to_bytes(2, "big") + b"\x77"
    assert driver.control_reply(request, [refused]) is False
    assert driver.control_reply(request, [bytes.fromhex("dde100")]) is None
    # a reply to another register does not count, nor one with a bad checksum
    assert driver.control_reply(request, [bytes.fromhex("dd01000000000077")]) is None
    assert driver.control_reply(request, [bytes.fromhex("dde1000000123477")]) is None


@pytest.mark.parametrize(
    ("switch", "on", "frame"),
    [
        (CHARGE, False, "aa5590eb1d0400000000000000000000000000" + "9b"),
        (CHARGE, True, "aa5590eb1d0401000000000000000000000000" + "9c"),
        (DISCHARGE, False, "aa5590eb1e0400000000000000000000000000" + "9c"),
    ],
)
def test_jk_switch_writes(switch: str, on: bool, frame: str) -> None:
    assert [r.hex() for r in get_driver("jk")().control_requests(switch, on)] == [frame]


def test_jk04_boards_offer_no_switch() -> None:
    driver = get_driver("jk")("JK04")
    assert driver.control_switches() == ()
    assert driver.control_requests(CHARGE, True) == []


@pytest.mark.parametrize(("switch", "register"), [(CHARGE, 0xA5), (DISCHARGE, 0xA6)])
@pytest.mark.parametrize("on", [False, True])
def test_daly_switch_writes_and_replies(switch: str, register: int, on: bool) -> None:
    driver = get_driver("daly")()
    (request,) = driver.control_requests(switch, on)
    assert request[:6] == bytes((0xD2, 0x06, 0x00, register, 0x00, int(on)))
    assert request[6:] == crc16_modbus(request[:6]).to_bytes(2, "little")
    assert driver.control_reply(request, [request[:4], request[4:]]) is True
    exception = bytes((0xD2, 0x86, 0x04))
    assert driver.control_reply(request, [exception + crc16_modbus(exception).to_bytes(2, "little")]) is False
    assert driver.control_reply(request, [exception]) is None


def test_daly_charge_on_matches_the_app_snoop() -> None:
    assert get_driver("daly")().control_requests(CHARGE, True)[0].hex() == "d20600a500014b8a"


def test_daly_p81_boards_offer_no_switch() -> None:
    driver = get_driver("daly")("p81")
    assert driver.control_switches() == ()
    assert driver.control_requests(CHARGE, True) == []


def test_families_without_documented_writes_offer_nothing() -> None:
    driver = get_driver("topband")()
    assert driver.control_switches() == ()
    assert driver.control_requests(CHARGE, True) == []


@given(st.lists(st.binary(max_size=40), max_size=6))
def test_control_replies_never_raise(notifications: list[bytes]) -> None:
    for family in ("jbd", "daly", "jk"):
        driver = get_driver(family)()
        for request in driver.control_requests(CHARGE, True, BOTH_ON):  # type: ignore[arg-type]
            assert driver.control_reply(request, notifications) in (True, False, None)
