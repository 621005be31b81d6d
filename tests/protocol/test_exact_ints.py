"""Integer fields are exact Python ints: wide alarm words keep every bit through decode().

Each case takes a real capture, writes an arbitrary alarm/protection word into
its field (top and bottom bits included), fixes the frame's checksum, and
checks that decode() returns exactly that word (under the family's documented mask).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import decode
from custom_components.ble_battery_solar.protocol.base import (
    crc16_modbus,
    crc16_xmodem,
    sum8,
    sum16,
)
from custom_components.ble_battery_solar.protocol.devices.epever import (
    charging_faults,
    discharging_faults,
)

from .vectors import VECTORS, frames_of


def _modbus(frame: bytearray) -> None:
    frame[-2:] = crc16_modbus(frame[:-2]).to_bytes(2, "little")


def _sum8(frame: bytearray) -> None:
    frame[-1] = sum8(frame[:-1])


def _jbd(frame: bytearray) -> None:
    frame[-3:-1] = ((0x10000 - sum(frame[2:-3])) & 0xFFFF).to_bytes(2, "big")


def _xmodem(frame: bytearray) -> None:
    frame[-3:-1] = crc16_xmodem(frame[1:-3]).to_bytes(2, "big")


def _none(frame: bytearray) -> None:
    del frame  # TianPower frames carry no checksum


@dataclass(frozen=True)
class Case:
    """Where a family keeps an integer word in one frame of a capture."""

    vector: str
    frame: int
    offset: int
    size: int
    order: Literal["big", "little"]
    fix: Callable[[bytearray], None]
    expect: Callable[[int], int] = lambda word: word


CASES = {
    "daly": Case("daly_2", 0, 3 + 116, 8, "big", _modbus),
    "tianpower": Case("tianpower_1", 1, 11, 8, "big", _none),
    "litime": Case("litime_1", 0, 76, 8, "little", _sum8),
    "eg4": Case("eg4_1", 0, 3 + 52, 6, "big", _modbus),
    "jbd": Case("jbd_2", 0, 4 + 16, 2, "big", _jbd),
    "jk": Case("jk_2", 2, 166, 2, "little", _sum8),
    "seplos_v3": Case("seplos_1", 2, 3 + 1, 9, "big", _modbus,
                      lambda word: word & 0xFFFF00FF00FF0000FF),
    "renogy_battery": Case("renogy_battery_4", 2, 3, 14, "big", _modbus,
                           lambda word: word & ~0x0E),
    "renogy_controller": Case("renogy_controller_2", 0, 3 + 2, 4, "big", _modbus),
    # the Rover's 0x0121 (high half of its fault word) in the 34-register charging block
    "renogy_controller_rover": Case("renogy_controller_1", 2, 3 + 66, 2, "big", _modbus,
                                    lambda word: word << 16),
    "srne": Case("srne_1", 4, 3 + 66, 4, "big", _modbus),
    # battery, charging and discharging status words, operating states removed
    "epever": Case("epever_1", 3, 3, 6, "big", _modbus, lambda word: (
        word >> 32 | charging_faults(word >> 16 & 0xFFFF) << 16
        | discharging_faults(word & 0xFFFF) << 32)),
}


def _family(vector_id: str) -> str:
    return next(v["family"] for v in VECTORS if v["id"] == vector_id)


def _decode_with_word(case: Case, word: int) -> int:
    vector = next(v for v in VECTORS if v["id"] == case.vector)
    frames = [bytearray(f) for f in frames_of(vector)]
    frame = frames[case.frame]
    frame[case.offset : case.offset + case.size] = word.to_bytes(case.size, case.order)
    case.fix(frame)
    sample = decode(vector["family"], [bytes(f) for f in frames])
    code = sample["problem_code"]
    assert type(code) is int
    return code


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_alarm_word_is_exact(name: str, data: st.DataObject) -> None:
    case = CASES[name]
    bits = 8 * case.size
    top_and_bottom = (1 << (bits - 1)) | 1
    word = data.draw(st.integers(0, (1 << bits) - 1)) | data.draw(
        st.sampled_from([0, top_and_bottom, (1 << bits) - 1])
    )
    assert _decode_with_word(case, word) == case.expect(word)


@pytest.mark.parametrize("name", sorted(CASES))
def test_top_and_bottom_bits_survive(name: str) -> None:
    case = CASES[name]
    bits = 8 * case.size
    for word in ((1 << (bits - 1)) | 1, (1 << bits) - 1, 0xFF00FF00FF00FF01 & ((1 << bits) - 1)):
        assert _decode_with_word(case, word) == case.expect(word)


def test_seplos_alarm_word_from_the_issue() -> None:
    # 0xFFFF00FF00FF0000FF lost its low byte when the word went through a float
    assert _decode_with_word(CASES["seplos_v3"], 0xFFFF00FF00FF0000FF) == 0xFFFF00FF00FF0000FF


def test_cases_cover_their_families() -> None:
    assert {_family(c.vector) for c in CASES.values()} >= {
        "daly", "tianpower", "litime", "eg4", "jbd", "jk", "seplos", "renogy_battery",
        "renogy_controller", "srne", "epever",
    }


@given(st.binary(max_size=300))
@example(b"123456789")
def test_crc16_xmodem_is_the_standard_crc(data: bytes) -> None:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
    assert crc16_xmodem(data) == crc & 0xFFFF


def test_crc16_xmodem_known_values() -> None:
    assert crc16_xmodem(b"123456789") == 0x31C3  # the CRC catalogue's check value
    assert crc16_xmodem(b"") == 0
    assert sum16(b"\xff\xff") == 0x1FE


def test_int_field_refuses_a_fractional_scale() -> None:
    from custom_components.ble_battery_solar.protocol.base import Field

    with pytest.raises(ValueError, match="whole-number"):
        Field("cycles", 0, 2, 0.5, kind="int")
    assert Field("cycles", 0, 2, 2, add=-1, kind="int").scale == 2
