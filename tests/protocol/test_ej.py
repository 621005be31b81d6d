"""E&J Technology driver: matchers, requests, ASCII framing and resync, variants, errors."""

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
from custom_components.ble_battery_solar.protocol.devices.ej import (
    CAP_REQUEST,
    RT_REQUEST,
    EjDriver,
    checksum,
)

from .vectors import ADVERTISEMENTS, VECTORS, chunked, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "ej"}
RT = frames_of(VECTOR["ej_1"])[2]
CAP = frames_of(VECTOR["ej_1"])[5]
SINGLE = frames_of(VECTOR["ej_2"])[2]


def data_of(frame: bytes) -> bytearray:
    """The decoded bytes of a frame, checksum excluded."""
    return bytearray(bytes.fromhex(frame[1:-3].decode()))


def framed(data: bytes) -> bytes:
    """An ASCII frame around decoded bytes (length field and checksum redone)."""
    data = bytearray(data)
    data[3:5] = (2 * len(data) + 4).to_bytes(2, "big")
    body = data.hex().upper().encode()
    return b":" + body + b"%02X" % checksum(body) + b"~"


def edited(frame: bytes, changes: dict[int, bytes]) -> bytes:
    data = data_of(frame)
    for offset, value in changes.items():
        data[offset : offset + len(value)] = value
    return framed(bytes(data))


# --- matchers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "ej"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_ej_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["ej"]


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "ej":
            assert not EjDriver.matches(Advertisement.from_any(record)), record["id"]


@pytest.mark.parametrize(
    ("name", "mid", "claimed"),
    [
        ("G-24V100Ah-0001", None, True),  # Chins
        ("G-48V50Ah-12", None, True),
        ("G-1 Bluetooth", None, False),
        ("G-12X", None, False),
        ("LT-12100BG-A00512", 22618, True),  # early LiTime serials carry the E&J BMS
        ("LT-12100BG-A07512", 22618, False),  # later ones speak the LiTime protocol
        ("LT-24100B-A00312", 22618, False),
        ("libattU1234", 21320, True),
        ("libattU1234", 1234, False),
        ("SV12V100", 33384, True),
        ("SV12V100", None, False),
    ],
)
def test_names(name: str, mid: int | None, claimed: bool) -> None:
    adv = Advertisement(local_name=name, manufacturer_data={mid: b"\x01"} if mid else {})
    assert EjDriver.matches(adv) is claimed


def test_variant_for_libatt_modules() -> None:
    assert EjDriver.variant_for(Advertisement(local_name="libattU12E9")) == "nocrc"
    assert EjDriver.variant_for(Advertisement(local_name="LT-12V-1")) is None
    assert EjDriver.variant_for(Advertisement()) is None


# --- requests and framing ----------------------------------------------------------------


def test_requests_are_the_captured_ones() -> None:
    assert RT_REQUEST == b":000250000E03~"
    assert CAP_REQUEST == b":001031000E05~"
    assert EjDriver().requests() == [RT_REQUEST, CAP_REQUEST]


def test_answers() -> None:
    driver = EjDriver()
    assert driver.answers(RT_REQUEST, RT)
    assert not driver.answers(CAP_REQUEST, RT)
    assert driver.answers(CAP_REQUEST, CAP)
    assert driver.answers(None, CAP)


def test_response_complete_over_20_byte_notifications() -> None:
    driver = EjDriver()
    notifications = [b"AT\r\n", *chunked([RT], 20)]
    assert not driver.response_complete(RT_REQUEST, notifications[:-1])
    assert driver.response_complete(RT_REQUEST, notifications)
    assert not driver.single_frame
    assert not driver.response_complete(CAP_REQUEST, [])


def test_single_frame_firmware_is_asked_once_for_capacity() -> None:
    driver = EjDriver()
    assert driver.response_complete(RT_REQUEST, chunked([SINGLE], 20))
    assert driver.single_frame
    assert driver.response_complete(CAP_REQUEST, [])  # never answered, not waited for
    assert driver.requests() == [RT_REQUEST]


def test_resync_after_stale_bytes_and_false_starts() -> None:
    stale = b"AT\r\nillegal" + RT[:40] + b":00zz" + b":009031ZZZZ00" + b":0090310010"
    frames, rest = EjDriver().frames_in(stale + RT + CAP)
    assert (frames, rest) == ([RT, CAP], b"")
    assert decode("ej", [stale, RT, b"AT\r\n", CAP])["cycle_charge"] == 0.2


def test_incomplete_frame_is_the_tail() -> None:
    driver = EjDriver()
    assert driver.frames_in(RT[:10]) == ([], RT[:10])
    assert driver.frames_in(RT + CAP[:-1]) == ([RT], CAP[:-1])
    assert driver.frames_in(b"garbage") == ([], b"")


def test_truncated_response_is_rejected() -> None:
    with pytest.raises(FrameError, match="ej: truncated frame"):
        decode("ej", [RT, CAP[:-1]])


# --- errors ------------------------------------------------------------------------------


def test_bad_checksum_unless_the_module_never_computes_it() -> None:
    bad = SINGLE[:-3] + b"00~"
    with pytest.raises(FrameError, match="ej: bad checksum"):
        decode("ej", [bad])
    sample = decode("ej", [bad], variant="nocrc")
    assert sample["design_capacity"] == 150
    assert sample["cycle_charge"] == 110


def test_non_hex_frame_is_rejected() -> None:
    bad = RT[:20] + b"G" + RT[21:]
    with pytest.raises(FrameError, match="ej: frame holds characters that are not hex"):
        decode("ej", [bad, CAP])


def test_request_echo_and_unknown_command_are_rejected() -> None:
    with pytest.raises(FrameError, match="ej: frame 0x02 is not a response"):
        decode("ej", [RT_REQUEST, RT, CAP])
    with pytest.raises(FrameError, match="ej: unexpected response to command 0x11"):
        decode("ej", [RT, CAP, edited(CAP, {1: b"\x91"})])


def test_short_frames_are_rejected() -> None:
    with pytest.raises(FrameError, match="ej: field cycle_charge at byte 7 lies beyond"):
        decode("ej", [RT, framed(data_of(CAP)[:7])])
    with pytest.raises(FrameError, match="ej: field charge_current at byte 44 lies beyond"):
        decode("ej", [framed(data_of(RT)[:44]), CAP])


def test_empty_cells_and_impossible_soc_are_rejected() -> None:
    with pytest.raises(FrameError, match="ej: no cell voltages"):
        decode("ej", [edited(RT, {12: bytes(32)}), CAP])
    with pytest.raises(FrameError, match="ej: state of charge 101 % is above 100"):
        decode("ej", [edited(RT, {61: b"\x65"}), CAP])


def test_real_time_frame_alone_lacks_the_remaining_charge() -> None:
    with pytest.raises(FrameError, match="ej: response lacks cycle_charge"):
        decode("ej", [RT])


# --- values ------------------------------------------------------------------------------


def test_flags_heater_balancer_and_unset_design_capacity() -> None:
    sample = decode("ej", [edited(SINGLE, {52: b"\x10\x00", 54: b"\x01", 55: b"\x00\x04",
                                           66: b"\x00\x00"})])
    assert sample["dischrg_mosfet"] is True
    assert sample["chrg_mosfet"] is False
    assert sample["heater"] is True
    assert sample["balancer"] is True
    assert "design_capacity" not in sample


def test_current_is_charge_minus_discharge() -> None:
    sample = decode("ej", [edited(RT, {44: b"\x01\x2c\x00\x64"}), CAP])
    assert sample["current"] == 2.0
    assert sample["temperatures"] == [32.0]


def test_gap_in_cells_keeps_the_slot() -> None:
    sample = decode("ej", [edited(RT, {14: b"\x00\x00"}), CAP])
    assert sample["cell_voltages"][:3] == [3.924, 0.0, 3.921]
    assert sample["cell_count"] == 10


@given(st.integers(0, 0xFFFF))
def test_status_word_decodes_exactly(status: int) -> None:
    status |= 0x0804  # the lowest and highest protection bits
    sample = decode("ej", [edited(RT, {52: status.to_bytes(2, "big")}), CAP])
    assert sample["problem_code"] == status & 0x0FFC
    assert sample["problem_code"] & 0x0804 == 0x0804
    assert sample["dischrg_mosfet"] is bool(status & 0x1000)
    assert sample["chrg_mosfet"] is bool(status & 0x2000)
