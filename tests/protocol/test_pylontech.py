"""Pylontech RT driver: matchers, requests, framing, the cell spread and every error branch."""

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
from custom_components.ble_battery_solar.protocol.devices.pylontech import PylontechDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
STATUS, SERIAL = (bytes.fromhex(f) for f in BY_ID["pylontech_1"]["frames"])
BATTERY_SERVICE = uuid16(0x180F)


def frame(data: bytes, header: bytes = b"\x01\x03") -> bytes:
    body = header + bytes((len(data),)) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(offset: int, value: bytes) -> bytes:
    data = bytearray(STATUS[3:-2])
    data[offset : offset + len(value)] = value
    return frame(bytes(data))


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "pylontech"],
                         ids=lambda a: a["id"])
def test_every_pylontech_advertisement_is_pylontech_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["pylontech"]


@pytest.mark.parametrize("name", ["RT12100-710003", "RT12200-000001", "RT24100-1", "RT48100-2", "RT36050-3"])
def test_rt_names_with_the_battery_service_are_claimed(name: str) -> None:
    assert [d.family for d in drivers_matching(
        Advertisement(local_name=name, service_uuids=(BATTERY_SERVICE,)))] == ["pylontech"]


@pytest.mark.parametrize(("name", "services"), [
    ("RT12100-710003", ()),  # the name without the Battery Service
    ("RT-fake", (BATTERY_SERVICE,)),
    ("RT52100-1", (BATTERY_SERVICE,)),
    ("GModule", (BATTERY_SERVICE,)),
])
def test_other_advertisements_are_not_claimed(name: str, services: tuple[str, ...]) -> None:
    assert not PylontechDriver.matches(Advertisement(local_name=name, service_uuids=services))


def test_requests_read_status_and_serial_number() -> None:
    assert [r.hex() for r in PylontechDriver().requests()] == ["01031016000d610b", "0103200000084fcc"]


def test_chunked_at_the_mtu_and_after_garbage() -> None:
    whole = decode("pylontech", [STATUS, SERIAL])
    assert decode("pylontech", chunked([STATUS, SERIAL], 20)) == whole
    assert decode("pylontech", [b"\x01\x03\x1a\x05", STATUS, SERIAL]) == whole


def test_serial_number_is_optional() -> None:
    sample = decode("pylontech", [STATUS])
    assert "serial_number" not in sample
    exception = b"\x01\x83\x02"
    exception += crc16_modbus(exception).to_bytes(2, "little")
    assert "serial_number" not in decode("pylontech", [STATUS, exception])
    unset = frame(bytes(16))
    assert "serial_number" not in decode("pylontech", [STATUS, unset])


def test_charging_current_and_remaining_charge() -> None:
    sample = decode("pylontech", [patched(2, (123).to_bytes(2, "big", signed=True))])
    assert sample["current"] == 12.3
    assert sample["cycle_charge"] == 91.0
    assert "runtime" not in sample


def test_no_cell_list_only_the_spread() -> None:
    sample = decode("pylontech", [STATUS])
    assert "cell_voltages" not in sample
    assert sample["delta_voltage"] == 0.001


def patched_many(*patches: tuple[int, bytes]) -> bytes:
    data = bytearray(STATUS[3:-2])
    for offset, value in patches:
        data[offset : offset + len(value)] = value
    return frame(bytes(data))


@pytest.mark.parametrize(
    ("patches", "message"),
    [
        (((6, b"\x0c\xf1"),), "lowest cell 3.313 V is above the highest 3.312 V"),
        (((4, b"\x17\x70"),), "highest cell voltage 6.0 V is outside 0-5 V"),
        (((4, b"\x00\x00"), (6, b"\x00\x00")), "highest cell voltage 0.0 V"),
        (((12, b"\x00\x65"),), "battery_level 101 % is above 100"),
        (((14, b"\x00\xc8"),), "battery_health 200 % is above 100"),
        (((8, b"\x07\xd0"),), r"temperatures\[0\] 200.0"),
    ],
)
def test_impossible_values_are_rejected(patches: tuple[tuple[int, bytes], ...], message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("pylontech", [patched_many(*patches)])


def test_status_missing_is_rejected() -> None:
    with pytest.raises(FrameError, match="pylontech: response to the status request is missing"):
        decode("pylontech", [SERIAL])


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_integers_are_exact(soc: int, cap: int) -> None:
    soc %= 101
    cap |= 1 | 0x8000
    sample = decode("pylontech", [patched(12, soc.to_bytes(2, "big")), SERIAL])
    assert sample["battery_level"] == soc
    assert type(sample["battery_level"]) is int
    assert decode("pylontech", [patched(24, cap.to_bytes(2, "big"))])["design_capacity"] == round(cap / 10, 1)
