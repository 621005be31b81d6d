"""PACEEX driver: requests, framing and resynchronisation, the pack-level block, every error branch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.pace import PaceDriver, command

from .vectors import VECTORS, chunked

VECTOR = next(v for v in VECTORS if v["id"] == "pace_1")
SYSTEM, PACK, CELLS, SERIAL = (bytes.fromhex(f) for f in VECTOR["frames"])
VERSION = bytes.fromhex(next(v for v in VECTORS if v["id"] == "pace_2")["frames"][0])


def frame(kind: bytes, data: bytes) -> bytes:
    body = b"\x9a" + kind + bytes((len(data),)) + data
    return body + crc16_modbus(body).to_bytes(2, "big") + b"\x9d"


def with_data(original: bytes, data: bytes) -> bytes:
    return frame(original[1:7], data)


def test_requests_match_the_captured_ones() -> None:
    assert [r.hex() for r in PaceDriver().requests()] == VECTOR["requests"]
    assert command(0x00, 0x01) == bytes.fromhex("9a00000001000000e4c89d")


def test_response_complete_waits_for_the_frame_of_its_request() -> None:
    driver = PaceDriver()
    _system_req, pack_req, cells_req, _serial = driver.requests()
    chunks = chunked([CELLS], 20)
    assert not driver.response_complete(cells_req, chunks[:-1])
    assert driver.response_complete(cells_req, chunks)
    assert not driver.response_complete(pack_req, chunks)
    assert driver.response_complete(None, [SYSTEM])
    assert driver.frames_in(SYSTEM[:7]) == ([], SYSTEM[:7])


def test_stale_bytes_before_a_frame_are_skipped() -> None:
    whole = decode("pace", [SYSTEM, PACK, CELLS, SERIAL])
    assert decode("pace", [b"\x9d\x9a\x01\x00" + SYSTEM, PACK, CELLS, SERIAL]) == whole
    assert decode("pace", chunked([SYSTEM, PACK, CELLS, SERIAL], 20)) == whole


def test_the_pack_level_block_adds_mosfet_and_ambient_probes() -> None:
    without = decode("pace", [SYSTEM, CELLS])
    assert without["temperatures"] == [22.2, 22.4, 22.7, 22.4]
    assert decode("pace", [SYSTEM, PACK, CELLS])["temperatures"] == [22.2, 22.4, 22.7, 22.4,
                                                                      23.2, 24.1]
    assert "temperatures" not in decode("pace", [SYSTEM])


def test_probes_reading_zero_are_absent() -> None:
    pack = bytearray(PACK[8:-3])
    pack[33:35] = bytes(2)
    assert decode("pace", [SYSTEM, with_data(PACK, bytes(pack))])["temperatures"] == [24.1]


def test_a_pack_that_is_not_the_master_reports_its_pack_values() -> None:
    master = decode("pace", [SYSTEM, PACK, CELLS])
    assert (master["current"], master["voltage"]) == (-4.23, 53.01)
    single = decode("pace", [_system(0, 0), PACK, CELLS])
    assert (single["current"], single["voltage"], single["cycle_charge"]) == (-3.84, 53.02, 74.23)
    assert (single["design_capacity"], single["battery_level"], single["cycles"]) == (100.0, 74, 239)
    pack = bytearray(PACK[8:-3])
    pack[12] = 101
    with pytest.raises(FrameError, match="battery_health 101 % is above 100"):
        decode("pace", [SYSTEM, with_data(PACK, bytes(pack))])


def test_versions_are_decoded_when_present() -> None:
    sample = decode("pace", [SYSTEM, SERIAL, VERSION])
    assert (sample["serial_number"], sample["sw_version"], sample["hw_version"]) == (
        "123456789012Z", "P16S100A-31916-1.06", "21939V140")


def test_zero_design_capacity_is_not_shown() -> None:
    data = bytearray(SYSTEM[8:-3])
    data[13:17] = bytes(4)
    assert "design_capacity" not in decode("pace", [with_data(SYSTEM, bytes(data))])


@given(system=st.integers(0, (1 << 64) - 1), pack=st.integers(0, (1 << 64) - 1))
def test_alarm_fields_decode_exactly(system: int, pack: int) -> None:
    sys_data, pack_data = bytearray(SYSTEM[8:-3]), bytearray(PACK[8:-3])
    sys_data[27:35] = system.to_bytes(8, "big")
    pack_data[15:23] = pack.to_bytes(8, "big")
    code = decode("pace", [with_data(SYSTEM, bytes(sys_data)), with_data(PACK, bytes(pack_data))])
    assert code["problem_code"] == system | pack


def test_top_and_bottom_alarm_bits() -> None:
    data = bytearray(SYSTEM[8:-3])
    data[27:35] = (1 << 63 | 1).to_bytes(8, "big")
    assert decode("pace", [with_data(SYSTEM, bytes(data))])["problem_code"] == 1 << 63 | 1


def _system(offset: int, value: int) -> bytes:
    data = bytearray(SYSTEM[8:-3])
    data[offset] = value
    return with_data(SYSTEM, bytes(data))


@pytest.mark.parametrize(("frames", "message"), [
    ([SYSTEM[:-3] + b"\x00\x00\x9d"], "bad CRC in block 0A/00"),
    ([SYSTEM[:-1] + b"\x00"], "frame ends with 0x00, expected 0x9D"),
    ([_system(21, 101)], "battery_level 101 % is above 100"),
    ([_system(22, 101)], "battery_health 101 % is above 100"),
    ([with_data(SYSTEM, SYSTEM[8:30])], "lies beyond"),
    ([SYSTEM, with_data(CELLS, CELLS[8:11])], "cell block of 3 bytes"),
    ([SYSTEM, with_data(CELLS, CELLS[8:11] + b"\x21")], "33 cells do not fit"),
    ([SYSTEM, with_data(CELLS, CELLS[8:-10])], "16 cells do not fit"),
    ([SYSTEM, with_data(PACK, PACK[8:41] + b"\xff\xff" + PACK[43:-3])], "temperatures: 6280.4 °C is impossible"),
    ([SYSTEM, with_data(SERIAL, b"\x0e" + SERIAL[9:-3])], "text field at byte 0 overruns"),
    ([SYSTEM, with_data(SERIAL, b"")], "text field at byte 0 overruns"),
    ([CELLS], "lacks voltage, current, battery_level"),
])
def test_malformed_input_is_rejected(frames: list[bytes], message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("pace", frames)


def test_matchers() -> None:
    assert PaceDriver.matches(Advertisement(local_name="PC-9662"))
    assert not PaceDriver.matches(Advertisement(local_name="PC9662"))
    assert not PaceDriver.matches(Advertisement(local_name="PC-9662", connectable=False))


def test_integer_fields_stay_exact_above_two_to_the_53() -> None:
    from custom_components.ble_battery_solar.protocol.base import Field, read_fields

    data = (1 << 63 | 1).to_bytes(8, "big") + b"\x07"
    values = read_fields("pace", data, (Field("word", 0, 8, kind="int"),
                                        Field("tens", 8, 1, 10, kind="int")))
    assert values == {"word": 1 << 63 | 1, "tens": 70}
