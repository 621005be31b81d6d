"""Renogy charge controller driver: requests, response tying, DC-DC variant and errors."""

from __future__ import annotations

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
    uuid16,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus, matcher_matches
from custom_components.ble_battery_solar.protocol.devices.renogy_controller import (
    BT_MODULE,
    RenogyControllerDriver,
    sign_magnitude,
)

from .vectors import ADVERTISEMENTS, VECTORS

BY_ID = {v["id"]: v for v in VECTORS}
ROVER = [bytes.fromhex(f) for f in BY_ID["renogy_controller_1"]["frames"]]
MODEL, ADDRESS, CHARGING, BATTERY_TYPE = ROVER
DCC_STATUS = bytes.fromhex(BY_ID["renogy_controller_2"]["frames"][0])


def response(data: bytes, slave: int = 0xFF, function: int = 0x03) -> bytes:
    body = bytes((slave, function, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(frame: bytes, offset: int, value: bytes) -> bytes:
    data = bytearray(frame[3:-2])
    data[offset : offset + len(value)] = value
    return response(bytes(data), frame[0])


def test_is_a_controller_chosen_by_the_user() -> None:
    assert RenogyControllerDriver.kind == "controller"
    assert not RenogyControllerDriver.discoverable
    bt_module = Advertisement(local_name="BT-TH-B00F1234", service_uuids=(uuid16(0xFFD0),))
    assert matcher_matches(BT_MODULE, bt_module)
    # the shared BT-1/BT-2 advertisement is offered as a battery by discovery
    assert [d.family for d in drivers_matching(bt_module)] == ["renogy_battery"]
    assert not any(RenogyControllerDriver.matches(Advertisement.from_any(a))
                   for a in ADVERTISEMENTS)


def test_requests_per_variant() -> None:
    rover = [r.hex() for r in RenogyControllerDriver().requests()]
    assert rover == BY_ID["renogy_controller_1"]["requests"]
    dcc = [r.hex() for r in RenogyControllerDriver("dcc").requests()]
    assert set(BY_ID["renogy_controller_2"]["requests"]) <= set(dcc)
    assert rover[0] in dcc  # model
    assert "ff0301000022d1f1" in dcc  # charging information


def test_answers_tie_the_two_one_register_reads_by_request() -> None:
    driver = RenogyControllerDriver()
    model, address, charging, battery_type = driver.requests()
    assert driver.answers(model, MODEL)
    assert driver.answers(address, ADDRESS)
    assert driver.answers(battery_type, BATTERY_TYPE)
    assert not driver.answers(charging, ADDRESS)
    assert driver.answers(charging, CHARGING)
    assert not driver.response_complete(charging, [CHARGING[:20], CHARGING[20:40]])
    assert driver.response_complete(charging, [CHARGING[:20], CHARGING[20:]])


def test_rover_decode() -> None:
    sample = decode("renogy_controller", ROVER)
    assert sample["model"] == "RNG-CTRL-RVR40"
    assert sample["energy_generated_total"] == 65936
    assert sample["charging_state"] == "boost"
    assert "charging_power" not in sample


def test_charging_block_alone_and_order_of_one_register_reads() -> None:
    assert decode("renogy_controller", [CHARGING])["voltage"] == pytest.approx(14.4)
    # a lone one-register answer before the charging block is the device address
    assert "model" not in decode("renogy_controller", [ADDRESS, CHARGING, BATTERY_TYPE])
    with pytest.raises(FrameError, match=r"renogy_controller: .*answers no outstanding"):
        decode("renogy_controller", [ADDRESS, CHARGING, BATTERY_TYPE, ADDRESS])


def test_blank_model_is_left_out() -> None:
    blank = response(b"\x00" * 16)
    assert "model" not in decode("renogy_controller", [blank, CHARGING])


def test_load_state_and_temperatures() -> None:
    frame = patched(CHARGING, 64, b"\x80")
    frame = patched(frame, 6, b"\x85\x8a")
    sample = decode("renogy_controller", [frame])
    assert sample["load_on"] is True
    assert sample["controller_temperature"] == -5
    assert sample["battery_temperature"] == -10
    assert sign_magnitude(0x19) == 25


@pytest.mark.parametrize(("code", "state"), [(0, "deactivated"), (2, "mppt"), (6, "current_limiting"),
                                             (9, "unknown")])
def test_rover_charging_states(code: int, state: str) -> None:
    sample = decode("renogy_controller", [patched(CHARGING, 65, bytes((code,)))])
    assert sample["charging_state"] == state


def test_dcc_status_block_and_alternator_registers() -> None:
    sample = decode("renogy_controller", [MODEL, CHARGING, DCC_STATUS])
    assert sample["charging_state"] == "mppt"
    assert sample["charging_power"] == 267
    assert "load_voltage" not in sample  # a DC-DC charger reports its alternator there
    dcc = decode("renogy_controller", [CHARGING], variant="dcc")
    assert "load_voltage" not in dcc
    assert dcc["charging_state"] == "boost"
    unknown = patched(DCC_STATUS, 1, b"\x07")
    assert decode("renogy_controller", [unknown])["charging_state"] == "unknown"
    faults = patched(DCC_STATUS, 2, b"\x00\x01\x00\x02")
    assert decode("renogy_controller", [faults])["problem_code"] == 0x00010002


def test_other_slave_ids_are_accepted_consistently() -> None:
    hub = [response(CHARGING[3:-2], slave=0x10)]
    assert decode("renogy_controller", hub)["voltage"] == pytest.approx(14.4)
    with pytest.raises(FrameError, match=r"renogy_controller: .*answers no outstanding"):
        decode("renogy_controller", [MODEL, response(CHARGING[3:-2], slave=0x10)])


def test_errors() -> None:
    with pytest.raises(FrameError, match=r"renogy_controller: battery_level 101 %"):
        decode("renogy_controller", [patched(CHARGING, 0, b"\x00\x65")])
    with pytest.raises(FrameError, match=r"renogy_controller: response to the charging"):
        decode("renogy_controller", [MODEL])
    exception = b"\xff\x83\x02"
    exception += crc16_modbus(exception).to_bytes(2, "little")
    with pytest.raises(FrameError, match=r"renogy_controller: response to the charging"):
        decode("renogy_controller", [exception])  # an exception to the model read
    with pytest.raises(FrameError, match=r"renogy_controller: (no complete frame|truncated frame)"):
        decode("renogy_controller", [b"\x00" + CHARGING[1:]])
    with pytest.raises(FrameError, match=r"renogy_controller: (no complete frame|truncated frame)"):
        decode("renogy_controller", [b"\xff\x04" + CHARGING[2:]])
