"""Modbus RTU framing shared by the Daly, Renogy, Seplos V3 and EG4 drivers."""

from __future__ import annotations

import pytest

from custom_components.ble_battery_solar.protocol import FrameError
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.modbus import (
    Block,
    ModbusDriver,
    answers,
    assign,
    block_for_request,
    crc_ok,
    is_exception,
    payload,
    read_request,
    split,
)


def frame(body: bytes) -> bytes:
    return body + crc16_modbus(body).to_bytes(2, "little")


HOLDING = Block("holding", 0x01, 0x03, 0x0000, 2)
COILS = Block("coils", 0x00, 0x01, 0x2200, 0x50)
RESPONSE = frame(b"\x01\x03\x04\x00\x01\x00\x02")
EXCEPTION = frame(b"\x01\x83\x02")


def test_read_request_matches_a_known_frame() -> None:
    assert read_request(0x01, 0x03, 0x0000, 0x27).hex() == "01030000002705d0"
    assert HOLDING.request == read_request(0x01, 0x03, 0, 2)


def test_byte_count_of_registers_and_coils() -> None:
    assert HOLDING.byte_count == 4
    assert COILS.byte_count == 10
    assert Block("inputs", 0, 0x02, 0, 9).byte_count == 2


def test_crc_payload_and_exception() -> None:
    assert crc_ok(RESPONSE)
    assert not crc_ok(RESPONSE[:-1] + bytes([RESPONSE[-1] ^ 1]))
    assert not crc_ok(b"\x01\x02")
    assert payload(RESPONSE) == b"\x00\x01\x00\x02"
    assert is_exception(EXCEPTION)
    assert not is_exception(RESPONSE)


class _Fam(ModbusDriver):
    """A minimal Modbus family: slave 0x01, function 0x03."""

    family = "fam"
    service_uuid = "x"
    slaves = frozenset({0x01})

    def poll(self) -> list[Block]:
        return [HOLDING]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> dict:
        return {"voltage": float(self.require(tied, HOLDING.name)[1])}


def test_split_whole_frames_exceptions_and_tail() -> None:
    frames, rest = _Fam().frames_in(RESPONSE + EXCEPTION + RESPONSE[:4])
    assert frames == [RESPONSE, EXCEPTION]
    assert rest == RESPONSE[:4]
    assert _Fam().frames_in(RESPONSE[:2]) == ([], RESPONSE[:2])
    assert _Fam().frames_in(RESPONSE[:1]) == ([], RESPONSE[:1])
    assert _Fam().frames_in(EXCEPTION[:4]) == ([], EXCEPTION[:4])


def test_split_skips_foreign_slave_and_function() -> None:
    assert _Fam().frames_in(b"\x02\x03" + RESPONSE) == ([RESPONSE], b"")
    assert _Fam().frames_in(b"\x01\x06\x00\x00" + RESPONSE) == ([RESPONSE], b"")
    with pytest.raises(FrameError, match="fam: no complete frame"):
        _Fam().decode([b"\x02" + RESPONSE[1:]])
    with pytest.raises(FrameError, match="fam: bad CRC in response of slave 0x01"):
        _Fam().decode([RESPONSE[:-1] + bytes([RESPONSE[-1] ^ 1])])
    assert _Fam().decode([b"\x00\x00" + RESPONSE + b"\x00"])["voltage"] == 1.0


def test_block_answered_by() -> None:
    assert HOLDING.answered_by(RESPONSE)
    assert HOLDING.answered_by(EXCEPTION)
    assert not HOLDING.answered_by(frame(b"\x01\x03\x02\x00\x01"))  # wrong byte count
    assert not HOLDING.answered_by(frame(b"\x02\x03\x04\x00\x01\x00\x02"))  # other slave
    assert not HOLDING.answered_by(frame(b"\x01\x04\x04\x00\x01\x00\x02"))  # other function
    assert not HOLDING.answered_by(b"\x01\x03")


def test_answers_ties_by_request() -> None:
    assert answers(None, RESPONSE)
    assert answers(HOLDING.request, RESPONSE)
    assert not answers(read_request(0x01, 0x03, 0, 3), RESPONSE)
    assert not answers(b"\x7e\x10\x00", RESPONSE)  # not a Modbus read request
    assert block_for_request(HOLDING.request) == Block("request", 1, 3, 0, 2)
    assert block_for_request(HOLDING.request[:-1] + b"\x00") is None  # bad CRC
    assert block_for_request(frame(b"\x01\x06\x00\x00\x00\x01")) is None  # a write


def test_assign_in_poll_order() -> None:
    first = Block("a", 0x01, 0x03, 0x0000, 1)
    second = Block("b", 0x01, 0x03, 0x0010, 1)
    one, two = frame(b"\x01\x03\x02\x00\x01"), frame(b"\x01\x03\x02\x00\x02")
    assert assign("fam", [one, two], [first, second]) == [(first, one), (second, two)]
    assert assign("fam", [two], [first, second]) == [(first, two)]
    with pytest.raises(FrameError, match=r"answers no outstanding request"):
        assign("fam", [one, two, one], [first, second])


def test_assign_checks_crc() -> None:
    with pytest.raises(FrameError, match=r"fam: bad CRC"):
        assign("fam", [RESPONSE[:-1] + b"\x00"], [HOLDING])


def test_strict_split_refuses_stray_bytes() -> None:
    assert split("fam", RESPONSE + EXCEPTION + RESPONSE[:4], {0x01}, {0x03}) == (
        [RESPONSE, EXCEPTION], RESPONSE[:4])
    assert split("fam", RESPONSE[:2], {0x01}, {0x03}) == ([], RESPONSE[:2])
    assert split("fam", RESPONSE, {0x01}, {0x03}) == ([RESPONSE], b"")
    with pytest.raises(FrameError, match=r"fam: .*slave id 0x02"):
        split("fam", b"\x02" + RESPONSE[1:], {0x01}, {0x03})
    with pytest.raises(FrameError, match=r"fam: .*function code 0x06"):
        split("fam", b"\x01\x06\x00\x00", {0x01}, {0x03})
