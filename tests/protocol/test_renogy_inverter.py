"""Renogy inverter driver: captured RIV4835CSH1S frames, sign convention, variants, errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
    get_driver,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.renogy_inverter import (
    RenogyInverterDriver,
)

from .vectors import VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
MAIN, ADDRESS, CHARGING, LOAD = (bytes.fromhex(f) for f in BY_ID["renogy_inverter_1"]["frames"])


def response(data: bytes, slave: int = 0x20) -> bytes:
    body = bytes((slave, 0x03, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(frame: bytes, offset: int, value: bytes) -> bytes:
    data = bytearray(frame[3:-2])
    data[offset : offset + len(value)] = value
    return response(bytes(data), frame[0])


def test_rego_units_are_discovered_bt2_units_offered_as_a_device_type() -> None:
    rego = Advertisement(local_name="BTRIC134000A1B")
    assert [d.family for d in drivers_matching(rego)] == ["renogy_inverter"]
    assert RenogyInverterDriver.variant_for(rego) == "rego"
    bt2 = Advertisement(local_name="BT-TH-66E5CDEB", service_uuids=("0000ffd0-0000-1000-8000-00805f9b34fb",))
    assert [d.family for d in drivers_matching(bt2)] == ["renogy_battery"]
    assert "renogy_inverter" in get_driver("renogy_battery").alternatives
    assert RenogyInverterDriver.variant_for(bt2) is None


def test_requests_per_variant() -> None:
    assert [r.hex() for r in RenogyInverterDriver().requests()] == BY_ID["renogy_inverter_1"]["requests"]
    rego = RenogyInverterDriver("rego").requests()
    assert [int.from_bytes(r[2:4], "big") for r in rego] == [4000, 4109, 4311, 4327, 4408]


def test_captured_poll_decodes_whole_and_chunked() -> None:
    sample = decode("renogy_inverter", [MAIN, ADDRESS, CHARGING, LOAD])
    assert sample["current"] == pytest.approx(49.5)  # charging: positive here, negative on the wire
    assert sample["charging_state"] == "boost"
    assert sample["line_charging_current"] == pytest.approx(36.9)
    assert decode("renogy_inverter", chunked([MAIN, ADDRESS, CHARGING, LOAD], 20)) == sample


def test_rego_model_and_optional_load() -> None:
    model = response(b"RIV1230RCH-SPS\x00\x00")
    sample = decode("renogy_inverter", [MAIN, ADDRESS, model, CHARGING], variant="rego")
    assert sample["model"] == "RIV1230RCH-SPS"
    assert "load_power" not in sample
    assert "model" not in decode("renogy_inverter", [MAIN, response(b"\x00" * 16), CHARGING])


def test_standalone_broadcast_id() -> None:
    frames = [response(f[3:-2], 0xFF) for f in (MAIN, CHARGING)]
    assert decode("renogy_inverter", frames)["voltage"] == pytest.approx(51.2)


def test_resynchronises_after_stale_bytes() -> None:
    assert decode("renogy_inverter", [LOAD[-6:] + MAIN, CHARGING])["battery_level"] == 60


@pytest.mark.parametrize(("code", "state"), [(0, "deactivated"), (1, "bulk"), (4, "floating"),
                                             (6, "battery_activation"), (7, "battery_disconnecting"),
                                             (3, "unknown")])
def test_charging_states(code: int, state: str) -> None:
    frame = patched(CHARGING, 10, code.to_bytes(2, "big"))
    assert decode("renogy_inverter", [MAIN, frame])["charging_state"] == state


@given(st.integers(-32768, 32767))
def test_battery_current_sign(raw: int) -> None:
    frame = patched(CHARGING, 2, raw.to_bytes(2, "big", signed=True))
    assert decode("renogy_inverter", [MAIN, frame])["current"] == pytest.approx(-raw / 10)


def test_errors() -> None:
    with pytest.raises(FrameError, match=r"renogy_inverter: response to the inverter request"):
        decode("renogy_inverter", [CHARGING])
    with pytest.raises(FrameError, match=r"renogy_inverter: controller_temperature"):
        decode("renogy_inverter", [patched(MAIN, 12, (2000).to_bytes(2, "big")), CHARGING])
    with pytest.raises(FrameError, match=r"renogy_inverter: bad CRC"):
        decode("renogy_inverter", [MAIN[:-1] + bytes((MAIN[-1] ^ 1,)), CHARGING])
    with pytest.raises(FrameError, match=r"renogy_inverter: .*answers no outstanding"):
        decode("renogy_inverter", [MAIN, CHARGING, ADDRESS])
    exception = bytes((0x20, 0x83, 0x02))
    exception += crc16_modbus(exception).to_bytes(2, "little")
    with pytest.raises(FrameError, match=r"renogy_inverter: Modbus exception 0x02"):
        decode("renogy_inverter", [exception, CHARGING])
    with pytest.raises(FrameError, match=r"renogy_inverter: (no complete frame|truncated frame|bad CRC)"):
        decode("renogy_inverter", [MAIN[:12]])
