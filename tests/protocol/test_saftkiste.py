"""Saftkiste driver: requests, fixed-length framing, resync, check byte, every error branch."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.saftkiste import SaftkisteDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked

TABLE, STATUS = (bytes.fromhex(f) for f in next(v for v in VECTORS if v["id"] == "saftkiste_1")["frames"])


def checked(body: bytes) -> bytes:
    return body + bytes((zlib.crc32(body) & 0xFF,))


def edited(pos: int, value: bytes) -> bytes:
    return checked(STATUS[:pos] + value + STATUS[pos + len(value) : -1])


def test_requests_carry_the_sources_bytes() -> None:
    assert SaftkisteDriver().requests() == [bytes.fromhex("f0ff430101e7806996"), bytes.fromhex("f0ff02")]


def test_response_complete_at_20_byte_notifications() -> None:
    driver = SaftkisteDriver()
    table_req, status_req = driver.requests()
    chunks = chunked([STATUS], 20)
    assert not driver.response_complete(status_req, chunks[:-1])
    assert driver.response_complete(status_req, chunks)
    assert not driver.response_complete(table_req, chunks)
    assert driver.response_complete(table_req, chunked([TABLE], 20))
    assert driver.response_complete(None, [STATUS])
    assert decode("saftkiste", chunked([TABLE, STATUS], 20)) == decode("saftkiste", [TABLE, STATUS])


def test_stale_bytes_and_unknown_types_are_skipped() -> None:
    stale = b"\x0d\xf0\xff\x77\x01\xf0"
    assert decode("saftkiste", [stale + STATUS]) == decode("saftkiste", [STATUS])
    assert SaftkisteDriver().frame_length(b"\xf0\xff", 0) == 0
    assert SaftkisteDriver().frame_length(b"\xf0", 0) == 0


def test_the_newest_status_counts() -> None:
    newer = edited(25, b"\x22\x00")
    assert decode("saftkiste", [STATUS, newer])["cycles"] == 34


def test_negative_temperatures_and_charging_current() -> None:
    sample = decode("saftkiste", [edited(15, b"\x10\x00" + STATUS[17:27] + b"\x0c\xfe")])
    assert sample["current"] == 0.16
    assert sample["temperatures"][0] == -5.0


def test_errors() -> None:
    with pytest.raises(FrameError, match="bad check byte in the 0x02 reply"):
        decode("saftkiste", [STATUS[:-1] + b"\x00"])
    with pytest.raises(FrameError, match=r"no status \(0x02\) reply"):
        decode("saftkiste", [TABLE])
    with pytest.raises(FrameError, match="truncated"):
        decode("saftkiste", [STATUS[:-3]])
    with pytest.raises(FrameError, match="cell_voltages"):
        decode("saftkiste", [edited(17, b"\xff\xff")])


@given(word=st.integers(0, 0xFFFF))
def test_problem_word_is_exact(word: int) -> None:
    for value in (word, word | 0x8001):
        code = decode("saftkiste", [edited(38, value.to_bytes(2, "little"))])["problem_code"]
        assert code == value
        assert isinstance(code, int)


def test_matchers_and_advertisements() -> None:
    for adv in (a for a in ADVERTISEMENTS if a["family"] == "saftkiste"):
        assert SaftkisteDriver.matches(Advertisement.from_any(adv))
    assert SaftkisteDriver.matches(Advertisement(manufacturer_data={4660: bytes(range(1, 9))}))
    assert not SaftkisteDriver.matches(Advertisement(manufacturer_data={4660: bytes(8)}))


def test_simulated_device_decodes() -> None:
    device = make_device("saftkiste", "D5:DA:24:00:00:01")
    frames = [f for r in SaftkisteDriver().requests()
              for f in device.respond(SaftkisteDriver.write_uuid or "", r)]
    sample = decode("saftkiste", chunked(frames, device.mtu - 3))
    assert sample["voltage"] == pytest.approx(device.model.voltage, abs=0.002)
    assert sample["cell_voltages"] == pytest.approx(device.model.cell_voltages, abs=0.001)
