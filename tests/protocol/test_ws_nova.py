"""Wattstunde Nova Core driver: prefix matching, the request, hex/XOR framing, resync, error branches."""

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
from custom_components.ble_battery_solar.protocol.devices.ws_nova import WsNovaDriver, decoded

from .vectors import ADVERTISEMENTS, VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
STATUS = bytes.fromhex(BY_ID["ws_nova_1"]["frames"][0])
DATA = decoded(STATUS)


def encode(data: bytes, key: int = 0x5A) -> bytes:
    data = bytearray(data)
    data[3] = 0
    return b":" + bytes(b ^ key for b in data).hex().upper().encode() + b"~"


def patched(offset: int, value: bytes) -> bytes:
    data = bytearray(DATA)
    data[offset : offset + len(value)] = value
    return encode(bytes(data))


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "ws_nova"],
                         ids=lambda a: a["id"])
def test_every_ws_nova_advertisement_is_ws_nova_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["ws_nova"]


@pytest.mark.parametrize(("address", "claimed"), [
    ("60:6E:41:AA:BB:CC", True), ("10-23-81-00-00-01", True), ("60:6E:42:00:00:01", False), (None, False),
])
def test_service_is_claimed_at_the_module_prefixes(address: str | None, claimed: bool) -> None:
    adv = Advertisement(local_name="Anything", service_uuids=(uuid16(0xFFF0),), address=address)
    assert WsNovaDriver.matches(adv) is claimed


def test_request() -> None:
    assert WsNovaDriver().requests() == [b":015150000EFE~"]


def test_any_key_decodes_alike() -> None:
    whole = decode("ws_nova", [STATUS])
    assert decode("ws_nova", [encode(DATA, 0x00)]) == whole
    assert decode("ws_nova", [encode(DATA, 0xFF).lower()]) == whole


def test_chunked_at_the_mtu_and_after_garbage() -> None:
    whole = decode("ws_nova", [STATUS])
    assert decode("ws_nova", chunked([STATUS], 20)) == whole
    assert decode("ws_nova", [b":12AB", STATUS]) == whole
    assert decode("ws_nova", [STATUS[-30:], STATUS]) == whole
    driver = WsNovaDriver()
    request = driver.requests()[0]
    assert driver.response_complete(request, chunked([STATUS], 20))
    assert not driver.response_complete(request, chunked([STATUS[:-1]], 20))
    other = bytearray(DATA)
    other[1] = 0x55
    assert not driver.response_complete(request, [encode(bytes(other))])


def test_other_frame_types_are_ignored_beside_the_status() -> None:
    other = bytearray(DATA)
    other[1] = 0x55
    assert decode("ws_nova", [encode(bytes(other)), STATUS]) == decode("ws_nova", [STATUS])


def test_charging_current_heater_and_absent_serial() -> None:
    charging = decode("ws_nova", [patched(54, (40000).to_bytes(4, "big"))])
    assert charging["current"] == 40.0  # beyond the 15 bits the source reads
    assert decode("ws_nova", [patched(108, b"\x00\x00\x00\x01")])["heater"] is True
    assert "serial_number" not in decode("ws_nova", [patched(91, bytes(16))])


def test_short_status_is_rejected() -> None:
    with pytest.raises(FrameError, match="status frame holds 60 bytes, expected 118"):
        decode("ws_nova", [encode(DATA[:60])])


def test_battery_level_above_100_is_rejected() -> None:
    with pytest.raises(FrameError, match="battery_level 101 % is above 100"):
        decode("ws_nova", [patched(69, b"\x65")])


def test_impossible_cell_is_rejected() -> None:
    with pytest.raises(FrameError, match=r"cell_voltages\[0\]"):
        decode("ws_nova", [patched(12, b"\x27\x10")])


@pytest.mark.parametrize(("frame", "message"), [
    (b":~", "no hex digits"),
    (b":12G4~", "no hex digits"),
    (b":123~", "3 hex digits"),
    (b":1234~", "4 hex digits"),
])
def test_malformed_frames_are_rejected(frame: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=f"ws_nova: .*{message}"):
        decode("ws_nova", [frame])


@given(st.integers(0, 0x0FFF))
def test_alarm_word_is_exact(word: int) -> None:
    word |= 0x0004 | 0x0800
    sample = decode("ws_nova", [patched(44, (0xF000 | word).to_bytes(2, "big"))])
    assert sample["problem_code"] == word & 0x0FFC


def test_no_status_frame_is_rejected() -> None:
    other = bytearray(DATA)
    other[1] = 0x55
    with pytest.raises(FrameError, match=r"ws_nova: no status frame \(type 01 54\)"):
        decode("ws_nova", [encode(bytes(other))])
