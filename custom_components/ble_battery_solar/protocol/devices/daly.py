"""Daly smart BMS over BLE (Modbus-style; service 0xFFF0, notify 0xFFF1, write 0xFFF2).

Request ``D2 03 <start BE> <count BE> <CRC16/Modbus LE>``, response
``D2 03 <byte count> <data BE> <CRC LE>``. The status block starts at register
0x0000 and is read as 62 registers (with the MOSFET-temperature block 0x003E x 9
read separately) or, on newer boards, as 80 registers in one go. Cells 1 mV,
temperatures degC + 40, voltage 0.1 V, current (raw - 30000) x 0.1 A
(+ = charging), SOC 0.1 %, remaining capacity 0.1 Ah.

ESS-DL and 100Balance boards of the "P81" protocol (variant "p81") are asked
at address 0x81 and answer from 0x51 with another register map: registers
0-63 hold the cells (1 mV), 8 temperatures at 48 (degC + 40), voltage (56),
current (57) and SOC (58) as above, cell count (60) and sensor count (61);
registers 0x41-0x7E hold remaining capacity 0.1 Ah (0x4B), cycles (0x4C),
balancing (0x4D), MOSFET states (0x52, 0x53; 1 = on), MOSFET and board
temperature (0x5A, 0x5B; degC + 40). Answers from 0x51 are decoded with this
map whatever the variant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.alarms import (
    AlarmBit,
    fault,
    protection,
    warning,
)
from custom_components.ble_battery_solar.protocol.base import (
    CHARGE,
    DISCHARGE,
    Field,
    Matcher,
    crc16_modbus,
    read_fields,
    uuid16,
    values_list,
)
from custom_components.ble_battery_solar.protocol.modbus import (
    Block,
    ModbusDriver,
    crc_ok,
    read_request,
)
from custom_components.ble_battery_solar.protocol.models import Sample

SLAVE = 0xD2
# P81 boards answer with the RS485 convention: request address 0x81 - 0x80 + 0x50 = 0x51
P81_REQUEST, P81_SLAVE = 0x81, 0x51
ABSENT_MOS_TEMPERATURE = (0x0000, 0xFFFF)  # no MOSFET sensor fitted
MAX_CELLS = 32
MAX_TEMPS = 8
TEMP_OFFSET = 64  # 8 NTC words follow the 32 cell words
MOS_TEMP_OFFSET = 8  # in the 0x003E block (register 0x0042)

MOS = Block("MOSFET temperature", SLAVE, 0x03, 0x003E, 9)
STATUS_62 = Block("status (62 registers)", SLAVE, 0x03, 0x0000, 62)
STATUS_80 = Block("status (80 registers)", SLAVE, 0x03, 0x0000, 80)
P81_CELLS = Block("P81 cells and totals", P81_SLAVE, 0x03, 0x0000, 64)
P81_STATUS = Block("P81 status", P81_SLAVE, 0x03, 0x0041, 62)
P81_MAX_CELLS, P81_TEMPS_OFFSET = 48, 96

P81_CELL_FIELDS = (
    Field("voltage", 112, 2, 0.1),
    Field("current", 114, 2, 0.1, add=-30000),
    Field("battery_level", 116, 2, 0.1),
    Field("cell_count", 120, 2, kind="int"),
    Field("temp_count", 122, 2, kind="int"),
)
P81_STATUS_FIELDS = (
    Field("cycle_charge", 20, 2, 0.1),
    Field("cycles", 22, 2, kind="int"),
    Field("balancer", 24, 2, kind="bool"),
    Field("chrg_mosfet", 34, 2, kind="int"),
    Field("dischrg_mosfet", 36, 2, kind="int"),
)
P81_MOS_TEMP, P81_BOARD_TEMP = 50, 52

STATUS_FIELDS = (
    Field("voltage", 80, 2, 0.1),
    Field("current", 82, 2, 0.1, add=-30000),
    Field("battery_level", 84, 2, 0.1),
    Field("cycle_charge", 96, 2, 0.1),
    Field("cell_count", 98, 2, kind="int"),
    Field("temp_count", 100, 2, kind="int"),
    Field("cycles", 102, 2, kind="int"),
    Field("balancer", 104, 2, kind="bool"),
    Field("chrg_mosfet", 106, 2, kind="bool"),
    Field("dischrg_mosfet", 108, 2, kind="bool"),
    Field("delta_voltage", 112, 2, 0.001),
    Field("problem_code", 116, 8, kind="int"),
)

_EIGHTY = re.compile(r"\b80\b")


# Fault bitmap (registers 0x3A-0x3D read as one 64-bit big-endian word), as decoded by
# the ESPHome daly_bms_ble component: level 1 is a warning, level 2 a protection.
ALARM_BITS: dict[int, AlarmBit] = {
    16: warning("mosfet_overtemperature"),  # charge MOSFET
    17: warning("mosfet_overtemperature"),  # discharge MOSFET
    18: fault("sensor_fault"),  # charge MOSFET temperature sensor
    19: fault("sensor_fault"),  # discharge MOSFET temperature sensor
    20: fault("mosfet_fault"),  # charge MOSFET stuck closed
    21: fault("mosfet_fault"),  # discharge MOSFET stuck closed
    22: fault("mosfet_fault"),  # charge MOSFET circuit
    23: fault("mosfet_fault"),  # discharge MOSFET circuit
    24: fault("hardware_fault"),  # AFE acquisition chip
    25: fault("hardware_fault"),  # cell voltage collection offline
    26: fault("sensor_fault"),  # cell temperature sensor
    27: fault("hardware_fault"),  # EEPROM
    28: fault("hardware_fault"),  # real-time clock
    29: fault("hardware_fault"),  # precharge failed
    30: fault("hardware_fault"),  # vehicle communication
    31: fault("hardware_fault"),  # internal network module
    32: warning("charge_overcurrent"),
    33: protection("charge_overcurrent"),
    34: warning("discharge_overcurrent"),
    35: protection("discharge_overcurrent"),
    38: warning("low_state_of_charge"),
    39: protection("low_state_of_charge"),
    40: warning("cell_imbalance"),
    41: protection("cell_imbalance"),
    42: warning("temperature_difference"),
    43: protection("temperature_difference"),
    48: warning("cell_overvoltage"),
    49: protection("cell_overvoltage"),
    50: warning("cell_undervoltage"),
    51: protection("cell_undervoltage"),
    52: warning("pack_overvoltage"),
    53: protection("pack_overvoltage"),
    54: warning("pack_undervoltage"),
    55: protection("pack_undervoltage"),
    56: warning("charge_overtemperature"),
    57: protection("charge_overtemperature"),
    58: warning("charge_undertemperature"),
    59: protection("charge_undertemperature"),
    60: warning("discharge_overtemperature"),
    61: protection("discharge_overtemperature"),
    62: warning("discharge_undertemperature"),
    63: protection("discharge_undertemperature"),
}


class DalyDriver(ModbusDriver):
    """Daly BMS; variant "80" (or any variant naming 80 registers) reads the 80-register block."""

    family = "daly"
    title = "Daly smart BMS"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF2)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "DL-*", "service_uuid": uuid16(0xFFF0), "connectable": True},
        # Daly firmware puts a fixed "company id" in front of its manufacturer data
        {"manufacturer_id": 0x0102, "connectable": True},
        {"manufacturer_id": 0x0104, "connectable": True},
        {"manufacturer_id": 0x0302, "connectable": True},
        {"manufacturer_id": 0x0303, "connectable": True},
        {"manufacturer_id": 0x0402, "connectable": True},
    )
    slaves = frozenset({SLAVE, P81_SLAVE})
    # ESS-DL / 100Balance boards advertise like the others: a silent board is asked at 0x81
    probe_variants = ("p81",)
    required_keys = ("voltage", "current")
    alarm_bits: ClassVar[Mapping[int, AlarmBit]] = ALARM_BITS

    def poll(self) -> list[Block]:
        if self.variant is not None and "p81" in self.variant.lower():
            return [P81_CELLS, P81_STATUS]
        if self.variant is not None and _EIGHTY.search(self.variant):
            return [STATUS_80]
        return [MOS, STATUS_62]

    def requests(self) -> list[bytes]:
        return [_addressed(block.request) for block in self.poll()]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is not None and request[0] == P81_REQUEST:
            request = read_request(P81_SLAVE, request[1], int.from_bytes(request[2:4], "big"),
                                   int.from_bytes(request[4:6], "big"))
        return super().answers(request, frame)

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        # every frame of one poll comes from the address the first one names
        return [P81_CELLS, P81_STATUS] if frames[0][0] == P81_SLAVE else [MOS, STATUS_62, STATUS_80]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        if tied and tied[0][0].slave == P81_SLAVE:
            return self._decode_p81(tied)
        mos = self.data_of(tied, MOS.name)
        status = self.require(tied, STATUS_62.name, STATUS_80.name)
        out: dict[str, Any] = read_fields(self.family, status, STATUS_FIELDS)
        cells, temps = out.pop("cell_count"), out.pop("temp_count")
        if cells > MAX_CELLS:
            raise self.error(f"{cells} cells reported, at most {MAX_CELLS} fit the frame")
        if temps > MAX_TEMPS:
            raise self.error(f"{temps} temperature sensors reported, at most {MAX_TEMPS} fit")
        out["cell_voltages"] = values_list(status, 0, cells, 2, scale=0.001)
        temperatures = values_list(status, TEMP_OFFSET, temps, 2, add=-40)
        if mos is not None:
            temperatures[:0] = values_list(mos, MOS_TEMP_OFFSET, 1, 2, add=-40,
                                           absent=ABSENT_MOS_TEMPERATURE)
        out["temperatures"] = temperatures
        return out  # type: ignore[return-value]

    def _decode_p81(self, tied: list[tuple[Block, bytes]]) -> Sample:
        data = self.require(tied, P81_CELLS.name)
        out: dict[str, Any] = read_fields(self.family, data, P81_CELL_FIELDS)
        cells, temps = out.pop("cell_count"), out.pop("temp_count")
        if cells > P81_MAX_CELLS:
            raise self.error(f"{cells} cells reported, at most {P81_MAX_CELLS} fit the frame")
        if temps > MAX_TEMPS:
            raise self.error(f"{temps} temperature sensors reported, at most {MAX_TEMPS} fit")
        out["cell_voltages"] = values_list(data, 0, cells, 2, scale=0.001)
        temperatures = values_list(data, P81_TEMPS_OFFSET, temps, 2, add=-40)
        status = self.data_of(tied, P81_STATUS.name)
        if status is not None:
            values = read_fields(self.family, status, P81_STATUS_FIELDS)
            for key in ("chrg_mosfet", "dischrg_mosfet"):
                values[key] = values[key] == 1
            out.update(values)
            mosfet, board = values_list(status, P81_MOS_TEMP, 2, 2, add=-40)
            temperatures = [mosfet, *temperatures, board]
        out["temperatures"] = temperatures
        return out  # type: ignore[return-value]


    # --- opt-in control ------------------------------------------------------------
    # Function 0x06 writes one holding register: 0x00A5 charging MOSFET switch, 0x00A6
    # discharging (1 on, 0 off). The BMS echoes an accepted write and answers a refused
    # one with an exception (``D2 86 <code> <CRC>``). P81 boards have no such registers.

    control_acknowledged = True

    def control_switches(self) -> tuple[str, ...]:
        if self.variant is not None and "p81" in self.variant.lower():
            return ()
        return (CHARGE, DISCHARGE)

    def control_requests(self, switch: str, on: bool, state: Sample | None = None) -> list[bytes]:
        register = CONTROL_REGISTERS.get(switch)
        if register is None or switch not in self.control_switches():
            return []
        body = bytes((SLAVE, WRITE_REGISTER)) + register.to_bytes(2, "big") + bytes((0, int(on)))
        return [body + crc16_modbus(body).to_bytes(2, "little")]

    def control_reply(self, request: bytes, notifications: Sequence[bytes]) -> bool | None:
        buffer = b"".join(notifications)
        if request in buffer:  # the echo of an accepted write
            return True
        refusal = bytes((SLAVE, WRITE_REGISTER | 0x80))
        pos = buffer.find(refusal)
        if pos >= 0 and len(buffer) >= pos + 5 and crc_ok(buffer[pos : pos + 5]):
            return False
        return None


def _addressed(request: bytes) -> bytes:
    """A P81 block's request goes to address 0x81 (its answer comes from 0x51)."""
    if request[0] != P81_SLAVE:
        return request
    return read_request(P81_REQUEST, request[1], int.from_bytes(request[2:4], "big"),
                        int.from_bytes(request[4:6], "big"))


WRITE_REGISTER = 0x06
CONTROL_REGISTERS = {CHARGE: 0x00A5, DISCHARGE: 0x00A6}
