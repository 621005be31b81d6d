"""LiPower / Ective driver: device-id search, framing and resynchronisation, every error branch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus, uuid16
from custom_components.ble_battery_solar.protocol.devices.lipower import LiPowerDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked

ID22, ID0B = (bytes.fromhex(next(v for v in VECTORS if v["id"] == i)["frames"][0])
              for i in ("lipower_1", "lipower_2"))
DATA = ID22[3:-2]


def frame(data: bytes, device: int = 0x22) -> bytes:
    body = bytes((device, 0x03, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def with_word(index: int, value: int) -> bytes:
    data = bytearray(DATA)
    data[2 * index : 2 * index + 2] = value.to_bytes(2, "big")
    return frame(bytes(data))


def test_requests_read_eight_registers_and_try_the_next_id_when_unanswered() -> None:
    driver = LiPowerDriver()
    body = bytes.fromhex("220304000008")
    assert driver.requests() == [body + crc16_modbus(body).to_bytes(2, "little")]
    assert driver.requests()[0][0] == 0x0B  # no answer to 0x22
    assert driver.requests()[0][0] == 0x08
    assert driver.requests()[0][0] == 0x38
    assert driver.requests()[0][0] == 0x22
    driver.requests()
    driver.decode([ID0B])  # the device answers as 0x0B: it keeps that id
    assert driver.requests()[0][0] == 0x0B
    driver.decode([ID0B])
    assert driver.requests()[0][0] == 0x0B
    # once an id answered, an unanswered poll (a glitch, a dropped link) keeps it
    assert driver.requests()[0][0] == 0x0B
    assert driver.requests()[0][0] == 0x0B


def test_a_damaged_answer_still_tells_the_id() -> None:
    driver = LiPowerDriver()
    driver.requests()
    with pytest.raises(FrameError, match="bad CRC"):
        driver.decode([ID0B[:-1] + bytes((ID0B[-1] ^ 1,))])
    assert driver.requests()[0][0] == 0x0B


def test_response_complete_and_chunks() -> None:
    driver = LiPowerDriver()
    request = driver.requests()[0]
    assert not driver.response_complete(request, [ID22[:20]])
    assert driver.response_complete(request, [ID22[:20], ID22[20:]])
    assert not driver.response_complete(request, [ID0B])
    assert driver.response_complete(None, [ID0B])
    assert decode("lipower", chunked([ID22], 20)) == decode("lipower", [ID22])
    assert driver.frames_in(b"\x22") == ([], b"\x22")


def test_stale_bytes_before_a_frame_are_skipped() -> None:
    assert decode("lipower", [b"\x01\x22\x10\x0b\x05" + ID22]) == decode("lipower", [ID22])


def test_charging_current_is_positive_and_has_no_runtime() -> None:
    sample = decode("lipower", [with_word(4, 0)])
    assert sample["current"] == 0.08
    assert "runtime" not in sample


def test_unsynchronised_monitor_reports_no_state_of_charge() -> None:
    data = bytearray(DATA)
    data[0:6] = bytes.fromhex("ff324fbf2710")  # as the BM X in BMS_BLE-HA#692
    sample = decode("lipower", [frame(bytes(data))])
    assert "battery_level" not in sample
    assert "cycle_charge" not in sample
    assert "runtime" not in sample  # 10000 h: no estimate
    assert sample["voltage"] == 13.7


@given(direction=st.integers(0, 1), raw=st.integers(0, 0xFFFF))
def test_current_decodes_exactly(direction: int, raw: int) -> None:
    data = bytearray(DATA)
    data[8:12] = direction.to_bytes(2, "big") + raw.to_bytes(2, "big")
    current = decode("lipower", [frame(bytes(data))])["current"]
    assert current == pytest.approx((-1) ** direction * raw / 100, abs=1e-9)


@pytest.mark.parametrize(("frames", "message"), [
    ([ID22[:-1] + bytes((ID22[-1] ^ 0xFF,))], "bad CRC in the response of device 0x22"),
    ([with_word(4, 2)], "direction word 2 is neither 0 nor 1"),
    ([with_word(3, 60)], "runtime minutes 60 is 60 or more"),
    ([frame(DATA[:12])], "field voltage at byte 12 lies beyond"),
    ([b"\x55\x66"], "no complete frame"),
])
def test_malformed_input_is_rejected(frames: list[bytes], message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("lipower", frames)


def test_discovery_is_unambiguous_against_topband() -> None:
    lipower = Advertisement(local_name="24-03-20-011", service_uuids=(uuid16(0xAF30),))
    assert [d.family for d in drivers_matching(lipower)] == ["lipower"]
    # an older Ective pack streams ASCII hex: topband, even if it also showed 0xAF30 it gives way
    both = Advertisement(local_name="NWJ20221223010388",
                         service_uuids=(uuid16(0xFFE0), uuid16(0xAF30)),
                         manufacturer_data={0x0000: bytes.fromhex("fc45c3bcd6a8")})
    assert [d.family for d in drivers_matching(both)] == ["lipower"]
    for adv in ADVERTISEMENTS:
        if adv["family"] == "topband":
            assert not LiPowerDriver.matches(Advertisement.from_any(adv)), adv["id"]


def test_simulated_battery_with_another_id() -> None:
    device = make_device("lipower", "AA:BB:CC:00:00:01", variant="0x0B")
    driver = LiPowerDriver()
    frames: list[bytes] = []
    while not frames:
        frames = device.respond(driver.write_uuid or "", driver.requests()[0])
    sample = driver.decode(frames)
    assert sample["voltage"] == pytest.approx(device.model.voltage, abs=0.06)
    assert driver.requests()[0][0] == 0x0B


def test_no_variant_comes_from_the_advertisement() -> None:
    adv = Advertisement(local_name="23-01-05-034", service_uuids=(uuid16(0xAF30),))
    assert LiPowerDriver.variant_for(adv) is None
