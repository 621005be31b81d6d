"""Daly smart BMS over BLE (Modbus-style; service 0xFFF0, notify 0xFFF1, write 0xFFF2).

Request ``D2 03 <start BE> <count BE> <CRC16/Modbus LE>``, response
``D2 03 <byte count> <data BE> <CRC LE>``. The status block starts at register
0x0000 and is read as 62 registers (with the MOSFET-temperature block 0x003E x 9
read separately) or, on newer boards, as 80 registers in one go. Cells 1 mV,
temperatures degC + 40, voltage 0.1 V, current (raw - 30000) x 0.1 A
(+ = charging), SOC 0.1 %, remaining capacity 0.1 Ah. Most boards answer
from address 0xD2; ESS-DL boards answer from 0x51.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import (
    Field,
    Matcher,
    read_fields,
    uuid16,
    values_list,
)
from custom_components.ble_battery_solar.protocol.modbus import Block, ModbusDriver
from custom_components.ble_battery_solar.protocol.models import Sample

SLAVE = 0xD2
# ESS-DL boards answer with the RS485 convention: request address 0x81 - 0x80 + 0x50 = 0x51
ESS_SLAVE = 0x51
ABSENT_MOS_TEMPERATURE = (0x0000, 0xFFFF)  # no MOSFET sensor fitted
MAX_CELLS = 32
MAX_TEMPS = 8
TEMP_OFFSET = 64  # 8 NTC words follow the 32 cell words
MOS_TEMP_OFFSET = 8  # in the 0x003E block (register 0x0042)

MOS = Block("MOSFET temperature", SLAVE, 0x03, 0x003E, 9)
STATUS_62 = Block("status (62 registers)", SLAVE, 0x03, 0x0000, 62)
STATUS_80 = Block("status (80 registers)", SLAVE, 0x03, 0x0000, 80)

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
    slaves = frozenset({SLAVE, ESS_SLAVE})
    required_keys = ("voltage", "current")

    def poll(self) -> list[Block]:
        if self.variant is not None and _EIGHTY.search(self.variant):
            return [STATUS_80]
        return [MOS, STATUS_62]

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        # every frame of one poll comes from the address the first one names
        return [Block(b.name, frames[0][0], b.function, b.start, b.count)
                for b in (MOS, STATUS_62, STATUS_80)]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
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
