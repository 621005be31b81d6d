"""Allpowers driver: stream framing by type, resync, trailing bytes, every error branch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.allpowers import AllpowersDriver

from .vectors import ADVERTISEMENTS, chunked

STATUS = bytes.fromhex("a565b10101000003480055007800f0")
SETTINGS = bytes.fromhex("a565b1000106030201ab00")


def status(flags: int = 3, soc: int = 72, in_w: int = 85, out_w: int = 120, minutes: int = 240) -> bytes:
    return (bytes.fromhex("a565b101010000") + bytes((flags, soc)) + in_w.to_bytes(2, "big")
            + out_w.to_bytes(2, "big") + minutes.to_bytes(2, "big"))


def test_streaming_device_writes_nothing() -> None:
    assert AllpowersDriver().requests() == []
    assert not AllpowersDriver.checksummed
    assert status() == STATUS


def test_complete_only_with_a_status_frame() -> None:
    driver = AllpowersDriver()
    assert not driver.response_complete(None, [SETTINGS])
    chunks = chunked([SETTINGS, STATUS], 7)
    assert not driver.response_complete(None, chunks[:-1])
    assert driver.response_complete(None, chunks)
    assert decode("allpowers", chunks) == decode("allpowers", [STATUS])


def test_stale_and_trailing_bytes_are_skipped() -> None:
    assert decode("allpowers", [b"\x00\xf0\xa5\x65" + STATUS + b"\x4c"]) == decode("allpowers", [STATUS])
    assert AllpowersDriver().frame_length(b"\xa5\x65\xb1", 0) == 0
    assert AllpowersDriver().frame_length(b"\xa5\x65\xb1\x07", 0) is None


def test_newest_status_and_runtime_rules() -> None:
    sample = decode("allpowers", [STATUS, status(soc=70, minutes=0xFFFF)])
    assert sample["battery_level"] == 70
    assert "runtime" not in sample  # no estimate
    assert "runtime" not in decode("allpowers", [status(in_w=200, out_w=100)])  # charging
    assert decode("allpowers", [status(flags=0x10)])["load_on"] is False
    assert decode("allpowers", [status(flags=0x01)])["load_on"] is True


def test_errors() -> None:
    with pytest.raises(FrameError, match="no status frame"):
        decode("allpowers", [SETTINGS])
    with pytest.raises(FrameError, match="header bytes 015a00"):
        decode("allpowers", [STATUS[:5] + b"\x5a" + STATUS[6:]])
    with pytest.raises(FrameError, match="battery_level 101"):
        decode("allpowers", [status(soc=101)])
    with pytest.raises(FrameError, match="truncated"):
        decode("allpowers", [STATUS[:-1]])


@given(in_w=st.integers(0, 0xFFFF), out_w=st.integers(0, 0xFFFF))
def test_net_power_is_exact(in_w: int, out_w: int) -> None:
    assert decode("allpowers", [status(in_w=in_w, out_w=out_w)])["power"] == in_w - out_w


def test_matchers_and_advertisements() -> None:
    for adv in (a for a in ADVERTISEMENTS if a["family"] == "allpowers"):
        assert AllpowersDriver.matches(Advertisement.from_any(adv))
    fff0 = (AllpowersDriver.service_uuid,)
    assert AllpowersDriver.matches(Advertisement(local_name="AP S300 V2.0", service_uuids=fff0))
    assert not AllpowersDriver.matches(Advertisement(local_name="AP S300 V2.0"))
    assert not AllpowersDriver.matches(Advertisement(local_name="APS300", service_uuids=fff0))


def test_simulated_device_streams() -> None:
    device = make_device("allpowers", "2A:02:01:61:67:E1")
    sample = decode("allpowers", chunked(device.stream(), device.mtu - 3))
    assert sample["battery_level"] == pytest.approx(device.model.soc * 100, abs=1)
    assert sample["power"] == pytest.approx(device.model.voltage * device.model.current, abs=1)
