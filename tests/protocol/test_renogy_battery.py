"""Renogy battery driver: matchers, variants, requests, response tying and error branches."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
    uuid16,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.renogy_battery import (
    RenogyBatteryDriver,
)

from .vectors import ADVERTISEMENTS, VECTORS

BY_ID = {v["id"]: v for v in VECTORS}
LEGACY = [bytes.fromhex(f) for f in BY_ID["renogy_battery_4"]["frames"]]
RNGPRO = [bytes.fromhex(f) for f in BY_ID["renogy_battery_1"]["frames"]]
PRO = [bytes.fromhex(f) for f in BY_ID["renogy_battery_5"]["frames"]]
HUB = bytes.fromhex(BY_ID["renogy_battery_2"]["frames"][0])


def response(data: bytes, slave: int = 0x30) -> bytes:
    body = bytes((slave, 0x03, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(frame: bytes, offset: int, value: bytes) -> bytes:
    data = bytearray(frame[3:-2])
    data[offset : offset + len(value)] = value
    return response(bytes(data), frame[0])


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "renogy_battery"],
                         ids=lambda a: a["id"])
def test_every_renogy_battery_advertisement_is_renogy_battery_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["renogy_battery"]


def test_no_other_advertisement_and_no_stranger_is_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "renogy_battery":
            assert not RenogyBatteryDriver.matches(Advertisement.from_any(record)), record["id"]
    assert not RenogyBatteryDriver.matches(Advertisement(local_name="BT-TH-1234"))
    assert not RenogyBatteryDriver.matches(Advertisement(local_name="RNGC12"))  # no 0xE14C
    assert RenogyBatteryDriver.matches(Advertisement(local_name="RNGPRO125BAT-1"))
    assert RenogyBatteryDriver.matches(
        Advertisement(local_name="RNGRBP12", manufacturer_data={0xE14C: b"\x00"}))
    assert RenogyBatteryDriver.matches(
        Advertisement(local_name="BT-TH-ABCD", service_uuids=(uuid16(0xFFD0),)))


@pytest.mark.parametrize(("adv", "variant"), [
    (Advertisement(local_name="BT-TH-66EDFC11"), "legacy"),
    (Advertisement(local_name="RNGPRO125BAT-0001"), "rngpro"),
    (Advertisement(local_name="RNGC122BAT28000194"), "pro"),
    (Advertisement(local_name="RNGRBP12100"), "pro"),
    (Advertisement(local_name=None, manufacturer_data={0xE14C: b"\x01"}), "pro"),
    (Advertisement(local_name=None), "legacy"),
])
def test_variant_for_advertisement(adv: Advertisement, variant: str) -> None:
    assert RenogyBatteryDriver.variant_for(adv) == variant


def test_requests_per_variant() -> None:
    assert [r.hex() for r in RenogyBatteryDriver().requests()] == (
        BY_ID["renogy_battery_4"]["requests"])
    assert RenogyBatteryDriver("legacy").requests() == RenogyBatteryDriver().requests()
    for variant in ("pro", "rngpro"):
        assert [r.hex() for r in RenogyBatteryDriver(variant).requests()] == (
            BY_ID["renogy_battery_1"]["requests"])


def test_answers_tie_by_slave_and_byte_count() -> None:
    driver = RenogyBatteryDriver()
    pack, cells, status = driver.requests()
    assert driver.answers(pack, LEGACY[0])
    assert not driver.answers(pack, LEGACY[1])
    assert driver.answers(cells, LEGACY[1])
    assert driver.answers(status, LEGACY[2])
    assert not driver.answers(pack, RNGPRO[0])  # slave 0xFF does not answer slave 0x30
    wrong_slave = bytes.fromhex(BY_ID["renogy_battery_bad_2"]["frames"][0])
    assert not driver.answers(bytes.fromhex(BY_ID["renogy_battery_bad_2"]["requests"][0]),
                              wrong_slave)
    assert driver.response_complete(pack, [LEGACY[0][:10], LEGACY[0][10:]])
    assert not driver.response_complete(pack, [LEGACY[0][:10]])


def test_pro_current_scale_needs_the_variant() -> None:
    # renogy_battery_4 and _5 share slave and layout; only the advertisement says "Pro"
    assert decode("renogy_battery", PRO)["current"] == pytest.approx(-0.12)
    assert decode("renogy_battery", PRO, variant="pro")["current"] == pytest.approx(-1.2)
    assert decode("renogy_battery", LEGACY, variant="legacy")["current"] == pytest.approx(-0.86)


def test_alarm_bits_and_problem_code() -> None:
    legacy = decode("renogy_battery", LEGACY)
    assert legacy["problem_code"] == 0
    alarm = patched(LEGACY[2], 0, b"\x00\x00\x00\x01")
    assert decode("renogy_battery", [LEGACY[0], LEGACY[1], alarm])["problem_code"] == 1 << 80
    assert "problem_code" in decode("renogy_battery", RNGPRO)
    assert "problem_code" not in decode("renogy_battery", RNGPRO, variant="rngpro")
    heater = patched(LEGACY[2], 14, b"\x20")
    assert decode("renogy_battery", [LEGACY[0], LEGACY[1], heater])["heater"] is True


def test_cell_voltage_unit_follows_the_magnitude() -> None:
    millivolts = patched(LEGACY[1], 2, bytes.fromhex("0ce40ce50ce60ce7"))
    sample = decode("renogy_battery", [LEGACY[0], millivolts])
    assert sample["cell_voltages"] == [3.300, 3.301, 3.302, 3.303]
    assert decode("renogy_battery", LEGACY)["cell_voltages"] == [3.5, 3.3, 3.3, 3.3]


def test_hub_pack_status_has_no_cycles() -> None:
    sample = decode("renogy_battery", [HUB])
    assert "cycles" not in sample
    assert sample["design_capacity"] == pytest.approx(49.997)


def test_pack_status_is_required() -> None:
    with pytest.raises(FrameError, match=r"renogy_battery: response to the pack status / pack status \(hub\)"):
        decode("renogy_battery", [LEGACY[1], LEGACY[2]])


@pytest.mark.parametrize(("frame", "offset", "value", "message"), [
    (1, 0, b"\x00\x11", "17 cells reported"),
    (1, 34, b"\x00\x11", "17 temperature sensors"),
    (0, 4, b"\x00\x02\x00\x00", "remaining capacity 131.072 Ah exceeds the rated 100.0 Ah"),
])
def test_impossible_values_are_rejected(frame: int, offset: int, value: bytes,
                                        message: str) -> None:
    frames = list(LEGACY)
    frames[frame] = patched(frames[frame], offset, value)
    with pytest.raises(FrameError, match=f"renogy_battery: {message}"):
        decode("renogy_battery", frames)


def test_framing_errors() -> None:
    with pytest.raises(FrameError, match=r"renogy_battery: (no complete frame|truncated frame)"):
        decode("renogy_battery", [response(LEGACY[0][3:-2], slave=0x40)])
    with pytest.raises(FrameError, match=r"renogy_battery: .*answers no outstanding request"):
        decode("renogy_battery", [LEGACY[1], LEGACY[0]])  # out of poll order
    body = b"\x30\x83\x02"
    with pytest.raises(FrameError, match=r"renogy_battery: Modbus exception 0x02"):
        decode("renogy_battery", [body + crc16_modbus(body).to_bytes(2, "little")])
