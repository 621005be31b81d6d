"""Votronic driver: fixed-size streamed frames of the solar charger and battery computer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.votronic import (
    BATTERY_COMPUTER,
    SOLAR_CHARGER,
    VotronicDriver,
    charging_state,
)

from .vectors import VECTORS

BY_ID = {v["id"]: v for v in VECTORS}
SOLAR = bytes.fromhex(BY_ID["votronic_1"]["frames"][0])
NIGHT = bytes.fromhex(BY_ID["votronic_2"]["frames"][0])
# syssi/esphome-votronic esp32-ble-example-faker.yaml@a57642734735b93e1a6c6b3b940638af48cedd17
# (values in votronic_bluetooth.md's example response) and docs/pdus/ble-battery-controller.txt
FAKER_COMPUTER = bytes.fromhex("e804bf04090160005f009afefff00a5e14540204")
CAPTURED_COMPUTER = bytes.fromhex("0a05bc041401600062005736fff00a5e14540204")


def test_streams_on_the_solar_charger_characteristic_unless_told() -> None:
    assert VotronicDriver().requests() == []
    assert VotronicDriver().notify_uuid == SOLAR_CHARGER
    assert VotronicDriver("battery_computer").notify_uuid == BATTERY_COMPUTER
    assert not VotronicDriver.discoverable


def test_solar_frames_newest_wins_and_stale_bytes_are_skipped() -> None:
    sample = decode("votronic", [SOLAR, NIGHT])
    assert sample["voltage"] == pytest.approx(13.43)
    assert sample["energy_generated_today"] == 440
    assert decode("votronic", [NIGHT[-7:], SOLAR])["pv_power"] == pytest.approx(2.7)
    assert not VotronicDriver().response_complete(None, [SOLAR[:10]])
    assert VotronicDriver().response_complete(None, [SOLAR[:10], SOLAR[10:]])


def test_battery_computer_frames() -> None:
    faker = decode("votronic", [FAKER_COMPUTER], variant="battery_computer")
    assert faker == {**faker, "voltage": 12.56, "starter_voltage": 12.15, "cycle_charge": 265,
                     "battery_level": 95, "current": -0.358, "design_capacity": 280.0}
    assert decode("votronic", [FAKER_COMPUTER]) == faker  # told by the 20-byte length
    captured = decode("votronic", [CAPTURED_COMPUTER, FAKER_COMPUTER], variant="battery_computer")
    assert captured["battery_level"] == 95  # the newest
    assert decode("votronic", [CAPTURED_COMPUTER])["current"] == pytest.approx(-51.625)


@pytest.mark.parametrize(("battery", "controller", "state"), [
    (0x00, 0x09, "standby"), (0x01, 0x08, "bulk"), (0x03, 0x08, "boost"), (0x04, 0x08, "floating"),
    (0x08, 0x08, "storage"), (0x01, 0x18, "current_limiting"), (0x40, 0x08, "unknown"),
])
def test_charging_states(battery: int, controller: int, state: str) -> None:
    assert charging_state(battery, controller) == state
    frame = SOLAR[:8] + bytes((battery,)) + SOLAR[9:12] + bytes((controller,)) + SOLAR[13:]
    assert decode("votronic", [frame])["charging_state"] == state


@given(st.integers(-0x800000, 0x7FFFFF))
def test_battery_current_is_a_signed_24_bit_value(raw: int) -> None:
    frame = FAKER_COMPUTER[:10] + raw.to_bytes(3, "little", signed=True) + FAKER_COMPUTER[13:]
    assert decode("votronic", [frame])["current"] == pytest.approx(raw / 1000)


def test_errors() -> None:
    with pytest.raises(FrameError, match=r"votronic: voltage 655.35 V is above 80 V"):
        decode("votronic", [b"\xff\xff" + SOLAR[2:]])
    with pytest.raises(FrameError, match=r"votronic: pv_voltage 655.35 V"):
        decode("votronic", [SOLAR[:2] + b"\xff\xff" + SOLAR[4:]])
    with pytest.raises(FrameError, match=r"votronic: battery_level 101 %"):
        decode("votronic", [FAKER_COMPUTER[:8] + b"\x65" + FAKER_COMPUTER[9:]])
    with pytest.raises(FrameError, match=r"votronic: (no complete frame|truncated frame)"):
        decode("votronic", [SOLAR[:18]])
