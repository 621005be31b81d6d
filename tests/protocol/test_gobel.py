"""Gobel Power driver: matchers, requests, device information and every error branch."""

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
from custom_components.ble_battery_solar.protocol.devices.gobel import GobelDriver

from .vectors import ADVERTISEMENTS, VECTORS

BY_ID = {v["id"]: v for v in VECTORS}
STATUS, INFO = (bytes.fromhex(f) for f in BY_ID["gobel_1"]["frames"])


def frame(data: bytes, header: bytes = b"\x01\x03") -> bytes:
    body = header + bytes((len(data),)) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(offset: int, value: bytes) -> bytes:
    data = bytearray(STATUS[3:-2])
    data[offset : offset + len(value)] = value
    return frame(bytes(data))


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "gobel"],
                         ids=lambda a: a["id"])
def test_every_gobel_advertisement_is_gobel_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["gobel"]


def test_other_names_are_not_claimed() -> None:
    assert not GobelDriver.matches(Advertisement(local_name="BMS"))
    assert not GobelDriver.matches(Advertisement(local_name="BMS-xyz"))
    assert not GobelDriver.matches(Advertisement(local_name="JBD-BMS-01"))


def test_requests_read_status_and_device_information() -> None:
    assert [r.hex() for r in GobelDriver().requests()] == BY_ID["gobel_1"]["requests"]


def test_device_information() -> None:
    sample = decode("gobel", [STATUS, INFO])
    assert (sample["sw_version"], sample["serial_number"], sample["model"]) == (
        "P4S200A-40569-1.02", "4056911A1100032P", "GP-LA12-31420250618")


def test_device_information_is_optional() -> None:
    sample = decode("gobel", [STATUS])
    assert "serial_number" not in sample
    assert sample["voltage"] == 13.31
    exception = frame(b"", b"\x01\x83")[:3]
    exception = exception[:2] + b"\x02" + crc16_modbus(exception[:2] + b"\x02").to_bytes(2, "little")
    assert "model" not in decode("gobel", [STATUS, exception])
    blank_info = frame(bytes(70))
    assert "serial_number" not in decode("gobel", [STATUS, blank_info])


def test_mosfet_probe_absent_is_left_out() -> None:
    sample = decode("gobel", [patched(114, b"\xff\xff")])
    assert sample["temperatures"] == [20.9]


def test_negative_probe() -> None:
    sample = decode("gobel", [patched(94, (-55).to_bytes(2, "big", signed=True))])
    assert sample["temperatures"][0] == -5.5


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (30, b"\x00\x21", "33 cells reported"),
        (92, b"\x00\x09", "9 temperature probes"),
        (4, b"\x00\x65", "battery_level 101 % is above 100"),
        (6, b"\x00\xc8", "battery_health 200 % is above 100"),
    ],
)
def test_impossible_counts_and_percentages_are_rejected(offset: int, value: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("gobel", [patched(offset, value)])


def test_short_status_block_is_rejected() -> None:
    with pytest.raises(FrameError, match=r"gobel: response .* 20 bytes\) answers no outstanding"):
        decode("gobel", [frame(bytes(20))])


def test_status_exception_is_rejected() -> None:
    body = b"\x01\x83\x02"
    with pytest.raises(FrameError, match="Modbus exception 0x02"):
        decode("gobel", [body + crc16_modbus(body).to_bytes(2, "little")])


@given(st.integers(0, (1 << 48) - 1))
def test_alarm_word_is_exact(word: int) -> None:
    word |= 1 | (1 << 47)
    assert decode("gobel", [patched(16, word.to_bytes(6, "big"))])["problem_code"] == word
