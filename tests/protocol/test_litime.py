"""LiTime / Redodo driver: matchers, request, framing, temperature slots, errors."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import sum8, uuid16
from custom_components.ble_battery_solar.protocol.devices.litime import LiTimeDriver

from .vectors import ADVERTISEMENTS, VECTORS, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "litime"}
STATUS = frames_of(VECTOR["litime_1"])[0]
REQUEST = bytes.fromhex(VECTOR["litime_1"]["requests"][0])


def fixed(frame: bytes, changes: dict[int, bytes]) -> bytes:
    """A copy of a frame with byte ranges replaced and its checksum redone."""
    out = bytearray(frame)
    for offset, value in changes.items():
        out[offset : offset + len(value)] = value
    out[-1] = sum8(out[:-1])
    return bytes(out)


def temps(*values: int) -> dict[int, bytes]:
    return {52: b"".join(v.to_bytes(2, "little", signed=True) for v in values).ljust(10, b"\0")}


def adv(name: str, mid: int = 0x585A) -> Advertisement:
    return Advertisement.from_any(
        {"local_name": name, "service_uuids": [uuid16(0xFFE0)], "manufacturer_data": {mid: "c84780000000"}}
    )


# --- matchers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "litime"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_litime_only(record: dict[str, Any]) -> None:
    families = [d.family for d in drivers_matching(record) if d.discoverable]
    assert families == ["litime"]


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "litime":
            assert not LiTimeDriver.matches(Advertisement.from_any(record)), record["id"]


@pytest.mark.parametrize(
    "name",
    [
        "LT-12100BG-A00512",  # early LiTime 12 V serials: Electronicx/E&J BMS
        "LT-24100B-A00012",
        "L-12V100AH-0001",  # E&J naming
        "LT-12V-12345",
        "S-Bluetooth",
        "Random",
    ],
)
def test_other_names_are_not_claimed(name: str) -> None:
    assert not LiTimeDriver.matches(adv(name))


@pytest.mark.parametrize(
    "name",
    ["LT-12100BG-A07248", "LT-24100B-A00473", "LT-24100B-A01473", "LT-24100B-A11473",
     "LT-51100B-A00001", "PQ-12200BNNA70-A00001", "R-24100B-A00001", "SS-51100BGH-A00001"],
)
def test_litime_names_are_claimed(name: str) -> None:
    assert LiTimeDriver.matches(adv(name))
    assert not LiTimeDriver.matches(adv(name, mid=0x585B))


# --- request, answers, framing -----------------------------------------------------------


def test_status_request() -> None:
    assert LiTimeDriver().requests() == [REQUEST]
    assert REQUEST[-1] == sum8(REQUEST[:-1])


def test_answers_and_response_complete() -> None:
    driver = LiTimeDriver()
    assert driver.answers(REQUEST, STATUS)
    assert driver.answers(None, STATUS)
    assert not driver.answers(bytes.fromhex("000004011455aa18"), STATUS)
    chunks = [STATUS[i : i + 20] for i in range(0, len(STATUS), 20)]
    assert not driver.response_complete(REQUEST, chunks[:-1])
    assert driver.response_complete(REQUEST, chunks)


@pytest.mark.parametrize("cut", [1, 2, 3, 50, len(STATUS) - 1])
def test_incomplete_frame_is_the_tail(cut: int) -> None:
    assert LiTimeDriver().frames_in(STATUS[:cut]) == ([], STATUS[:cut])


def test_two_frames_in_one_stream() -> None:
    newer = fixed(STATUS, {90: (64).to_bytes(2, "little")})
    assert LiTimeDriver().frames_in(STATUS + newer) == ([STATUS, newer], b"")
    assert decode("litime", [STATUS, newer])["battery_level"] == 64


def test_wrong_header_is_rejected() -> None:
    with pytest.raises(FrameError, match=r"litime: (no complete frame|truncated frame)"):
        decode("litime", [b"\x01" + STATUS[1:]])
    # bytes after the frame that cannot start one are skipped
    assert decode("litime", [STATUS, b"\x00\x01"]) == decode("litime", [STATUS])


def test_impossible_length_is_rejected() -> None:
    with pytest.raises(FrameError, match="litime: no complete frame"):
        decode("litime", [b"\x00\x00\x03\x01\x93\x55\xaa"])


def test_frame_too_short_for_the_status_is_rejected() -> None:
    short = b"\x00\x00\x06\x01\x93\x55\xaa\x00\x00"
    short += bytes((sum8(short),))
    with pytest.raises(FrameError, match="litime: field voltage at byte 12 lies beyond"):
        decode("litime", [short])


def test_bad_checksum_and_wrong_command() -> None:
    with pytest.raises(FrameError, match="litime: bad checksum"):
        decode("litime", [STATUS[:-1] + bytes(((STATUS[-1] + 1) & 0xFF,))])
    with pytest.raises(FrameError, match="litime: unexpected response to command 0x14"):
        decode("litime", [fixed(STATUS, {4: b"\x94"})])


@pytest.mark.parametrize(("offset", "key"), [(90, "battery_level"), (92, "battery_health")])
def test_percentages_above_100_are_rejected(offset: int, key: str) -> None:
    with pytest.raises(FrameError, match=f"litime: {key} 101 % is outside 0-100 %"):
        decode("litime", [fixed(STATUS, {offset: (101).to_bytes(2, "little")})])


# --- values ------------------------------------------------------------------------------


def test_values_of_the_capture() -> None:
    sample = decode("litime", [STATUS])
    assert sample["voltage"] == pytest.approx(26.556)
    assert sample["current"] == pytest.approx(-1.435)
    assert sample["design_capacity"] == pytest.approx(105)
    assert sample["temperatures"] == [23.0, 22.0, -2.0]
    assert sample["heater"] is False
    assert sample["runtime"] == round(68.89 / 1.435 * 3600)


def test_temperature_slots_in_use_are_remembered() -> None:
    driver = LiTimeDriver()
    assert driver.decode([fixed(STATUS, temps(0))])["temperatures"] == [0.0]
    assert driver.decode([fixed(STATUS, temps(20, 0, 0, 0, 21))])["temperatures"] == [
        20.0, 0.0, 0.0, 0.0, 21.0
    ]
    # a sensor reading exactly 0 °C later keeps its slot
    assert driver.decode([fixed(STATUS, temps(20, 21, 0, 0, 0))])["temperatures"] == [
        20.0, 21.0, 0.0, 0.0, 0.0
    ]


def test_flags_and_problem_code() -> None:
    sample = decode(
        "litime",
        [fixed(STATUS, {68: b"\x01", 76: (0x0400).to_bytes(8, "little"), 84: b"\x03"})],
    )
    assert sample["heater"] is True
    assert sample["balancer"] is True
    assert sample["problem_code"] == 0x0400
