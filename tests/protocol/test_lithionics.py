"""Lithionics driver: line framing, stream joined mid-line, both layouts, every error branch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.lithionics import (
    PROBLEM_MASK,
    LithionicsDriver,
)

from .vectors import ADVERTISEMENTS, chunked

PRIMARY = b"1399,350,350,350,349,55,48,-3,99,000000\r\n"
STATUS = b"&,1,319,006391,0136,2300,FF05,8700\r\n"
FIXED = b"1,01594,0525,048,048,0,00000,000000,080,000100\r\n"


def test_streaming_device_writes_nothing() -> None:
    driver = LithionicsDriver()
    assert driver.requests() == []
    assert driver.write_uuid is None
    assert not driver.checksummed


def test_complete_needs_primary_and_status_or_a_fixed_line() -> None:
    driver = LithionicsDriver()
    stream = chunked([b"ERROR\r\n", PRIMARY, STATUS], 20)
    assert not driver.response_complete(None, stream[:-1])
    assert driver.response_complete(None, stream)
    assert not driver.response_complete(None, [PRIMARY])
    assert driver.response_complete(None, chunked([FIXED], 20))
    assert driver.response_complete(None, [PRIMARY, b"&X1,319\r\n"])  # damaged: decode fails
    assert decode("lithionics", stream) == decode("lithionics", [PRIMARY, STATUS])


def test_stream_joined_mid_line_skips_the_tail_of_the_earlier_line() -> None:
    tail = PRIMARY[17:]  # "55,48,-3,99,000000\r\n": too few fields for a line
    assert decode("lithionics", [tail, STATUS[:9], STATUS[9:], PRIMARY]) == decode(
        "lithionics", [PRIMARY, STATUS])
    status_tail = STATUS[2:]
    assert decode("lithionics", [status_tail, PRIMARY, STATUS])["cycle_charge"] == 319.0


def test_a_mid_line_tail_that_parses_fails_the_voltage_check_unless_a_whole_line_follows() -> None:
    tail = PRIMARY[2:]  # "99,350,...": ten fields, 0.99 V against 13.99 V of cells
    with pytest.raises(FrameError, match=r"voltage 0\.99 V is far from"):
        decode("lithionics", [tail, STATUS])
    assert decode("lithionics", [tail, PRIMARY, STATUS])["voltage"] == 13.99


def test_the_newest_line_of_each_kind_counts() -> None:
    newer = b"1400,350,350,350,350,56,49,2,100,000000\r\n"
    sample = decode("lithionics", [PRIMARY, STATUS, newer, b"&,1,320,1,1\r\n"])
    assert (sample["voltage"], sample["current"], sample["cycle_charge"]) == (14.0, 2.0, 320.0)


def test_module_and_error_lines_are_skipped() -> None:
    module = b"#,1,1,1,1,16,25,26,332,334,0,0,0," + b",".join([b"333"] * 16) + b"\r\n"
    assert decode("lithionics", [PRIMARY, module, b"ERROR\r\n", b"\r\n", STATUS]) == decode(
        "lithionics", [PRIMARY, STATUS])


def test_fixed_layout_ignores_the_status_line_and_signs_the_current() -> None:
    sample = decode("lithionics", [FIXED, STATUS])
    assert sample["cycle_charge"] == 159.4
    line = b"1,01594,0525,048,048,0,-0124,000651,080,000100\r\n"
    assert decode("lithionics", [line])["current"] == -12.4
    with pytest.raises(FrameError, match="charging flag 2"):
        decode("lithionics", [b"1,01594,0525,048,048,2,00000,000000,080,000100\r\n"])


def test_truncated_and_endless_lines() -> None:
    with pytest.raises(FrameError, match="truncated"):
        decode("lithionics", [PRIMARY, STATUS[:-1]])
    with pytest.raises(FrameError, match="bytes without a line end"):
        decode("lithionics", [PRIMARY, b"7" * 600])
    with pytest.raises(FrameError, match="no complete frame"):
        decode("lithionics", [b"1,2,3\r\n"])


def test_malformed_fields() -> None:
    with pytest.raises(FrameError, match="voltage '13999999999'"):
        decode("lithionics", [b"13999999999,350,350,350,349,55,48,-3,99,0\r\n", STATUS])
    with pytest.raises(FrameError, match="status word ''"):
        decode("lithionics", [b"1399,350,350,350,349,55,48,-3,99,\r\n", STATUS])
    with pytest.raises(FrameError, match="remaining charge 'x'"):
        decode("lithionics", [PRIMARY, b"&,1,x\r\n"])
    with pytest.raises(FrameError, match="not ASCII"):
        decode("lithionics", [PRIMARY, b"&,1,\xff\r\n"])
    with pytest.raises(FrameError, match="line 2 is not a line of this BMS: '1,2,3'"):
        decode("lithionics", [PRIMARY, b"1,2,3\r\n", STATUS])
    with pytest.raises(FrameError, match="no primary line"):
        decode("lithionics", [STATUS, b"ERROR\r\n"])
    with pytest.raises(FrameError, match="battery_level 101"):
        decode("lithionics", [b"1399,350,350,350,349,55,48,-3,101,000000\r\n", STATUS])


@given(word=st.integers(0, 0xFFFFFF))
def test_status_word_is_exact_under_the_alarm_mask(word: int) -> None:
    for value in (word, word | 0x400001):
        line = b"1399,350,350,350,349,55,48,-3,99,%06X\r\n" % value
        code = decode("lithionics", [line, STATUS])["problem_code"]
        assert code == value & PROBLEM_MASK
        assert isinstance(code, int)
    assert decode("lithionics", [b"1399,350,350,350,349,55,48,-3,99,400001\r\n", STATUS])[
        "problem_code"] == 0x400001


def test_matchers_and_advertisements() -> None:
    for adv in (a for a in ADVERTISEMENTS if a["family"] == "lithionics"):
        assert LithionicsDriver.matches(Advertisement.from_any(adv))
    assert LithionicsDriver.matches(Advertisement(local_name="NeverDie 12V"))
    assert not LithionicsDriver.matches(Advertisement(local_name="Li3-0613", manufacturer_data={1: b""}))
    assert not LithionicsDriver.matches(Advertisement(local_name="LiPower"))


@pytest.mark.parametrize("variant", [None, "fixed"])
def test_simulated_device_decodes(variant: str | None) -> None:
    device = make_device("lithionics", "6C:79:B8:00:00:01", variant=variant)
    lines = device.stream() + device.stream()
    sample = decode("lithionics", chunked(lines, device.mtu - 3))
    assert sample["voltage"] == pytest.approx(device.model.voltage, abs=0.1)
    assert sample["current"] == pytest.approx(device.model.current, abs=0.6)
