"""myVolta driver: byte stuffing, framing at any chunk size, resync, every error branch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from blesim.families.myvolta import can, stuffed
from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.myvolta import (
    PROBLEM_MASK,
    MyVoltaDriver,
    unstuff,
)

from .vectors import ADVERTISEMENTS, VECTORS, chunked

STREAM = bytes.fromhex(next(v for v in VECTORS if v["id"] == "myvolta_1")["frames"][0])
METRICS = can(0x00, bytes.fromhex("01e0c8ff14e0ae03"))


def replaced(old: bytes, new: bytes) -> bytes:
    assert STREAM.count(old) == 1
    return STREAM.replace(old, new)


def test_streaming_device_writes_nothing() -> None:
    driver = MyVoltaDriver()
    assert driver.requests() == []
    assert driver.write_uuid is None


def test_the_capture_frames_like_the_simulator() -> None:
    assert bytes.fromhex("55550100020000000801e0c8ff14e0ae03a80404") == METRICS
    assert METRICS in STREAM


@pytest.mark.parametrize("size", [1, 3, 7, 20, 244])
def test_complete_only_with_every_message_at_any_chunk_size(size: int) -> None:
    driver = MyVoltaDriver()
    chunks = chunked([STREAM], size)
    assert driver.response_complete(None, chunks)
    cut = STREAM.index(b"\x55\x55\x01\x26")
    assert not driver.response_complete(None, chunked([STREAM[:cut]], size))
    assert decode("myvolta", chunks) == decode("myvolta", [STREAM])


def test_stale_bytes_and_a_stream_joined_mid_frame_are_skipped() -> None:
    assert decode("myvolta", [b"\x03\x10\x84\x04\x04\x55" + STREAM]) == decode("myvolta", [STREAM])
    assert decode("myvolta", [STREAM[5:] + STREAM]) == decode("myvolta", [STREAM])


def test_stuffed_bytes_are_restored() -> None:
    data = bytes.fromhex("0405550505040404")
    framed = can(0x24, data)
    assert b"\x05\x04\x05\x05" in framed
    assert unstuff(framed)[7:-1] == data
    # "04 05" and "04 55" also stand for the second byte (the source's parser)
    assert unstuff(b"\x55\x55\x01\x04\x05\x04\x55\x04\x04") == b"\x01\x05\x55"
    cells = replaced(can(0x14, bytes.fromhex("081008100000" "0100")),
                     can(0x14, bytes.fromhex("0410041005100000")))
    assert decode("myvolta", [cells])["cell_voltages"][-3:] == [4.1, 4.1, 4.101]


def test_newest_message_of_a_type_wins() -> None:
    newer = can(0x00, bytes.fromhex("10e0320000" "00e803"))
    sample = decode("myvolta", [STREAM + newer])
    assert (sample["voltage"], sample["current"], sample["battery_level"]) == (57.36, 0.5, 100.0)


def test_other_commands_are_skipped_and_not_a_frame_is_no_header() -> None:
    assert decode("myvolta", [stuffed(b"\x83\x00\x08\x01\x74") + STREAM]) == decode("myvolta", [STREAM])
    driver = MyVoltaDriver()
    assert driver.frame_length(b"\x55\x55\x01\x05\x99", 0) is None  # no escape sequence
    assert driver.frame_length(b"\x55\x55" + b"\x01" * 70, 0) is None  # too long for a frame
    assert driver.frame_length(b"\x55\x55\x01\x05", 0) == 0  # an escape still arriving
    assert driver.frame_length(b"\x55", 0) == 0
    assert driver.frame_length(b"\x55\x01", 0) is None


def test_bad_frames_are_rejected() -> None:
    with pytest.raises(FrameError, match="bad checksum in the frame of message type 0x00"):
        decode("myvolta", [replaced(METRICS, METRICS[:-3] + b"\xff\x04\x04")])
    wrong_pack = bytearray(unstuff(METRICS))
    wrong_pack[2] = 0x03
    wrong_pack[-1] = 0xFF ^ (sum(wrong_pack[1:-1]) & 0xFF)
    with pytest.raises(FrameError, match="not an 8-byte frame of pack 2"):
        decode("myvolta", [replaced(METRICS, stuffed(bytes(wrong_pack)))])
    with pytest.raises(FrameError, match="no message of type 0x01"):
        decode("myvolta", [replaced(can(0x01, bytes.fromhex("03000017000063e0")), b"")])
    with pytest.raises(FrameError, match="truncated"):
        decode("myvolta", [STREAM[:-1]])


@given(word=st.integers(0, (1 << 64) - 1))
def test_fault_flags_are_exact(word: int) -> None:
    value = word | 1 << 39 | 1 << 8
    info = can(0x01, value.to_bytes(8, "little"))
    sample = decode("myvolta", [replaced(can(0x01, bytes.fromhex("03000017000063e0")), info)])
    assert sample["problem_code"] == value & PROBLEM_MASK
    assert sample["problem_code"] & (1 << 39 | 1 << 8) == 1 << 39 | 1 << 8
    assert sample["heater"] is bool(value >> 31 & 1)


def test_matchers_and_advertisements() -> None:
    for adv in (a for a in ADVERTISEMENTS if a["family"] == "myvolta"):
        assert MyVoltaDriver.matches(Advertisement.from_any(adv))
    assert MyVoltaDriver.matches(Advertisement(local_name="VPS-0001"))
    assert not MyVoltaDriver.matches(Advertisement(local_name="VP-0001"))


def test_simulated_device_decodes() -> None:
    device = make_device("myvolta", "E8:EB:1B:F9:19:7C")
    sample = decode("myvolta", chunked(device.stream(), device.mtu - 3))
    assert sample["voltage"] == pytest.approx(device.model.voltage, abs=0.01)
    assert len(sample["cell_voltages"]) == 14
    assert len(sample["temperatures"]) == 12
