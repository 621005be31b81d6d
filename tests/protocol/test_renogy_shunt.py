"""Renogy Smart Shunt driver: streamed frames, resynchronisation, range checks, matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.devices.renogy_shunt import RenogyShuntDriver

from .vectors import VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
LIVE = bytes.fromhex(BY_ID["renogy_shunt_1"]["frames"][0])


def patched(offset: int, value: bytes, frame: bytes = LIVE) -> bytes:
    return frame[:offset] + value + frame[offset + len(value) :]


def test_streams_without_requests_and_is_found_by_name() -> None:
    driver = RenogyShuntDriver()
    assert driver.requests() == []
    assert driver.kind == "battery"
    assert [d.family for d in drivers_matching(Advertisement(local_name="RTMShunt300C3D4"))] == [
        "renogy_shunt"
    ]
    assert driver.response_complete(None, chunked([LIVE], 20))
    assert not driver.response_complete(None, chunked([LIVE], 20)[:-1])


def test_chunked_and_with_a_frame_still_arriving() -> None:
    sample = decode("renogy_shunt", chunked([LIVE], 20))
    assert sample["starter_voltage"] == pytest.approx(13.1)
    following = patched(21, (-1500).to_bytes(3, "big", signed=True))
    newest = decode("renogy_shunt", [LIVE, following])
    assert newest["current"] == pytest.approx(-1.5)  # the newest whole frame wins
    assert RenogyShuntDriver().decode([LIVE, following[:30]], live=True) == sample
    with pytest.raises(FrameError, match="renogy_shunt: truncated frame"):
        decode("renogy_shunt", [LIVE, following[:30]])


def test_prefixes_and_history_frames_are_skipped() -> None:
    framed = bytes.fromhex("61d20070") + LIVE
    assert decode("renogy_shunt", [framed])["voltage"] == pytest.approx(13.2)
    history = patched(3, b"\x0b")
    assert decode("renogy_shunt", [history, LIVE])["battery_level"] == pytest.approx(85.4)


def test_temperature_outside_the_probe_range_is_dropped() -> None:
    assert "temperatures" not in decode("renogy_shunt", [patched(66, b"\x7f\xff")])
    assert decode("renogy_shunt", [patched(66, (-155).to_bytes(2, "big", signed=True))])[
        "temperatures"
    ] == [pytest.approx(-15.5)]


@given(st.integers(-500_000, 500_000))
def test_current_is_exact_to_the_milliampere(raw: int) -> None:
    sample = decode("renogy_shunt", [patched(21, raw.to_bytes(3, "big", signed=True))])
    assert sample["current"] == pytest.approx(raw / 1000)


def test_errors() -> None:
    with pytest.raises(FrameError, match=r"renogy_shunt: current 600.0 A is beyond 500 A"):
        decode("renogy_shunt", [patched(21, (600_000).to_bytes(3, "big", signed=True))])
    with pytest.raises(FrameError, match=r"renogy_shunt: voltage 5.0 V"):
        decode("renogy_shunt", [patched(25, (5000).to_bytes(3, "big"))])
    with pytest.raises(FrameError, match=r"renogy_shunt: no complete frame"):
        decode("renogy_shunt", [b"\x42\x57\x01\x0b" + bytes(106)])
    with pytest.raises(FrameError, match=r"renogy_shunt: no data"):
        decode("renogy_shunt", [])
