"""Buknuwo driver: matchers, requests, probes, framing and every error branch."""

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
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.buknuwo import BuknuwoDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
STATUS, MOSFET, PROBES = (bytes.fromhex(f) for f in BY_ID["buknuwo_1"]["frames"])


def frame(data: bytes, header: bytes = b"\x01\x03") -> bytes:
    body = header + bytes((len(data),)) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(source: bytes, offset: int, value: bytes) -> bytes:
    data = bytearray(source[3:-2])
    data[offset : offset + len(value)] = value
    return frame(bytes(data))


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "buknuwo"],
                         ids=lambda a: a["id"])
def test_every_buknuwo_advertisement_is_buknuwo_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["buknuwo"]


@pytest.mark.parametrize(("name", "claimed"), [
    ("CDZG202512050020000242", True), ("MEY-12100-0001", True), ("MEY-1", False),
    ("BMS-4056911A1100032P", False), ("CDZ", False),
])
def test_names(name: str, claimed: bool) -> None:
    assert BuknuwoDriver.matches(Advertisement(local_name=name)) is claimed


def test_requests() -> None:
    assert [r.hex() for r in BuknuwoDriver().requests()] == BY_ID["buknuwo_1"]["requests"]


def test_chunked_at_the_mtu_and_after_garbage() -> None:
    frames = [STATUS, MOSFET, PROBES]
    whole = decode("buknuwo", frames)
    assert decode("buknuwo", chunked(frames, 20)) == whole
    assert decode("buknuwo", [b"\x01\x03\x1a\x01", *frames]) == whole


def test_probes_are_optional() -> None:
    sample = decode("buknuwo", [STATUS])
    assert "temperatures" not in sample
    assert decode("buknuwo", [STATUS, MOSFET])["temperatures"] == [18.7]
    assert decode("buknuwo", [STATUS, PROBES])["temperatures"] == [19.5]


def test_negative_probe_and_several_probes() -> None:
    data = (3).to_bytes(2, "big") + b"".join(
        t.to_bytes(2, "big", signed=True) for t in (-55, 201, 0)) + bytes(14)
    assert decode("buknuwo", [STATUS, MOSFET, frame(data)])["temperatures"] == [18.7, -5.5, 20.1, 0.0]


def test_switch_register() -> None:
    sample = decode("buknuwo", [patched(STATUS, 22, b"\x08\x00")])
    assert (sample["chrg_mosfet"], sample["dischrg_mosfet"]) == (False, True)


def test_discharging_current() -> None:
    sample = decode("buknuwo", [patched(STATUS, 0, (-250).to_bytes(2, "big", signed=True))])
    assert sample["current"] == -2.5
    assert sample["runtime"] == round(82.78 / 2.5 * 3600)


@pytest.mark.parametrize(
    ("source", "offset", "value", "message"),
    [
        (STATUS, 4, b"\x00\x65", "battery_level 101 % is above 100"),
        (STATUS, 6, b"\x00\xc8", "battery_health 200 % is above 100"),
        (PROBES, 0, b"\x00\x0b", "11 temperature probes reported, at most 10"),
        (PROBES, 2, b"\x07\xd0", r"temperatures\[1\] 200.0"),
    ],
)
def test_impossible_values_are_rejected(source: bytes, offset: int, value: bytes, message: str) -> None:
    frames = [STATUS, MOSFET, PROBES]
    frames[[STATUS, MOSFET, PROBES].index(source)] = patched(source, offset, value)
    with pytest.raises(FrameError, match=message):
        decode("buknuwo", frames)


def test_status_missing_or_exception_is_rejected() -> None:
    with pytest.raises(FrameError, match="buknuwo: response to the status request is missing"):
        decode("buknuwo", [MOSFET, PROBES])
    exception = b"\x01\x83\x02"
    exception += crc16_modbus(exception).to_bytes(2, "little")
    with pytest.raises(FrameError, match="Modbus exception 0x02 in reply to the status request"):
        decode("buknuwo", [exception])


@given(st.integers(0, (1 << 48) - 1))
def test_alarm_word_is_exact(word: int) -> None:
    word |= 1 | (1 << 47)
    sample = decode("buknuwo", [patched(STATUS, 18, word.to_bytes(6, "big"))])
    assert sample["problem_code"] == word & 0xFF3FFF7F007F
