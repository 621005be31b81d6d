"""SRNE / Rich Solar / PowMr controller driver: poll, fault word, probing and errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    get_driver,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.srne import SrneDriver, version_text

from .vectors import VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
ML2440 = [bytes.fromhex(f) for f in BY_ID["srne_1"]["frames"]]
MODEL, VERSION, SERIAL, ADDRESS, CHARGING, BATTERY_TYPE = ML2440
ROVER_CHARGING = bytes.fromhex(BY_ID["srne_2"]["frames"][0])


def response(data: bytes, slave: int = 0x01, function: int = 0x03) -> bytes:
    body = bytes((slave, function, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(frame: bytes, offset: int, value: bytes) -> bytes:
    data = bytearray(frame[3:-2])
    data[offset : offset + len(value)] = value
    return response(bytes(data), frame[0])


def test_a_controller_offered_beside_the_renogy_types() -> None:
    assert SrneDriver.kind == "controller"
    assert not SrneDriver.discoverable
    assert SrneDriver.matchers == ()
    assert "srne" in get_driver("renogy_battery").alternatives
    bt_module = Advertisement(local_name="BT-TH-73C8EA91",
                              service_uuids=("0000ffd0-0000-1000-8000-00805f9b34fb",))
    assert not SrneDriver.matches(bt_module)


def test_requests_read_the_fault_word_at_the_broadcast_id() -> None:
    requests = SrneDriver().requests()
    assert [r[0] for r in requests] == [0xFF] * 6
    assert requests[0].hex() == "ff03000c000891d1"  # model, as the Renogy driver asks first
    assert requests[4].hex() == "ff03010000231031"  # 0x0100 x 0x23: up to 0x0122
    # the same registers as the vector's poll at the unit's own address 1
    assert [r[4:12] for r in BY_ID["srne_1"]["requests"]] == [r[2:6].hex() for r in requests]


def test_decode_at_its_own_address_with_faults() -> None:
    sample = decode("srne", ML2440)
    assert sample["model"] == "ML2440"
    assert (sample["sw_version"], sample["hw_version"]) == ("V01.02.03", "V01.01.00")
    assert sample["serial_number"] == "18100042"
    assert sample["problem_code"] == (1 << 23) | (1 << 18)
    assert sample["energy_generated_total"] == 734512
    assert sample["battery_temperature"] == -3
    assert decode("srne", chunked(ML2440, 20)) == sample


def test_renogy_sized_charging_block_decodes_the_fault_words_high_half() -> None:
    sample = decode("srne", [ROVER_CHARGING])
    assert sample["charging_state"] == "boost"
    assert sample["problem_code"] == int.from_bytes(ROVER_CHARGING[3 + 66 : 3 + 68], "big") << 16
    faulty = patched(ROVER_CHARGING, 66, (1 << 12 | 1 << 3).to_bytes(2, "big"))
    assert decode("srne", [faulty])["problem_code"] == 1 << 28 | 1 << 19
    assert decode("srne", [response(CHARGING[3:-2], slave=0x61)])["voltage"] == pytest.approx(13.1)


def test_resynchronises_after_stale_bytes() -> None:
    stale = CHARGING[-7:]  # the end of an earlier answer
    assert decode("srne", [stale + MODEL, CHARGING])["model"] == "ML2440"


def test_probe_leaves_renogy_models_to_the_renogy_driver() -> None:
    driver = SrneDriver()
    model_request = driver.requests()[0]
    rover_model = response(b"  RNG-CTRL-RVR40", slave=0xFF)
    srne_model = response(b"      ML2440    ", slave=0xFF)
    assert driver.answers(model_request, srne_model)
    assert not driver.answers(model_request, rover_model)
    # the poll still completes (and decodes) on a Renogy model answer: only probing tells them apart
    assert driver.response_complete(model_request, [rover_model])
    assert not driver.answers(model_request, response(b"\x00\x01", slave=0xFF))
    exception = bytes((0xFF, 0x83, 0x02))
    exception += crc16_modbus(exception).to_bytes(2, "little")
    assert driver.answers(model_request, exception)
    assert driver.answers(driver.requests()[4], response(CHARGING[3:-2], 0xFF))
    assert driver.answers(None, rover_model)
    assert "model" not in decode("srne", [response(b" " * 16), CHARGING])


def test_version_text() -> None:
    assert version_text(bytes.fromhex("00020a01")) == "V02.10.01"


@pytest.mark.parametrize(("code", "state"), [(0, "deactivated"), (3, "equalizing"), (5, "floating"),
                                             (6, "current_limiting"), (7, "unknown")])
def test_charging_states(code: int, state: str) -> None:
    assert decode("srne", [patched(CHARGING, 65, bytes((code,)))])["charging_state"] == state


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_fault_word_is_exact(word: int) -> None:
    word |= 0x80000001
    assert decode("srne", [patched(CHARGING, 66, word.to_bytes(4, "big"))])["problem_code"] == word


def test_errors() -> None:
    with pytest.raises(FrameError, match=r"srne: battery_level 101 %"):
        decode("srne", [patched(CHARGING, 0, b"\x00\x65")])
    with pytest.raises(FrameError, match=r"srne: controller_temperature"):
        decode("srne", [patched(CHARGING, 6, b"\xff")])
    with pytest.raises(FrameError, match=r"srne: response to the charging information"):
        decode("srne", [MODEL, VERSION])
    with pytest.raises(FrameError, match=r"srne: bad CRC"):
        decode("srne", [CHARGING[:-1] + bytes((CHARGING[-1] ^ 1,))])
    with pytest.raises(FrameError, match=r"srne: .*answers no outstanding"):
        decode("srne", [CHARGING, MODEL])
    with pytest.raises(FrameError, match=r"srne: (no complete frame|truncated frame|bad CRC)"):
        decode("srne", [CHARGING[:40]])
    exception = bytes((0x01, 0x83, 0x02))
    exception += crc16_modbus(exception).to_bytes(2, "little")
    with pytest.raises(FrameError, match=r"srne: Modbus exception 0x02"):
        decode("srne", [MODEL, VERSION, SERIAL, ADDRESS, exception])
