"""Saihang driver: service matching, the request, framing, resync and every error branch."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
    uuid16,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.saihang import SaihangDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
STATUS = bytes.fromhex(BY_ID["saihang_1"]["frames"][0])


def frame(body: bytes) -> bytes:
    return b"\xa5\xa5" + body + crc16_modbus(body).to_bytes(2, "little")


def patched(offset: int, value: bytes) -> bytes:
    """The captured status frame with data bytes replaced, CRC fixed."""
    data = bytearray(STATUS[5:-2])
    data[offset : offset + len(value)] = value
    return frame(STATUS[2:5] + bytes(data))


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "saihang"],
                         ids=lambda a: a["id"])
def test_every_saihang_advertisement_is_saihang_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["saihang"]


def test_any_name_with_the_service_is_claimed() -> None:
    assert SaihangDriver.matches(Advertisement(local_name="ANINEREL-12", service_uuids=(uuid16(0xFFFA),)))
    assert not SaihangDriver.matches(Advertisement(local_name="SH24100-H-00069"))


def test_request_is_a_wrapped_modbus_read() -> None:
    assert SaihangDriver().requests() == [bytes.fromhex("a5a5000300000048442d")]
    assert BY_ID["saihang_1"]["requests"] == ["a5a5000300000048442d"]


def test_chunked_at_the_mtu_and_after_garbage() -> None:
    whole = decode("saihang", [STATUS])
    assert decode("saihang", chunked([STATUS], 20)) == whole
    assert decode("saihang", [b"\xa5\xa5\x00\x03", b"\xa5\x00", STATUS]) == whole
    driver = SaihangDriver()
    assert driver.response_complete(driver.requests()[0], chunked([STATUS], 20))
    for cut in (1, 2, 3, 4, 100):
        assert not driver.response_complete(driver.requests()[0], [STATUS[:cut]])


def test_other_slave_ids_are_accepted() -> None:
    other = frame(b"\x01" + STATUS[3:-2])
    assert decode("saihang", [other]) == decode("saihang", [STATUS])


def test_alarm_word_is_active_low() -> None:
    assert decode("saihang", [patched(26, b"\xff\xfe")])["problem_code"] == 1
    assert decode("saihang", [patched(26, b"\x00\x00")])["problem_code"] == 0xFFFF


def test_switch_and_balancer_bits() -> None:
    sample = decode("saihang", [patched(32, b"\x02\x00")])
    assert (sample["chrg_mosfet"], sample["dischrg_mosfet"]) == (True, False)
    assert decode("saihang", [patched(36, b"\x00\x05")])["balancer"] is True


def test_charging_current_and_unfitted_probes() -> None:
    sample = decode("saihang", [patched(0, (1234).to_bytes(4, "big", signed=True))])
    assert sample["current"] == 12.34
    discharging = decode("saihang", [patched(0, (-428).to_bytes(4, "big", signed=True))])
    assert discharging["current"] == -4.28
    no_extra = decode("saihang", [patched(102, b"\xff\xff\x00\x00")])
    assert no_extra["temperatures"] == [15.3, 15.6]


def test_exception_reply_is_rejected() -> None:
    with pytest.raises(FrameError, match="saihang: Modbus exception 0x02 in reply to the status read"):
        decode("saihang", [frame(b"\x00\x83\x02")])


def test_short_block_is_rejected() -> None:
    with pytest.raises(FrameError, match="status response holds 40 data bytes, expected 144"):
        decode("saihang", [frame(b"\x00\x03\x28" + bytes(40))])


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (38, b"\x00\x15", "21 cells reported, at most 20"),
        (80, b"\x00\x0b", "11 temperature probes reported, at most 10"),
        (8, b"\x00\x65", "battery_level 101 % is above 100"),
        (10, b"\x00\xc8", "battery_health 200 % is above 100"),
        (40, b"\xff\xff", r"cell_voltages\[0\]"),
        (82, b"\x00\x00", r"temperatures\[0\]"),
    ],
)
def test_impossible_values_are_rejected(offset: int, value: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("saihang", [patched(offset, value)])


@given(st.integers(0, 0xFFFF))
def test_alarm_word_is_exact(word: int) -> None:
    word |= 1 | 0x8000
    raw = (~word & 0xFFFF).to_bytes(2, "big")
    assert decode("saihang", [patched(26, raw)])["problem_code"] == word


def test_bad_crc_is_rejected() -> None:
    broken = STATUS[:-1] + bytes((STATUS[-1] ^ 0x01,))
    with pytest.raises(FrameError, match="saihang: bad CRC in response of slave 0x00"):
        decode("saihang", [broken])
