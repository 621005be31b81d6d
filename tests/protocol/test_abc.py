"""ABC-BMS / SOK driver: matchers, requests, fixed-length framing with resync, cells, errors."""

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
from custom_components.ble_battery_solar.protocol.base import uuid16
from custom_components.ble_battery_solar.protocol.devices.abc import AbcDriver, command, crc8

from .vectors import ADVERTISEMENTS, VECTORS, chunked, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "abc"}
MODEL, MAIN, BALANCE, CELLS_1, CELLS_5, _, FETS = frames_of(VECTOR["abc_1"])
ALARMS_LAST = frames_of(VECTOR["abc_3"])[0]
ALARM_REQ, MODEL_REQ, CELLS_REQ, STATUS_REQ = AbcDriver().requests()


def frame(kind: int, data: bytes) -> bytes:
    body = bytes((0xCC, kind)) + data.ljust(17, b"\0")
    return body + bytes((crc8(body),))


def poll(*extra: bytes) -> list[bytes]:
    return [MODEL, MAIN, BALANCE, CELLS_1, CELLS_5, MAIN, FETS, *extra]


# --- matchers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "abc"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_abc_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["abc"]


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "abc":
            assert not AbcDriver.matches(Advertisement.from_any(record)), record["id"]


@pytest.mark.parametrize(
    ("name", "uuid", "claimed"),
    [("ABC-12V100", 0xFFF0, True), ("NB-1234", 0xFFF0, True), ("Hoover", 0xFFF0, True),
     ("SOK-24V1127", 0xFFE0, False), ("Hoover2", 0xFFF0, False)],
)
def test_names(name: str, uuid: int, claimed: bool) -> None:
    adv = Advertisement(local_name=name, service_uuids=(uuid16(uuid),))
    assert AbcDriver.matches(adv) is claimed


# --- requests and framing ----------------------------------------------------------------


def test_requests() -> None:
    assert [r.hex() for r in AbcDriver().requests()] == VECTOR["abc_1"]["requests"]
    assert command(0xC1) == bytes.fromhex("eec1000000ce")


def test_alarm_and_model_requests_are_not_waited_for() -> None:
    driver = AbcDriver()
    assert driver.response_complete(ALARM_REQ, [])
    assert driver.response_complete(MODEL_REQ, [])
    assert not driver.response_complete(STATUS_REQ, [MAIN])
    assert driver.response_complete(STATUS_REQ, chunked([MAIN, FETS], 20))
    assert not driver.response_complete(CELLS_REQ, [MAIN, BALANCE])
    assert driver.response_complete(CELLS_REQ, [MAIN, BALANCE, CELLS_1[:10], CELLS_1[10:]])
    assert driver.answers(None, MAIN)


def test_resync_after_stale_bytes() -> None:
    stale = b"\x00\xcc\x12\xcc" + MAIN[1:5]
    frames, rest = AbcDriver().frames_in(stale + MAIN + FETS)
    assert frames == [MAIN, FETS]
    assert rest == b""
    assert decode("abc", [stale, *poll()])["voltage"] == 27.554


def test_incomplete_frame_is_the_tail() -> None:
    assert AbcDriver().frames_in(MAIN + FETS[:7]) == ([MAIN], FETS[:7])
    with pytest.raises(FrameError, match="abc: truncated frame"):
        decode("abc", [*poll(), FETS[:7]])


# --- errors ------------------------------------------------------------------------------


def test_bad_checksum() -> None:
    with pytest.raises(FrameError, match="abc: bad checksum in frame 0xF2"):
        decode("abc", [*poll()[:-1], FETS[:-1] + b"\x00"])


def test_impossible_values_are_rejected() -> None:
    too_full = frame(0xF0, MAIN[2:16] + b"\x65")
    with pytest.raises(FrameError, match="abc: state of charge 101 % is above 100"):
        decode("abc", [*poll(), too_full])
    with pytest.raises(FrameError, match="abc: 8 temperature probes do not fit"):
        decode("abc", [*poll(), frame(0xF2, b"\x01\x01\x08")])
    with pytest.raises(FrameError, match="abc: cell voltages of 4 of 8 cells missing"):
        decode("abc", [MODEL, MAIN, BALANCE, CELLS_5, FETS])


def test_main_frame_is_required() -> None:
    with pytest.raises(FrameError, match="abc: response lacks voltage"):
        decode("abc", [FETS, CELLS_1])
    with pytest.raises(FrameError, match="abc: response lacks cell_voltages"):
        decode("abc", [MAIN, FETS])


# --- values ------------------------------------------------------------------------------


def test_model_settings_frames_and_empty_cell_slots() -> None:
    settings = frame(0xF5, b"\x42\x0e")
    # a one-cell pack: its voltage is that cell's (the plausibility rule compares them)
    one_cell = frame(0xF0, (3442).to_bytes(3, "little") + MAIN[5:19])
    sample = decode("abc", [MODEL, one_cell, BALANCE, frame(0xF4, b"\x01\x72\x0d\x00\x00\x00\x00\x00"),
                            settings, FETS])
    assert sample["model"] == "SOK-BMS"
    assert sample["cell_voltages"] == [3.442]


def test_alarm_flags_and_negative_current() -> None:
    charging = frame(0xF0, MAIN[2:5] + (-1500).to_bytes(3, "little", signed=True) + MAIN[8:19])
    sample = decode("abc", [ALARMS_LAST, *poll(), charging])
    assert sample["problem_code"] == 0x8000
    assert sample["current"] == -1.5


def test_heater_balancer_and_probes() -> None:
    sample = decode("abc", [*poll(), frame(0xF3, bytes(6) + b"\x01\x00\x01"),
                            frame(0xF2, b"\x00\x01\x02\xf6\xff\x15\x00")])
    assert sample["heater"] is True
    assert sample["balancer"] is True
    assert sample["chrg_mosfet"] is False
    assert sample["temperatures"] == [-10.0, 21.0]


@given(st.integers(0, 0xFFFF))
def test_protection_flags_decode_exactly(bits: int) -> None:
    bits |= 0x8001  # the first and last flag
    flags = bytes(((bits >> i) & 1) | 0x68 for i in range(16))
    sample = decode("abc", [frame(0xF9, flags), *poll()])
    assert sample["problem_code"] == bits
