"""Humsienk driver: requests, framing and resynchronisation, every error branch, alarm bits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import sum16, uuid16
from custom_components.ble_battery_solar.protocol.devices.humsienk import HumsienkDriver, request

from .vectors import VECTORS, chunked

VECTOR = next(v for v in VECTORS if v["id"] == "humsienk_1")
FRAMES = [bytes.fromhex(f) for f in VECTOR["frames"]]
INIT, MODEL, STATUS, INFO, CELLS, VERSION = FRAMES


def frame(cmd: int, data: bytes) -> bytes:
    body = bytes((cmd, len(data))) + data
    return b"\xaa" + body + sum16(body).to_bytes(2, "little")


def test_requests_match_the_captured_ones() -> None:
    assert [r.hex() for r in HumsienkDriver().requests()] == VECTOR["requests"]
    assert request(0x21) == bytes.fromhex("aa21002100")


def test_response_complete_waits_for_the_frame_of_its_request() -> None:
    driver = HumsienkDriver()
    chunks = chunked([CELLS], 20)
    assert not driver.response_complete(request(0x22), chunks[:-1])
    assert driver.response_complete(request(0x22), chunks)
    assert not driver.response_complete(request(0x21), chunks)
    assert driver.response_complete(None, [INFO])
    assert driver.frames_in(b"\xaa\x21") == ([], b"\xaa\x21")


def test_stale_bytes_before_a_frame_are_skipped() -> None:
    whole = decode("humsienk", FRAMES)
    assert decode("humsienk", [b"\x13\x00\xaa\x99" + FRAMES[0], *FRAMES[1:]]) == whole
    assert decode("humsienk", chunked(FRAMES, 20)) == whole


def test_status_bits() -> None:
    data = bytearray(STATUS[3:-2])
    data[4:8] = (0x80 | 0x8000 | 0x01 | (1 << 30)).to_bytes(4, "little")  # charge FET, heater
    data[8:11] = (1 << 23).to_bytes(3, "little")  # cell 24 is being balanced
    sample = decode("humsienk", [INFO, frame(0x20, bytes(data))])
    assert (sample["chrg_mosfet"], sample["heater"], sample["dischrg_mosfet"]) == (True, True, False)
    assert sample["balancer"]
    assert sample["problem_code"] == 0x01 | (1 << 30)


@given(status=st.integers(0, (1 << 32) - 1), disconnected=st.integers(0, (1 << 24) - 1))
def test_alarm_words_decode_exactly(status: int, disconnected: int) -> None:
    data = bytes(4) + status.to_bytes(4, "little") + bytes(3) + disconnected.to_bytes(3, "little")
    code = decode("humsienk", [INFO, frame(0x20, data)])["problem_code"]
    assert code == (status & ~0x00808080) | disconnected << 32


def test_top_and_bottom_alarm_bits() -> None:
    data = bytes(4) + (1 | 1 << 31).to_bytes(4, "little") + bytes(3) + (1 << 23).to_bytes(3, "little")
    code = decode("humsienk", [INFO, frame(0x20, data)])["problem_code"]
    assert code == 1 | 1 << 31 | 1 << 55


def test_other_answers_carry_nothing() -> None:
    sample = decode("humsienk", [INFO, frame(0x23, b"\xdc\xfb\xff\xff"), frame(0x11, b"\x00"),
                                 frame(0xF5, b"")])
    assert "model" not in sample
    assert "hw_version" not in sample


def test_zero_capacity_is_not_shown() -> None:
    data = bytearray(INFO[3:-2])
    data[14:18] = bytes(4)
    assert "design_capacity" not in decode("humsienk", [frame(0x21, bytes(data))])


@pytest.mark.parametrize(("frames", "message"), [
    ([INFO[:-1] + bytes((INFO[-1] ^ 1,))], "bad checksum in 0x21"),
    ([frame(0x21, INFO[3:-2][:10])], "field cycle_charge at byte 10 lies beyond"),
    ([frame(0x21, INFO[3:-2][:22])], "lacks the temperatures"),
    ([INFO, frame(0x22, b"\x01\x02\x03")], "cell-voltage payload of 3 bytes"),
    ([INFO, frame(0x22, bytes(50))], "cell-voltage payload of 50 bytes"),
    ([frame(0x21, INFO[3:11] + b"\x65" + INFO[12:-2])], "battery_level 101 % is above 100"),
    ([frame(0x21, INFO[3:12] + b"\x65" + INFO[13:-2])], "battery_health 101 % is above 100"),
    ([CELLS], "lacks voltage, current, battery_level"),
    ([b"\x01\x02\x03"], "no complete frame"),
])
def test_malformed_input_is_rejected(frames: list[bytes], message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("humsienk", frames)


def test_matchers() -> None:
    services = (uuid16(0xFF00), uuid16(0x0001))
    for name in ("HS30A3", "ECOE934", "ECO0aa8", "DCHC7AC"):
        adv = Advertisement(local_name=name, service_uuids=services)
        assert [d.family for d in drivers_matching(adv)] == ["humsienk"], name
    for name in ("ECO-WORTHY 02_B8EF", "ECOXYZW", "DCHOUSE", "OGR-48100-123456789", None):
        adv = Advertisement(local_name=name, service_uuids=services)
        assert not HumsienkDriver.matches(adv), name
    # without the Humsienk service a name alone is not enough
    assert not HumsienkDriver.matches(Advertisement(local_name="HS30A3",
                                                    service_uuids=(uuid16(0xFF00),)))
