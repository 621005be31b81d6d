"""LiTime / HQST MPPT driver: the one-read poll, captured frames, probe byte, errors."""

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
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.litime_mppt import LitimeMpptDriver

from .vectors import VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
EXAMPLE = bytes.fromhex(BY_ID["litime_mppt_1"]["frames"][0])
LT2430 = bytes.fromhex(BY_ID["litime_mppt_2"]["frames"][0])


def patched(frame: bytes, offset: int, value: bytes, slave: int | None = None) -> bytes:
    data = bytearray(frame[3:-2])
    data[offset : offset + len(value)] = value
    body = bytes((frame[0] if slave is None else slave, 0x03, len(data))) + bytes(data)
    return body + crc16_modbus(body).to_bytes(2, "little")


def test_one_read_on_one_characteristic() -> None:
    driver = LitimeMpptDriver()
    assert [r.hex() for r in driver.requests()] == BY_ID["litime_mppt_1"]["requests"]
    assert driver.notify_uuid == driver.write_uuid
    assert [d.family for d in drivers_matching(Advertisement(local_name="BT-LTMPPT4860"))] == [
        "litime_mppt"
    ]


def test_captured_frames_whole_and_in_20_byte_notifications() -> None:
    sample = decode("litime_mppt", [LT2430])
    assert sample["battery_temperature"] == 25
    assert decode("litime_mppt", chunked([LT2430], 20)) == sample
    assert "battery_temperature" not in decode("litime_mppt", [EXAMPLE])  # 0xFF: no probe
    assert "pv_power" not in sample  # the block has no PV current or power


def test_resynchronises_after_stale_bytes() -> None:
    assert decode("litime_mppt", [EXAMPLE[20:] + LT2430])["voltage"] == pytest.approx(13.8)


def test_other_slave_id_and_signed_temperatures() -> None:
    frame = patched(LT2430, 8, b"\x85\x8a", slave=0x02)
    sample = decode("litime_mppt", [frame])
    assert (sample["controller_temperature"], sample["battery_temperature"]) == (-5, -10)


@pytest.mark.parametrize(("code", "state"), [(0, "deactivated"), (3, "equalizing"), (5, "floating"),
                                             (6, "current_limiting"), (9, "unknown")])
def test_charging_states(code: int, state: str) -> None:
    assert decode("litime_mppt", [patched(LT2430, 25, bytes((code,)))])["charging_state"] == state


@given(st.integers(0, 0xFFFFFFFF))
def test_total_yield_is_exact(total: int) -> None:
    total |= 0x80000001
    sample = decode("litime_mppt", [patched(LT2430, 30, total.to_bytes(4, "big"))])
    assert sample["energy_generated_total"] == total


def test_errors() -> None:
    with pytest.raises(FrameError, match=r"litime_mppt: bad CRC"):
        decode("litime_mppt", [LT2430[:-2] + b"\x00\x00"])
    with pytest.raises(FrameError, match=r"litime_mppt: battery_temperature"):
        decode("litime_mppt", [patched(LT2430, 9, b"\xe4")])
    with pytest.raises(FrameError, match=r"litime_mppt: .*answers no outstanding"):
        decode("litime_mppt", [LT2430, LT2430])
    with pytest.raises(FrameError, match=r"litime_mppt: (no complete frame|truncated frame|bad CRC)"):
        decode("litime_mppt", [LT2430[:30]])
    short = bytes((0x01, 0x03, 0x04, 0, 100, 0, 138))
    short += crc16_modbus(short).to_bytes(2, "little")
    with pytest.raises(FrameError, match=r"litime_mppt: .*answers no outstanding"):
        decode("litime_mppt", [short])
