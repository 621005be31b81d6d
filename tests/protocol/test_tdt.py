"""TDT driver: requests, framing at 27-byte notifications, resync and every error branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.tdt import TdtDriver, request

VECTORS = {
    v["id"]: [bytes.fromhex(f) for f in v["frames"]]
    for v in json.loads((Path(__file__).parents[1] / "fixtures" / "vectors" / "tdt.json").read_text())
}
VALUES, STATUS, INFO = VECTORS["tdt_2"]


def frame(cmd: int, data: bytes, *, error: int = 0, version: int = 0) -> bytes:
    body = bytes((0x7E, version, 0x01, 0x03, error, cmd)) + len(data).to_bytes(2, "big") + data
    return body + crc16_modbus(body).to_bytes(2, "big") + b"\x0d"


def edited(original: bytes, pos: int, value: bytes) -> bytes:
    data = bytearray(original[8:-3])
    data[pos : pos + len(value)] = value
    return frame(original[5], bytes(data))


def test_requests() -> None:
    assert TdtDriver().requests() == [bytes.fromhex("7e000103008c000099420d"),
                                      bytes.fromhex("7e000103008d000059130d")]
    assert request(0x92, head=0x1E)[0] == 0x1E


def test_response_complete_at_27_byte_notifications() -> None:
    driver = TdtDriver()
    values_req, status_req = driver.requests()
    chunks = [VALUES[i : i + 27] for i in range(0, len(VALUES), 27)]
    assert not driver.response_complete(values_req, chunks[:-1])
    assert driver.response_complete(values_req, chunks)
    assert not driver.response_complete(status_req, chunks)
    assert driver.response_complete(None, [STATUS])


def test_stale_bytes_before_a_frame_are_skipped() -> None:
    stale = bytes.fromhex("0e2c0003a1de060a03203d31007ddfc5a56f9b9aaf0e19150004001214007e10")
    chunks = [stale + VALUES[:10], VALUES[10:], STATUS]
    assert decode("tdt", chunks) == decode("tdt", [VALUES, STATUS])


def test_short_header_waits() -> None:
    assert TdtDriver().frames_in(VALUES[:5]) == ([], VALUES[:5])
    assert TdtDriver().frames_in(b"\x7e") == ([], b"\x7e")


def test_device_info_is_decoded_and_empty_fields_dropped() -> None:
    sample = decode("tdt", [VALUES, STATUS, INFO])
    assert sample["sw_version"] == "6032_10016S000_L_41"
    assert sample["serial_number"] == "60326016207270001"
    blank = decode("tdt", [VALUES, STATUS, frame(0x92, bytes(60))])
    assert "sw_version" not in blank
    assert "serial_number" not in blank


def test_short_device_info_is_rejected() -> None:
    with pytest.raises(FrameError, match="device info of 1 bytes"):
        decode("tdt", [VALUES, STATUS, frame(0x92, b"\x00")])


def test_wrong_tail_is_rejected() -> None:
    with pytest.raises(FrameError, match="tdt: frame ends with 0x00"):
        decode("tdt", [VALUES[:-1] + b"\x00", STATUS])


def test_bad_crc_is_rejected() -> None:
    with pytest.raises(FrameError, match="bad CRC in 0x8D response"):
        decode("tdt", [VALUES, STATUS[:-2] + b"\x00\x0d"])


def test_error_reply_is_rejected() -> None:
    with pytest.raises(FrameError, match="BMS reported error 0x02 for 0x8C"):
        decode("tdt", [frame(0x8C, b"\x00", error=2), STATUS])


def test_unexpected_command_is_rejected() -> None:
    with pytest.raises(FrameError, match="unexpected response to command 0x95"):
        decode("tdt", [VALUES, STATUS, frame(0x95, b"\x07\xe8")])


def test_cells_beyond_the_payload_are_rejected() -> None:
    with pytest.raises(FrameError, match="40 cells do not fit"):
        decode("tdt", [edited(VALUES, 0, b"\x28"), STATUS])
    with pytest.raises(FrameError, match="0 cells do not fit a 0-byte"):
        decode("tdt", [frame(0x8C, b""), STATUS])


def test_status_beyond_the_payload_is_rejected() -> None:
    with pytest.raises(FrameError, match="status for 60 cells does not fit"):
        decode("tdt", [VALUES, edited(STATUS, 0, b"\x3c")])
    with pytest.raises(FrameError, match="status for 0 cells does not fit a 0-byte"):
        decode("tdt", [VALUES, frame(0x8D, b"")])
    with pytest.raises(FrameError, match=r"chrg_mosfet .* lies beyond"):
        decode("tdt", [VALUES, frame(0x8D, STATUS[8:38])])


def test_probes_beyond_the_payload_are_rejected() -> None:
    with pytest.raises(FrameError, match="lies beyond"):
        decode("tdt", [edited(VALUES, 33, b"\x20"), STATUS])


def test_state_of_charge_above_100_is_rejected() -> None:
    data = VALUES[8:-3]
    with pytest.raises(FrameError, match="state of charge 101"):
        decode("tdt", [edited(VALUES, len(data) - 2, b"\x00\x65"), STATUS])


def test_status_is_required() -> None:
    with pytest.raises(FrameError, match="lacks chrg_mosfet"):
        decode("tdt", [VALUES])


def test_current_sign_and_magnitude() -> None:
    data = VALUES[8:-3]
    at = 1 + 2 * 16 + 1 + 2 * 6
    assert decode("tdt", [edited(VALUES, at, b"\x40\x39"), STATUS])["current"] == 5.7
    assert decode("tdt", [edited(VALUES, at, b"\xff\xff"), STATUS])["current"] == -1638.3
    assert len(data) > at


@given(word=st.integers(0, 0xFFFF), bits=st.sampled_from([0x8001, 0, 0xFFFF]))
def test_protection_word_is_exact(word: int, bits: int) -> None:
    value = word | bits
    at = 1 + 16 + 1 + 6 + 4
    code = decode("tdt", [VALUES, edited(STATUS, at, value.to_bytes(2, "big"))])["problem_code"]
    assert code == value
    assert isinstance(code, int)


def test_matchers() -> None:
    assert TdtDriver.matches(Advertisement(manufacturer_data={54976: bytes.fromhex("3c4fac50ff")}))
    assert not TdtDriver.matches(Advertisement(local_name="TDT"))
