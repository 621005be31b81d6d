"""EG4 LL lithium batteries (service 0x1000, write 0x1001, notify 0x1002).

Modbus RTU, slave 0x01: request ``01 03 0000 0027 <CRC>``, response
``01 03 4E <78 data bytes> <CRC16/Modbus LE>``. Big-endian: voltage 10 mV,
current signed 0.1 A (+ = charging), cells 1 mV, PCB temperature signed degC,
remaining capacity 0.1 Ah, SOH and SOC %, alarm bytes, cycles u32, six cell
temperature bytes (signed degC), cell count, rated capacity 0.1 Ah, balancing bits.
"""

from __future__ import annotations

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

SLAVE = 0x01
STATUS = Block("status", SLAVE, 0x03, 0x0000, 0x27)
MAX_CELLS = 16
CELL_OFFSET = 4
CELL_TEMPS_OFFSET, CELL_TEMPS = 66, 6
# an unfitted cell-temperature sensor reads 0xC8 (-56 degC) in captures
ABSENT_CELL_TEMPERATURE = (0xC8,)

FIELDS = (
    Field("voltage", 0, 2, 0.01),
    Field("current", 2, 2, 0.1, signed=True),
    Field("pcb_temperature", 36, 2, signed=True),
    Field("cycle_charge", 42, 2, 0.1),
    Field("battery_health", 46, 2, kind="int"),
    Field("battery_level", 48, 2, kind="int"),
    Field("problem_code", 52, 6, kind="int"),
    Field("cycles", 58, 4, kind="int"),
    Field("cell_count", 72, 2, kind="int"),
    Field("design_capacity", 74, 2, 0.1),
    Field("balancer", 76, 2, kind="bool"),
)
# firmware that does not fill these registers reports 0
OPTIONAL = ("cycle_charge", "design_capacity")


class Eg4Driver(ModbusDriver):
    """EG4 LL battery: one 39-register read per poll."""

    family = "eg4"
    title = "EG4 LL battery"
    service_uuid = uuid16(0x1000)
    notify_uuid = uuid16(0x1002)
    write_uuid = uuid16(0x1001)
    # manufacturer data carries the module's MAC address (80:6F:B0:... / CC:45:A5:...)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"service_uuid": uuid16(0x1000), "manufacturer_id": 0x6F80,
         "manufacturer_data_start": [0xB0], "connectable": True},
        {"manufacturer_id": 0x45CC, "manufacturer_data_start": [0xA5], "connectable": True},
    )
    slaves = frozenset({SLAVE})
    required_keys = ("voltage", "current")

    def poll(self) -> list[Block]:
        return [STATUS]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        data = self.require(tied, STATUS.name)
        out: dict[str, Any] = read_fields(self.family, data, FIELDS)
        cells = out.pop("cell_count")
        if cells > MAX_CELLS:
            raise self.error(f"{cells} cells reported, at most {MAX_CELLS} fit the frame")
        for key in OPTIONAL:
            if not out[key]:
                del out[key]
        out["cell_voltages"] = values_list(data, CELL_OFFSET, cells, 2, scale=0.001)
        out["temperatures"] = [out.pop("pcb_temperature"),
                               *values_list(data, CELL_TEMPS_OFFSET, CELL_TEMPS, 1, signed=True,
                                           absent=ABSENT_CELL_TEMPERATURE)]
        return out  # type: ignore[return-value]
