"""EPEver Tracer solar charge controllers over BLE: Tracer CPN/AN/BN with the built-in
HN-series module (advertised ``HN_…``) and the BLE-RJ45 dongle.

The module bridges Modbus RTU unchanged: requests are written to 0x2B14 and the
answers arrive as notifications on 0x2B10 (service 0x2B00), slave 1 unless set
otherwise (eliasweingaertner/epever-ble, from a Tracer CPN 7810's GATT table and
HCI logs). The registers are EPEver's published map ("Tracer A/B series
controller protocol" V2.5), input registers read with function 0x04:

- 0x3100 x 8: PV voltage, current (0.01), PV power (0.01 W, 32-bit, low word
  first), battery voltage, charging current, charging power.
- 0x310C x 6: load voltage, current, power (32-bit), battery and controller
  temperature (0.01 degC, signed).
- 0x311A x 1: battery SOC %.
- 0x3200 x 3: battery status, charging status (D3-D2: 0 no charging, 1 float,
  2 boost, 3 equalisation; D0 running; D1 fault; D15-D14 input voltage status;
  the rest fault bits), discharging status (D0 load running, D13-D12 output
  power level; the rest fault bits).
- 0x3300 x 0x14: daily extremes and the consumed and generated energy
  counters (day, month, year, total; 0.01 kWh, 32-bit low word first).
- 0x331B x 2: net battery current (0.01 A, signed 32-bit, + = charging).

`problem_code` packs the three status words with their operating states
removed: battery status in bits 0-15, charging status in bits 16-31 (without
the running bit, the charging stage and the normal "no input power" at night),
discharging status in bits 32-47 (without the running bit and the load level).
Sources disagree on little: epever-ble reads the same registers; the
energy counters are shown in Wh (x 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import (
    Field,
    Matcher,
    read_fields,
    read_int,
    uuid16,
)
from custom_components.ble_battery_solar.protocol.modbus import Block, ModbusDriver
from custom_components.ble_battery_solar.protocol.models import Sample

SLAVE = 0x01
MODBUS_UNICAST = range(0x01, 0xF8)

PV_BATTERY = Block("PV and battery", SLAVE, 0x04, 0x3100, 8)
LOAD_TEMPERATURES = Block("load and temperatures", SLAVE, 0x04, 0x310C, 6)
SOC = Block("battery SOC", SLAVE, 0x04, 0x311A, 1)
STATUS = Block("status", SLAVE, 0x04, 0x3200, 3)
STATISTICS = Block("statistics", SLAVE, 0x04, 0x3300, 0x14)
NET_CURRENT = Block("battery current", SLAVE, 0x04, 0x331B, 2)
BLOCKS = (PV_BATTERY, LOAD_TEMPERATURES, SOC, STATUS, STATISTICS, NET_CURRENT)

PV_FIELDS = (
    Field("pv_voltage", 0, 2, 0.01),
    Field("pv_current", 2, 2, 0.01),
    Field("voltage", 8, 2, 0.01),
    Field("charging_current", 10, 2, 0.01),
)
LOAD_FIELDS = (
    Field("load_voltage", 0, 2, 0.01),
    Field("load_current", 2, 2, 0.01),
    Field("battery_temperature", 8, 2, 0.01, signed=True),
    Field("controller_temperature", 10, 2, 0.01, signed=True),
)
SOC_FIELD = Field("battery_level", 0, 2, kind="int")
NET_CURRENT_FIELD = Field("current", 0, 4, 0.01, signed=True)
STAGES = ("deactivated", "floating", "boost", "equalizing")
# energy counters in 0.01 kWh = 10 Wh, 32-bit with the low word first
GENERATED_TODAY, GENERATED_TOTAL = 24, 36
CHARGING_RUNNING, CHARGING_STAGE = 0x0001, 0x000C
INPUT_STATUS, NO_INPUT_POWER = 0xC000, 0x4000
DISCHARGING_RUNNING, LOAD_LEVEL = 0x0001, 0x3000


def swapped_u32(data: bytes, offset: int) -> int:
    """Unsigned 32-bit value stored as two registers, low word first."""
    return read_int(data, offset, 2) | read_int(data, offset + 2, 2) << 16


def charging_faults(word: int) -> int:
    """Fault bits of the charging status word (states removed, see the module doc)."""
    faults = word & ~(CHARGING_RUNNING | CHARGING_STAGE)
    if faults & INPUT_STATUS == NO_INPUT_POWER:  # no PV at night is no fault
        faults &= ~INPUT_STATUS
    return faults


class EpeverDriver(ModbusDriver):
    """EPEver Tracer controller behind the HN-series BLE module or BLE-RJ45 dongle."""

    family = "epever"
    title = "EPEver Tracer solar charge controller"
    kind = "controller"
    service_uuid = uuid16(0x2B00)
    notify_uuid = uuid16(0x2B10)
    write_uuid = uuid16(0x2B14)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "HN_*", "connectable": True},
    )
    slaves = frozenset(MODBUS_UNICAST)
    functions = frozenset({0x04})
    required_keys = ("voltage", "pv_voltage", "charging_state")

    def poll(self) -> list[Block]:
        return list(BLOCKS)

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        slave = frames[0][0]
        return [Block(b.name, slave, b.function, b.start, b.count) for b in BLOCKS]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        out: dict[str, Any] = {}
        pv = self.require(tied, PV_BATTERY.name)
        out.update(read_fields(self.family, pv, PV_FIELDS))
        out["pv_power"] = round(swapped_u32(pv, 4) * 0.01, 2)
        out["charging_power"] = round(swapped_u32(pv, 12) * 0.01, 2)
        charging_current = out.pop("charging_current")
        load = self.data_of(tied, LOAD_TEMPERATURES.name)
        if load is not None:
            out.update(read_fields(self.family, load, LOAD_FIELDS))
            out["load_power"] = round(swapped_u32(load, 4) * 0.01, 2)
        soc = self.data_of(tied, SOC.name)
        if soc is not None:
            out.update(read_fields(self.family, soc, (SOC_FIELD,)))
        status = self.require(tied, STATUS.name)
        battery, charging, discharging = (read_int(status, i, 2) for i in (0, 2, 4))
        out["charging_state"] = STAGES[(charging & CHARGING_STAGE) >> 2]
        out["load_on"] = bool(discharging & DISCHARGING_RUNNING)
        out["problem_code"] = (battery | charging_faults(charging) << 16
                               | (discharging & ~(DISCHARGING_RUNNING | LOAD_LEVEL)) << 32)
        statistics = self.data_of(tied, STATISTICS.name)
        if statistics is not None:
            out["energy_generated_today"] = swapped_u32(statistics, GENERATED_TODAY) * 10
            out["energy_generated_total"] = swapped_u32(statistics, GENERATED_TOTAL) * 10
        net = self.data_of(tied, NET_CURRENT.name)
        if net is not None:
            out.update(read_fields(self.family, net[2:4] + net[0:2], (NET_CURRENT_FIELD,)))
        else:  # without the net current, what the controller charges with
            out["current"] = charging_current
        return out  # type: ignore[return-value]
