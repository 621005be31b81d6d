"""Pro BMS smart shunt driver: handshake, framing, resync, every error branch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.pro import (
    CMD_HWID,
    CMD_INIT,
    CMD_STREAM,
    CMD_TRIGGER,
    ProDriver,
)

from .vectors import ADVERTISEMENTS, VECTORS, chunked

INIT, DATA = (bytes.fromhex(f) for f in next(v for v in VECTORS if v["id"] == "pro_1")["frames"])


def edited(pos: int, value: bytes, frame: bytes = DATA) -> bytes:
    return frame[:pos] + value + frame[pos + len(value) :]


def test_handshake_requests() -> None:
    assert ProDriver().requests() == [
        bytes.fromhex("55aa0a0101558004077f648e682b"), bytes.fromhex("55aa070101558040000095"),
        bytes.fromhex("55aa070101558042000097"), bytes.fromhex("55aa0901015580430000120084")]


def test_response_complete_per_request_at_20_byte_notifications() -> None:
    driver = ProDriver()
    assert driver.response_complete(CMD_HWID, [])
    assert driver.response_complete(CMD_STREAM, [])
    assert not driver.response_complete(CMD_INIT, [INIT[:5]])
    assert driver.response_complete(CMD_INIT, [INIT[:5], INIT[5:]])
    assert driver.response_complete(CMD_INIT, [DATA])  # already streaming
    chunks = chunked([DATA], 20)
    assert not driver.response_complete(CMD_TRIGGER, chunks[:-1])
    assert not driver.response_complete(CMD_TRIGGER, [INIT])
    assert driver.response_complete(CMD_TRIGGER, chunks)
    assert decode("pro", [INIT, *chunks]) == decode("pro", [INIT, DATA])


def test_stale_bytes_and_the_newest_frame() -> None:
    assert decode("pro", [b"\x00\x55\x12\x55\xaa\x2d" + INIT, DATA]) == decode("pro", [INIT, DATA])
    newer = edited(24, b"\x34")
    assert decode("pro", [INIT, DATA, newer])["battery_level"] == 0x34
    assert ProDriver().frame_length(b"\x55", 0) == 0
    assert ProDriver().frame_length(b"\x55\xaa\x08", 0) == 0
    assert ProDriver().frame_length(b"\x55\xaa\x08\x07", 0) is None


def test_negative_temperature_and_charging() -> None:
    sample = decode("pro", [INIT, edited(15, b"\x00", edited(16, b"\x2d\x00\x01"))])
    assert sample["temperatures"] == [-4.5]
    assert sample["current"] == 2.454
    assert sample["power"] == 32.09


def test_bad_frames_are_rejected() -> None:
    with pytest.raises(FrameError, match="pro: data frame of 49 bytes"):
        decode("pro", [INIT, edited(2, b"\x2c")[:-1]])
    with pytest.raises(FrameError, match="data frame marker 80ab0170"):
        decode("pro", [INIT, edited(5, b"\xab")])
    with pytest.raises(FrameError, match="reserved bytes 19-19 are not zero"):
        decode("pro", [INIT, edited(19, b"\x01")])
    with pytest.raises(FrameError, match="reserved bytes 25-27 are not zero"):
        decode("pro", [INIT, edited(26, b"\x01")])
    with pytest.raises(FrameError, match="info frame lacks its 80 AA marker"):
        decode("pro", [edited(4, b"\x00", INIT), DATA])
    with pytest.raises(FrameError, match="no data frame"):
        decode("pro", [INIT])
    with pytest.raises(FrameError, match="battery_level 101"):
        decode("pro", [INIT, edited(24, b"\x65")])


@given(bits=st.integers(0, 0x7F), discharging=st.booleans())
def test_protection_bits_are_exact(bits: int, discharging: bool) -> None:
    for value in (bits, bits | 0x41):
        flags = value | (0x80 if discharging else 0)
        sample = decode("pro", [INIT, edited(15, bytes((flags,)))])
        assert sample["problem_code"] == value
        assert (sample["current"] < 0) is discharging


def test_matchers_and_advertisements() -> None:
    for adv in (a for a in ADVERTISEMENTS if a["family"] == "pro"):
        assert ProDriver.matches(Advertisement.from_any(adv))
    assert not ProDriver.matches(Advertisement(local_name="Pro BMS"))
    assert not ProDriver.matches(Advertisement(local_name="Pro BMS 2", service_uuids=(ProDriver.service_uuid,)))


def test_simulated_device_answers_the_handshake() -> None:
    device = make_device("pro", "C0:00:00:00:06:30")
    frames = [f for r in ProDriver().requests() for f in device.respond(ProDriver.write_uuid or "", r)]
    sample = decode("pro", chunked(frames, device.mtu - 3))
    assert sample["voltage"] == pytest.approx(device.model.voltage, abs=0.01)
    assert sample["current"] == pytest.approx(device.model.current, abs=0.001)
