"""NEEY driver: requests, 29-byte notifications, module messages, resync and every error branch."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.base import sum8
from custom_components.ble_battery_solar.protocol.devices.neey import NeeyDriver, command

VECTORS = {
    v["id"]: [bytes.fromhex(f) for f in v["frames"]]
    for v in json.loads((Path(__file__).parents[1] / "fixtures" / "vectors" / "neey.json").read_text())
}
INFO_V1, ACK, CELLS_V1 = VECTORS["neey_1"]
INFO_V2, SETTINGS, CELLS_V2 = VECTORS["neey_2"]


def edited(original: bytes, pos: int, value: bytes) -> bytes:
    data = bytearray(original)
    data[pos : pos + len(value)] = value
    data[-2] = sum8(bytes(data[:-2]))
    return bytes(data)


def test_requests() -> None:
    info, cells = NeeyDriver().requests()
    assert info == bytes.fromhex("aa551101010014") + bytes(11) + bytes.fromhex("26ff")
    assert cells == command(0x02)
    assert len(cells) == 20
    assert cells[-2] == sum8(cells[:-2])


def test_response_complete_at_29_byte_notifications() -> None:
    driver = NeeyDriver()
    info_req, cells_req = driver.requests()
    chunks = [CELLS_V1[i : i + 29] for i in range(0, len(CELLS_V1), 29)]
    assert not driver.response_complete(cells_req, chunks[:-1])
    assert driver.response_complete(cells_req, chunks)
    assert not driver.response_complete(info_req, chunks)
    assert driver.response_complete(None, [INFO_V1])


def test_module_messages_and_stream_remnants_are_skipped() -> None:
    stream = CELLS_V1[-40:] + INFO_V1 + ACK + b"AT\r\n" + CELLS_V1 + bytes(6)
    chunks = [stream[i : i + 29] for i in range(0, len(stream), 29)]
    assert decode("neey", chunks) == decode("neey", [INFO_V1, CELLS_V1])


def test_cut_header_waits() -> None:
    assert NeeyDriver().frames_in(ACK + b"\x55\xaa\x11") == ([], b"\x55\xaa\x11")
    assert NeeyDriver().frames_in(CELLS_V1[:7]) == ([], CELLS_V1[:7])


def test_newest_streamed_cell_frame_wins() -> None:
    newer = edited(CELLS_V1, 201, struct.pack("<f", 53.0))
    assert decode("neey", [INFO_V1, CELLS_V1, newer])["voltage"] == 53.0


def test_protocol_follows_the_model_or_the_variant() -> None:
    # read with the balancer's layout, a BMS v2 frame holds impossible temperatures
    with pytest.raises(FrameError, match=r"neey: temperatures\[1\] .* is outside"):
        decode("neey", [CELLS_V2])
    bms = decode("neey", [CELLS_V2], variant="v2")
    assert bms["current"] == 2.026
    assert decode("neey", [INFO_V2, CELLS_V2]) == {**bms, "model": "EK-B24S8E200A",
                                                   "hw_version": "HW-2.0.0", "sw_version": "SW-2.0.0"}


def test_wrong_tail_is_rejected() -> None:
    with pytest.raises(FrameError, match="neey: 0x02 frame ends with 0x00"):
        decode("neey", [CELLS_V1[:-1] + b"\x00"])


def test_bad_checksum_is_rejected() -> None:
    with pytest.raises(FrameError, match="bad checksum in 0x01 frame"):
        decode("neey", [INFO_V1[:-2] + b"\x00\xff", CELLS_V1])


def test_short_device_info_is_rejected() -> None:
    short = b"\x55\xaa\x11\x01\x01\x00\x0a\x00"
    with pytest.raises(FrameError, match="device info of 10 bytes"):
        decode("neey", [short + bytes((sum8(short), 0xFF)), CELLS_V1])


def test_wrong_cell_frame_length_is_rejected() -> None:
    data = bytearray(CELLS_V1[:-2])
    data[6:8] = (298).to_bytes(2, "little")
    del data[-2:]
    with pytest.raises(FrameError, match="cell frame of 298 bytes"):
        decode("neey", [bytes(data) + bytes((sum8(bytes(data)), 0xFF))])


def test_unknown_frame_type_is_rejected() -> None:
    other = b"\x55\xaa\x11\x01\x07\x00\x0a\x00"
    with pytest.raises(FrameError, match="unexpected frame type 0x07"):
        decode("neey", [other + bytes((sum8(other), 0xFF)), CELLS_V1])


@pytest.mark.parametrize("value", [12.5, -0.1, float("nan")])
def test_impossible_cell_voltage_is_rejected(value: float) -> None:
    with pytest.raises(FrameError, match="cell voltage outside"):
        decode("neey", [edited(CELLS_V1, 9, struct.pack("<f", value))])


@pytest.mark.parametrize("value", [100.5, float("nan")])
def test_impossible_state_of_charge_is_rejected(value: float) -> None:
    with pytest.raises(FrameError, match=r"battery_level .* outside 0-100"):
        decode("neey", [INFO_V2, edited(CELLS_V2, 250, struct.pack("<f", value))])


def test_infinite_value_is_rejected() -> None:
    with pytest.raises(FrameError, match="voltage is not a finite number"):
        decode("neey", [edited(CELLS_V1, 201, struct.pack("<f", float("inf")))])


def test_cells_are_required() -> None:
    with pytest.raises(FrameError, match="lacks voltage, cell_voltages"):
        decode("neey", [INFO_V1, SETTINGS])


@given(state=st.integers(0, 255))
def test_state_byte_is_exact(state: int) -> None:
    sample = decode("neey", [edited(CELLS_V1, 216, bytes((state,)))])
    assert sample["problem_code"] == (state if state in {1, 3, 7, 8, 9, 10, 11} else 0)
    assert isinstance(sample["problem_code"], int)
    assert sample["balancer"] is (state == 5)


def test_matchers() -> None:
    fee7 = "0000fee7-0000-1000-8000-00805f9b34fb"
    ffe0 = "0000ffe0-0000-1000-8000-00805f9b34fb"
    for name in ("GW-24Srenamed1", "EK-16S2EB"):
        assert NeeyDriver.matches(Advertisement(local_name=name, service_uuids=(ffe0, fee7)))
    assert not NeeyDriver.matches(Advertisement(local_name="GW-24S4EB", service_uuids=(ffe0,)))


@given(word=st.integers(0, (1 << 120) - 1), version=st.sampled_from(["v1", "v2"]))
def test_error_bytes_are_exact_above_the_state(word: int, version: str) -> None:
    value = word | 1 | 1 << 119  # bottom and top bit set
    if version == "v1":
        frames = [edited(CELLS_V1, 232, value.to_bytes(15, "little"))]
    else:
        frames = [INFO_V2, edited(CELLS_V2, 269, value.to_bytes(15, "little"))]
    code = decode("neey", frames)["problem_code"]
    assert code == value << 8  # both captures are balancing (state 5): no fault in the low byte
    assert isinstance(code, int)


def test_cell_not_detected_mask_is_no_problem() -> None:
    assert decode("neey", [edited(CELLS_V1, 229, b"\x00\x00\xfe")])["problem_code"] == 0


def test_a_150_byte_settings_frame_marks_protocol_v2() -> None:
    assert len(SETTINGS) == 150
    assert decode("neey", [SETTINGS, CELLS_V2])["current"] == 2.026
