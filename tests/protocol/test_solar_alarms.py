"""Solar controllers' fault words decode into named conditions; unnamed bits stay in problem_code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    CONDITIONS,
    active_alarms,
    decode,
    get_driver,
    unnamed_bits,
)
from custom_components.ble_battery_solar.protocol.alarms import (
    AlarmTable,
    Coded,
    check_table,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus

from .vectors import VECTORS

BY_ID = {v["id"]: v for v in VECTORS}
ROVER_MODEL = bytes.fromhex(BY_ID["renogy_controller_1"]["frames"][0])
ROVER_CHARGING = bytes.fromhex(BY_ID["renogy_controller_1"]["frames"][2])
DCC_STATUS = bytes.fromhex(BY_ID["renogy_controller_2"]["frames"][0])
SRNE = [bytes.fromhex(f) for f in BY_ID["srne_1"]["frames"]]
EPEVER_PV = bytes.fromhex(BY_ID["epever_1"]["frames"][0])
# bits of the Rover's fault word (0x0121 << 16 | 0x0122) and what they are
ROVER = {
    16: ("battery_overdischarge", "protection"),
    17: ("battery_overvoltage", "protection"),
    18: ("battery_undervoltage", "warning"),
    19: ("load_short_circuit", "protection"),
    20: ("load_overcurrent", "protection"),
    21: ("controller_overtemperature", "protection"),
    22: ("ambient_overtemperature", "protection"),
    23: ("pv_overpower", "protection"),
    24: ("pv_short_circuit", "fault"),
    25: ("pv_overvoltage", "protection"),
    26: ("pv_reverse_current", "protection"),
    27: ("pv_overvoltage", "warning"),
    28: ("pv_reverse_polarity", "fault"),
    29: ("controller_mosfet_fault", "fault"),
    30: ("controller_mosfet_fault", "fault"),
}
DCC = {
    0: "battery_overdischarge", 1: "battery_overvoltage", 2: "battery_undervoltage",
    5: "controller_overtemperature", 6: "battery_overtemperature", 7: "pv_overpower",
    8: "fan_fault", 9: "pv_overvoltage", 12: "pv_reverse_polarity",
    20: "controller_overtemperature", 21: "alternator_overcurrent",
    24: "alternator_overvoltage", 25: "starter_reverse_polarity",
    26: "bms_charge_protection", 27: "charge_undertemperature",
}


def modbus(slave: int, function: int, data: bytes) -> bytes:
    body = bytes((slave, function, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(frame: bytes, offset: int, value: bytes) -> bytes:
    data = bytearray(frame[3:-2])
    data[offset : offset + len(value)] = value
    return modbus(frame[0], frame[1], bytes(data))


def alarms_of(family: str, frames: list[bytes], variant: str | None = None) -> dict[str, str]:
    code = decode(family, frames, variant=variant)["problem_code"]
    return dict(active_alarms(get_driver(family)(variant).alarm_table(), code))


def epever_status(battery: int, charging: int, discharging: int) -> list[bytes]:
    words = b"".join(w.to_bytes(2, "big") for w in (battery, charging, discharging))
    return [EPEVER_PV, modbus(0x01, 0x04, words)]


@pytest.mark.parametrize(("family", "variant"), [
    ("renogy_controller", None), ("renogy_controller", "dcc"), ("srne", None), ("epever", None)])
def test_solar_tables_use_the_vocabulary_and_decode_something(
    family: str, variant: str | None
) -> None:
    table = get_driver(family)(variant).alarm_table()
    check_table(family, table)
    assert table


@pytest.mark.parametrize("family", ["renogy_inverter", "renogy_shunt", "litime_mppt", "votronic"])
def test_families_whose_protocol_names_no_fault_bits_decode_none(family: str) -> None:
    assert get_driver(family)().alarm_table() == {}


@pytest.mark.parametrize("bit", sorted(ROVER))
def test_every_rover_fault_bit_from_the_charging_block(bit: int) -> None:
    frames = [ROVER_MODEL, patched(ROVER_CHARGING, 66, (1 << bit - 16).to_bytes(2, "big"))]
    sample = decode("renogy_controller", frames)
    assert sample["problem_code"] == 1 << bit
    assert alarms_of("renogy_controller", frames) == dict([ROVER[bit]])


def test_the_real_rover_capture_reports_no_fault() -> None:
    frames = [bytes.fromhex(f) for f in BY_ID["renogy_controller_1"]["frames"]]
    assert decode("renogy_controller", frames)["problem_code"] == 0


def test_a_dc_dc_charger_polled_as_a_rover_reports_no_rover_faults() -> None:
    faulty = patched(ROVER_CHARGING, 66, (1 << 8).to_bytes(2, "big"))  # DCC: alternator OV
    dcc_model = modbus(0xFF, 0x03, b"RBC50D1S-G6".ljust(16, b"\x00"))
    sample = decode("renogy_controller", [dcc_model, faulty])
    assert sample["model"] == "RBC50D1S-G6"
    assert "problem_code" not in sample  # not "PV short circuit" (the Rover's bit 24)
    # without the model read the device is unknown: no fault word either
    assert "problem_code" not in decode("renogy_controller", [faulty])
    blank = modbus(0xFF, 0x03, bytes(16))  # some Rovers answer a blank model
    assert decode("renogy_controller", [blank, faulty])["problem_code"] == 1 << 24


@given(st.integers(0, 0xFFFF))
def test_rover_word_is_exact_and_reserved_bits_stay_unnamed(high: int) -> None:
    frame = patched(ROVER_CHARGING, 66, high.to_bytes(2, "big"))
    code = decode("renogy_controller", [ROVER_MODEL, frame])["problem_code"]
    assert type(code) is int
    assert code == high << 16
    table = get_driver("renogy_controller")().alarm_table()
    assert unnamed_bits(table, code) == code & 1 << 31
    assert set(active_alarms(table, code)) == {ROVER[b][0] for b in ROVER if code >> b & 1}


def test_srne_reads_the_whole_word_and_keeps_reserved_low_bits() -> None:
    charging = SRNE[4]
    word = 1 << 28 | 1 << 19 | 1 << 3  # PV reversed, load short, a reserved bit
    frames = [*SRNE[:4], patched(charging, 66, word.to_bytes(4, "big")), SRNE[5]]
    assert decode("srne", frames)["problem_code"] == word
    assert alarms_of("srne", frames) == {
        "pv_reverse_polarity": "fault", "load_short_circuit": "protection"}
    assert unnamed_bits(get_driver("srne")().alarm_table(), word) == 1 << 3
    assert alarms_of("srne", SRNE) == {"pv_overpower": "protection", "battery_undervoltage": "warning"}


@pytest.mark.parametrize("bit", sorted(DCC))
def test_every_dcc_fault_bit_from_the_status_block(bit: int) -> None:
    frame = patched(DCC_STATUS, 2, (1 << bit).to_bytes(4, "big"))
    assert list(alarms_of("renogy_controller", [frame], "dcc")) == [DCC[bit]]


def test_dcc_severities_and_untranslated_bits() -> None:
    frame = patched(DCC_STATUS, 2, (1 << 20 | 1 << 5 | 1 << 22).to_bytes(4, "big"))
    table = get_driver("renogy_controller")("dcc").alarm_table()
    code = decode("renogy_controller", [frame], variant="dcc")["problem_code"]
    # "over temperature 2" warns, b5 protects: the higher severity shows
    assert active_alarms(table, code) == {"controller_overtemperature": "protection"}
    assert unnamed_bits(table, code) == 1 << 22  # a bit no source translates
    assert alarms_of("renogy_controller", [DCC_STATUS], "dcc") == {}


@pytest.mark.parametrize(("status", "expected"), [
    ((0x0001, 0x0001, 0), {"battery_overvoltage": "protection"}),
    ((0x0002, 0x0001, 0), {"battery_undervoltage": "warning"}),
    # 3 is low-voltage disconnect: not over- and under-voltage at once
    ((0x0003, 0x0001, 0), {"battery_overdischarge": "protection"}),
    ((0x0004, 0x0001, 0), {"battery_fault": "fault"}),
    ((0x0010, 0x0001, 0), {"battery_overtemperature": "warning"}),
    ((0x0020, 0x0001, 0), {"battery_undertemperature": "warning"}),
    ((0x8100, 0x0001, 0), {"battery_internal_resistance": "warning",
                           "battery_voltage_unrecognised": "fault"}),
    ((0, 0x8001, 0), {"pv_overvoltage": "protection"}),
    ((0, 0xC003, 0), {"pv_input_error": "fault", "controller_fault": "fault"}),
    ((0, 0x4000, 0), {}),  # no PV at night
    ((0, 0x0411, 0), {"pv_overcurrent": "protection", "pv_short_circuit": "fault"}),
    ((0, 0x2001, 0), {"controller_mosfet_fault": "fault"}),
    ((0, 0x0301, 0), {"load_short_circuit": "protection", "load_overcurrent": "protection"}),
    ((0, 0x0001, 0x0801), {"load_short_circuit": "protection"}),
    ((0, 0x0001, 0x3001), {"load_overcurrent": "protection"}),  # overload
    ((0, 0x0001, 0x2001), {}),  # rated load
    ((0, 0x0001, 0x0703), {"load_fault": "fault", "controller_fault": "fault"}),
    ((0, 0x0001, 0x0101), {"load_fault": "fault"}),
    ((0, 0x0001, 0x4000), {"battery_undervoltage": "warning"}),
    ((0, 0x0001, 0x8080), {"battery_overvoltage": "protection"}),
    ((0, 0x0001, 0xC000), {"battery_fault": "fault"}),
])
def test_epever_status_words(status: tuple[int, int, int], expected: dict[str, str]) -> None:
    assert alarms_of("epever", epever_status(*status)) == expected


def test_the_epever_capture_with_faults() -> None:
    frames = [bytes.fromhex(f) for f in BY_ID["epever_2"]["frames"]]
    assert alarms_of("epever", frames) == {
        "load_short_circuit": "protection", "load_fault": "fault",
        "battery_overtemperature": "warning"}


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_epever_unnamed_bits_are_exactly_what_no_key_explains(
    battery: int, charging: int, discharging: int
) -> None:
    code = decode("epever", epever_status(battery, charging, discharging))["problem_code"]
    table = get_driver("epever")().alarm_table()
    rest = unnamed_bits(table, code)
    assert rest & ~code == 0  # never invents a bit
    for key in table:
        if isinstance(key, Coded):
            if key.matches(code):
                assert rest & key.mask == 0
        else:
            assert not rest >> key & 1
    # a battery-voltage value no source names (5-15) stays raw, as do the reserved bits
    if battery & 0xF > 4:
        assert rest & 0xF == battery & 0xF
    assert rest & 0x7E00 == code & 0x7E00


def test_coded_fields_do_not_read_as_their_bits() -> None:
    table: AlarmTable = {Coded(0, 4, 1): ("battery_overvoltage", "protection"),
                         Coded(0, 4, 2): ("battery_undervoltage", "warning"), 5: (
                             "battery_fault", "fault")}
    assert active_alarms(table, 0x3) == {}
    assert unnamed_bits(table, 0x3) == 0x3  # a value no key names stays raw
    assert unnamed_bits(table, 0x22) == 0x0
    assert active_alarms(table, 0x22) == {"battery_undervoltage": "warning", "battery_fault": "fault"}
    assert list(active_alarms(table, 0x21)) == [
        c for c in CONDITIONS if c in {"battery_overvoltage", "battery_fault"}]
    with pytest.raises(ValueError, match="alarm bit"):
        check_table("x", {Coded(0, 2, 4): ("battery_fault", "fault")})
    with pytest.raises(ValueError, match="alarm bit"):
        check_table("x", {Coded(0, 2, 0): ("battery_fault", "fault")})
