"""RoyPow driver: requests, module lines between frames, resync and every error branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.roypow import RoyPowDriver, request, xor

VECTOR = next(
    v for v in json.loads(
        (Path(__file__).parents[1] / "fixtures" / "vectors" / "roypow.json").read_text()
    ) if v["id"] == "roypow_2"
)
CELLS, STATUS, SUMMARY = (bytes.fromhex(f) for f in VECTOR["frames"])
LINE = b"AT+STAT\r\n"


def frame(cmd: int, data: bytes) -> bytes:
    body = bytes((len(data) + 4, 0xFF, cmd)) + data
    return b"\xea\xd1\x01" + body + bytes((xor(body), 0xF5))


def edited(original: bytes, pos: int, value: bytes) -> bytes:
    data = bytearray(original[6:-2])
    data[pos - 6 : pos - 6 + len(value)] = value
    return frame(original[5], bytes(data))


def test_requests() -> None:
    assert RoyPowDriver().requests() == [
        bytes.fromhex("ead10104ff02f9f5"), bytes.fromhex("ead10104ff03f8f5"),
        bytes.fromhex("ead10104ff04fff5"),
    ]
    assert request(0x03)[5] == 0x03


def test_response_complete_waits_for_its_frame() -> None:
    driver = RoyPowDriver()
    cells_req, status_req, _ = driver.requests()
    chunks = [LINE] + [STATUS[i : i + 20] for i in range(0, len(STATUS), 20)]
    assert not driver.response_complete(status_req, chunks[:2])
    assert driver.response_complete(status_req, chunks)
    assert not driver.response_complete(cells_req, chunks)
    assert driver.response_complete(None, [CELLS])
    assert not driver.answers(cells_req, b"\xea\xd1\x01\x01\xf5")


def test_module_lines_and_stale_bytes_are_skipped() -> None:
    stream = b"\x01\x02" + LINE + CELLS + LINE + STATUS + LINE + SUMMARY + LINE
    chunks = [stream[i : i + 20] for i in range(0, len(stream), 20)]
    assert decode("roypow", chunks) == decode("roypow", [CELLS, STATUS, SUMMARY])


def test_partial_header_waits() -> None:
    assert RoyPowDriver().frames_in(LINE + b"\xea\xd1") == ([], b"\xea\xd1")
    assert RoyPowDriver().frames_in(b"\xea\xd1\x01") == ([], b"\xea\xd1\x01")


def test_values() -> None:
    sample = decode("roypow", [CELLS, STATUS, SUMMARY])
    assert sample["current"] == -0.35
    assert sample["runtime"] == 255 * 60
    assert sample["design_capacity"] == 105.0
    assert sample["cycle_charge"] == 98.173


def test_runtime_while_charging_is_dropped() -> None:
    charging = edited(STATUS, 6, b"\x32")
    assert "runtime" not in decode("roypow", [CELLS, charging, edited(SUMMARY, 30, b"\xff\xff")])


def test_short_frame_is_rejected() -> None:
    with pytest.raises(FrameError, match="roypow: frame of 4 bytes"):
        decode("roypow", [b"\xea\xd1\x01\x00", STATUS, SUMMARY])


def test_wrong_tail_is_rejected() -> None:
    with pytest.raises(FrameError, match="ends with 0xE5"):
        decode("roypow", [CELLS[:-1] + b"\xe5", STATUS, SUMMARY])


def test_bad_checksum_is_rejected() -> None:
    with pytest.raises(FrameError, match="bad checksum in 0x03"):
        decode("roypow", [CELLS, STATUS[:-2] + b"\x00\xf5", SUMMARY])


def test_unknown_command_is_rejected() -> None:
    with pytest.raises(FrameError, match="unexpected response to command 0x07"):
        decode("roypow", [CELLS, STATUS, SUMMARY, frame(0x07, b"\x00\x00")])


def test_odd_cell_payload_is_rejected() -> None:
    with pytest.raises(FrameError, match="cell payload of 9 bytes"):
        decode("roypow", [frame(0x02, CELLS[6:-2] + b"\x00"), STATUS, SUMMARY])


def test_too_many_probes_are_rejected() -> None:
    with pytest.raises(FrameError, match="40 temperature probes do not fit"):
        decode("roypow", [CELLS, edited(STATUS, 13, b"\x28"), SUMMARY])


def test_short_status_and_summary_are_rejected() -> None:
    with pytest.raises(FrameError, match="chrg_mosfet at byte 24 lies beyond"):
        decode("roypow", [CELLS, frame(0x03, STATUS[6:18]), SUMMARY])
    with pytest.raises(FrameError, match="lies beyond"):
        decode("roypow", [CELLS, STATUS, frame(0x04, SUMMARY[6:30])])


def test_state_of_charge_above_100_is_rejected() -> None:
    with pytest.raises(FrameError, match="state of charge 101"):
        decode("roypow", [CELLS, STATUS, edited(SUMMARY, 7, b"\x65")])


def test_cells_are_required() -> None:
    with pytest.raises(FrameError, match="lacks cell_voltages"):
        decode("roypow", [STATUS, SUMMARY])


@given(word=st.integers(0, 0xFFFFFF), bits=st.sampled_from([0x800001, 0, 0xFFFFFF]))
def test_alarm_word_is_exact(word: int, bits: int) -> None:
    value = word | bits
    code = decode("roypow", [CELLS, edited(STATUS, 9, value.to_bytes(3, "big")), SUMMARY])
    assert code["problem_code"] == value
    assert isinstance(code["problem_code"], int)


def test_matchers() -> None:
    ffe0 = "0000ffe0-0000-1000-8000-00805f9b34fb"
    for name in (" B12100A 220600016 ", " UT1300 BT 2207B00434", " S12200A  LE00006"):
        assert RoyPowDriver.matches(Advertisement(local_name=name, service_uuids=(ffe0,)))
    assert not RoyPowDriver.matches(Advertisement(local_name=" B12100A"))
    assert not RoyPowDriver.matches(Advertisement(local_name="B12100A", service_uuids=(ffe0,)))
