"""Vatrer driver: matchers, requests, Modbus framing with resync, alarms, errors."""

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
from custom_components.ble_battery_solar.protocol.devices.vatrer import VatrerDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked, frames_of

NUS = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "vatrer"}
STATUS, CELLS, TEMPS = frames_of(VECTOR["vatrer_1"])


def edited(frame: bytes, changes: dict[int, bytes]) -> bytes:
    """A copy of a frame with data bytes (offsets after the byte count) replaced, CRC redone."""
    out = bytearray(frame[:-2])
    for offset, value in changes.items():
        out[3 + offset : 3 + offset + len(value)] = value
    return bytes(out) + crc16_modbus(out).to_bytes(2, "little")


def poll(**frames: bytes) -> list[bytes]:
    return [frames.get("status", STATUS), frames.get("cells", CELLS), frames.get("temps", TEMPS)]


# --- matchers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "vatrer"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_vatrer_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["vatrer"]


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "vatrer":
            assert not VatrerDriver.matches(Advertisement.from_any(record)), record["id"]


@pytest.mark.parametrize(
    ("name", "uuids", "claimed"),
    [
        ("250320512100045", (NUS,), True),
        ("241105128100012", (NUS,), True),  # a 12.8 V battery
        ("250320512100045", (), False),
        ("2503205121000", (NUS,), False),
        ("25x320512100045", (NUS,), False),
        ("191105128100012", (NUS,), False),
    ],
)
def test_names(name: str, uuids: tuple[str, ...], claimed: bool) -> None:
    assert VatrerDriver.matches(Advertisement(local_name=name, service_uuids=uuids)) is claimed


# --- requests and framing ----------------------------------------------------------------


def test_requests() -> None:
    assert [r.hex() for r in VatrerDriver().requests()] == VECTOR["vatrer_1"]["requests"]


def test_response_complete_over_20_byte_notifications() -> None:
    driver = VatrerDriver()
    status_req, cells_req, temps_req = driver.requests()
    chunks = chunked([CELLS], 20)
    assert not driver.response_complete(cells_req, chunks[:-1])
    assert driver.response_complete(cells_req, chunks)
    assert not driver.response_complete(status_req, chunks)
    assert driver.response_complete(temps_req, [TEMPS])


def test_resync_after_stale_bytes() -> None:
    stale = b"\x00\x02\x05\x02\x03\x99\x02" + TEMPS[:1]
    frames, rest = VatrerDriver().frames_in(stale + STATUS + CELLS + TEMPS)
    assert (frames, rest) == ([STATUS, CELLS, TEMPS], b"")
    assert decode("vatrer", [stale, *poll()])["voltage"] == 52.67


@pytest.mark.parametrize("cut", [1, 2, 3, 30])
def test_incomplete_frame_is_the_tail(cut: int) -> None:
    assert VatrerDriver().frames_in(STATUS + CELLS[:cut]) == ([STATUS], CELLS[:cut])


def test_exception_reply_is_a_clear_error() -> None:
    body = b"\x02\x83\x02"
    reply = body + crc16_modbus(body).to_bytes(2, "little")
    assert VatrerDriver().frames_in(reply + TEMPS) == ([reply, TEMPS], b"")
    with pytest.raises(FrameError, match="vatrer: Modbus exception 0x02 in reply to the cells"):
        decode("vatrer", [STATUS, reply, TEMPS])


# --- errors ------------------------------------------------------------------------------


def test_missing_block_and_bad_crc() -> None:
    with pytest.raises(FrameError, match="vatrer: response to the temperatures request is missing"):
        decode("vatrer", [STATUS, CELLS])
    with pytest.raises(FrameError, match="vatrer: bad CRC"):
        decode("vatrer", poll(cells=CELLS[:-1] + b"\x00"))


@pytest.mark.parametrize(("offset", "key"), [(6, "battery_level"), (14, "battery_health")])
def test_percentages_above_100_are_rejected(offset: int, key: str) -> None:
    with pytest.raises(FrameError, match=f"vatrer: {key} 101 % is above 100"):
        decode("vatrer", poll(status=edited(STATUS, {offset: b"\x00\x65"})))


def test_impossible_counts_are_rejected() -> None:
    with pytest.raises(FrameError, match="vatrer: 31 cells reported, at most 30"):
        decode("vatrer", poll(cells=edited(CELLS, {0: b"\x00\x1f"})))
    with pytest.raises(FrameError, match="vatrer: 5 temperature probes reported, at most 4"):
        decode("vatrer", poll(temps=edited(TEMPS, {0: b"\x00\x05"})))


# --- values ------------------------------------------------------------------------------


def test_values_of_the_capture() -> None:
    sample = decode("vatrer", poll())
    assert sample["design_capacity"] == 100.0
    assert sample["temperatures"] == [18, 20, 19, 20, 20, 20]
    assert sample["runtime"] == round(39.7 / 4.96 * 3600)


def test_unset_capacity_is_dropped_and_negative_temperatures_decode() -> None:
    sample = decode("vatrer", poll(status=edited(STATUS, {10: b"\x00\x00"}),
                                   temps=edited(TEMPS, {2: b"\xff\xf6"})))
    assert "design_capacity" not in sample
    assert sample["temperatures"][0] == -10


def test_mosfets_and_balancer() -> None:
    sample = decode("vatrer", poll(temps=edited(TEMPS, {29: b"\x20", 32: b"\x00\x00\x00\x01"})))
    assert sample["chrg_mosfet"] is False
    assert sample["dischrg_mosfet"] is True
    assert sample["balancer"] is True


@given(st.integers(0, (1 << 120) - 1))
def test_alarm_field_decodes_exactly(bits: int) -> None:
    bits |= 1 | 1 << 119  # the field's lowest and highest bits
    sample = decode("vatrer", poll(temps=edited(TEMPS, {14: bits.to_bytes(15, "big")})))
    assert sample["problem_code"] == bits
