"""Greenway driver: address-prefix matching, requests, framing, resync and every error branch."""

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
    uuid16,
)
from custom_components.ble_battery_solar.protocol.base import sum8
from custom_components.ble_battery_solar.protocol.devices.greenway import GreenwayDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
POLL = [bytes.fromhex(f) for f in BY_ID["greenway_1"]["frames"]]
BY_TYPE = {f[3]: f for f in POLL}


def frame(message: int, data: bytes) -> bytes:
    body = b"\x47\x16\x01" + bytes((message, len(data))) + data
    return body + bytes((sum(body) & 0xFF,))


def replaced(message: int, data: bytes) -> list[bytes]:
    return [frame(message, data) if f[3] == message else f for f in POLL]


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "greenway"],
                         ids=lambda a: a["id"])
def test_every_greenway_advertisement_is_greenway_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["greenway"]


@pytest.mark.parametrize("address", ["C4:A9:B8:01:02:03", "c4-a9-b8-00-00-01"])
def test_service_at_the_vendor_prefix_is_claimed(address: str) -> None:
    assert GreenwayDriver.matches(Advertisement(service_uuids=(uuid16(0xFFF0),), address=address))


@pytest.mark.parametrize("address", ["C4:A9:B9:01:02:03", None])
def test_service_elsewhere_is_not_claimed(address: str | None) -> None:
    assert not GreenwayDriver.matches(Advertisement(service_uuids=(uuid16(0xFFF0),), address=address))


def test_prefix_without_the_service_is_not_claimed() -> None:
    assert not GreenwayDriver.matches(Advertisement(local_name="56C0", address="C4:A9:B8:00:00:01"))


def test_requests_carry_type_length_and_checksum() -> None:
    requests = GreenwayDriver().requests()
    assert [r.hex() for r in requests] == BY_ID["greenway_1"]["requests"]
    assert requests[0] == bytes.fromhex("46160109046a")
    assert all(r[-1] == sum8(r[:-1]) for r in requests)


def test_each_response_answers_its_own_request() -> None:
    driver = GreenwayDriver()
    for request, response in zip(driver.requests(), POLL, strict=True):
        assert driver.response_complete(request, [response[:5], response[5:]])
        assert not driver.response_complete(request, [response[:-1]])
        assert not driver.response_complete(request, [response[:4]])
    assert not driver.answers(driver.requests()[0], BY_TYPE[0x0A])
    assert driver.answers(None, BY_TYPE[0x0A])


def test_poll_decodes_chunked_at_the_mtu() -> None:
    assert decode("greenway", chunked(POLL, 20)) == decode("greenway", POLL)


def test_garbage_before_a_frame_is_skipped() -> None:
    sample = decode("greenway", [b"\x00\x47\x16\x33" + POLL[0], *POLL[1:]])
    assert sample["voltage"] == 80.252


def test_negative_current_and_probe() -> None:
    sample = decode("greenway", replaced(0x0A, (-2500).to_bytes(4, "little", signed=True)))
    assert sample["current"] == -2.5
    probes = bytes((0xF6, 20, 20, 20, 20, 20, 20)).ljust(32, b"\x00")
    assert decode("greenway", replaced(0x08, probes))["temperatures"][0] == -10


def test_only_voltage_and_current_are_required() -> None:
    sample = decode("greenway", [BY_TYPE[0x09], BY_TYPE[0x0A]])
    assert sample == {"voltage": 80.252, "current": 14.971, "power": 1201.453}


def test_identification_is_optional_and_blank_text_is_left_out() -> None:
    sample = decode("greenway", [*POLL[:11], frame(0x1A, bytes((1, 2, 3, 4)) + bytes(4)),
                                 frame(0x21, bytes(32))])
    assert (sample["sw_version"], sample["hw_version"]) == ("2.1", "4.3")
    assert "model" not in sample
    assert "serial_number" not in sample


def test_empty_cell_slots_are_dropped() -> None:
    assert len(decode("greenway", POLL)["cell_voltages"]) == 20
    sample = decode("greenway", replaced(0x25, bytes(32)))
    assert len(sample["cell_voltages"]) == 16


def test_unknown_message_is_ignored() -> None:
    assert decode("greenway", [*POLL, frame(0x19, bytes(4))]) == decode("greenway", POLL)


def test_bad_checksum_is_rejected() -> None:
    broken = bytearray(BY_TYPE[0x09])
    broken[-1] ^= 1
    with pytest.raises(FrameError, match="greenway: bad checksum in message 0x09"):
        decode("greenway", [bytes(broken)])


def test_short_message_is_rejected() -> None:
    with pytest.raises(FrameError, match="message 0x09 carries 2 data bytes, expected 4"):
        decode("greenway", [frame(0x09, b"\x01\x02"), BY_TYPE[0x0A]])


@pytest.mark.parametrize(("key", "message"), [("battery_level", 0x0D), ("battery_health", 0x0E)])
def test_percentage_above_100_is_rejected(key: str, message: int) -> None:
    with pytest.raises(FrameError, match=f"{key} 101 % is above 100"):
        decode("greenway", replaced(message, (101).to_bytes(4, "little")))


def test_impossible_cell_is_rejected() -> None:
    with pytest.raises(FrameError, match=r"cell_voltages\[0\]"):
        decode("greenway", replaced(0x24, b"\xff\xff" * 16))


@given(st.integers(0, (1 << 64) - 1))
def test_alarm_word_is_exact(word: int) -> None:
    word |= 1 | (1 << 63)
    status = b"\x88\x90" + word.to_bytes(8, "little") + bytes(6)
    assert decode("greenway", replaced(0x16, status))["problem_code"] == word
