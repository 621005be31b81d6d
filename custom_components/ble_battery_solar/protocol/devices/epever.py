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
discharging status in bits 32-47 (without the running bit and the load level,
except level 3, overload). Sources disagree on little: epever-ble reads the same
registers; the energy counters are shown in Wh (x 10).

The status words' meanings (EPEver's map; sinf/epever-2206an-scripts decodes the
same bits from a Tracer 2206AN): battery D3-D0 is a number (1 over-voltage,
2 under-voltage, 3 low-voltage disconnect, 4 fault), D7-D4 too (1 over-, 2 under-
temperature against the warning settings), D8 inner resistance abnormal, D15 rated
voltage not recognised. Charging D15-D14 input voltage (2 too high, 3 error), D13
charging MOSFET short, D12 charging or anti-reverse MOSFET short, D11 anti-reverse
MOSFET short, D10 input over-current, D9 load over-current, D8 load short, D7 load
MOSFET short, D4 PV input short, D1 fault. Discharging D15-D14 its input (the
battery) voltage (1 low, 2 high, 3 no access), D11 short circuit, D10 unable to
discharge, D9 unable to stop discharging, D8 output voltage abnormal, D7 input
over-voltage, D6 short circuit on the high-voltage side, D5 boost over-voltage, D4
output over-voltage, D1 fault. The numbered fields are decoded as `Coded` values,
so "3 low-voltage disconnect" never reads as over- and under-voltage at once.
Where sinf's scripts differ (load level in D14-D12), EPEver's map is followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.alarms import (
    AlarmBit,
    AlarmKey,
    Coded,
    fault,
    protection,
    warning,
)
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
CHARGING_BITS, DISCHARGING_BITS = 16, 32  # where the status words sit in problem_code

ALARMS: dict[AlarmKey, AlarmBit] = {
    # battery status
    Coded(0, 4, 1): protection("battery_overvoltage"),
    Coded(0, 4, 2): warning("battery_undervoltage"),
    Coded(0, 4, 3): protection("battery_overdischarge"),  # low-voltage disconnect
    Coded(0, 4, 4): fault("battery_fault"),
    Coded(4, 4, 1): warning("battery_overtemperature"),
    Coded(4, 4, 2): warning("battery_undertemperature"),
    8: warning("battery_internal_resistance"),
    15: fault("battery_voltage_unrecognised"),
    # charging status
    CHARGING_BITS + 1: fault("controller_fault"),  # the charging circuit's summary bit
    CHARGING_BITS + 4: fault("pv_short_circuit"),
    CHARGING_BITS + 7: fault("controller_mosfet_fault"),  # load MOSFET short
    CHARGING_BITS + 8: protection("load_short_circuit"),
    CHARGING_BITS + 9: protection("load_overcurrent"),
    CHARGING_BITS + 10: protection("pv_overcurrent"),
    CHARGING_BITS + 11: fault("controller_mosfet_fault"),  # anti-reverse MOSFET short
    CHARGING_BITS + 12: fault("controller_mosfet_fault"),  # charging or anti-reverse
    CHARGING_BITS + 13: fault("controller_mosfet_fault"),  # charging MOSFET short
    Coded(CHARGING_BITS + 14, 2, 2): protection("pv_overvoltage"),
    Coded(CHARGING_BITS + 14, 2, 3): fault("pv_input_error"),
    # discharging (load) status
    DISCHARGING_BITS + 1: fault("controller_fault"),  # the load circuit's summary bit
    DISCHARGING_BITS + 4: fault("load_fault"),  # output over-voltage
    DISCHARGING_BITS + 5: fault("load_fault"),  # boost over-voltage
    DISCHARGING_BITS + 6: fault("load_fault"),  # short circuit on the high-voltage side
    DISCHARGING_BITS + 7: protection("battery_overvoltage"),  # its input over-voltage
    DISCHARGING_BITS + 8: fault("load_fault"),  # output voltage abnormal
    DISCHARGING_BITS + 9: fault("load_fault"),  # unable to stop discharging
    DISCHARGING_BITS + 10: fault("load_fault"),  # unable to discharge
    DISCHARGING_BITS + 11: protection("load_short_circuit"),
    Coded(DISCHARGING_BITS + 12, 2, 3): protection("load_overcurrent"),  # overload
    Coded(DISCHARGING_BITS + 14, 2, 1): warning("battery_undervoltage"),
    Coded(DISCHARGING_BITS + 14, 2, 2): protection("battery_overvoltage"),
    Coded(DISCHARGING_BITS + 14, 2, 3): fault("battery_fault"),  # no battery
}


def swapped_u32(data: bytes, offset: int) -> int:
    """Unsigned 32-bit value stored as two registers, low word first."""
    return read_int(data, offset, 2) | read_int(data, offset + 2, 2) << 16


def charging_faults(word: int) -> int:
    """Fault bits of the charging status word (states removed, see the module doc)."""
    faults = word & ~(CHARGING_RUNNING | CHARGING_STAGE)
    if faults & INPUT_STATUS == NO_INPUT_POWER:  # no PV at night is no fault
        faults &= ~INPUT_STATUS
    return faults


def discharging_faults(word: int) -> int:
    """Fault bits of the discharging status word (states removed, overload kept)."""
    faults = word & ~DISCHARGING_RUNNING
    if faults & LOAD_LEVEL != LOAD_LEVEL:  # light, moderate or rated load is no fault
        faults &= ~LOAD_LEVEL
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
    alarm_bits = ALARMS

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
        out["problem_code"] = (battery | charging_faults(charging) << CHARGING_BITS
                               | discharging_faults(discharging) << DISCHARGING_BITS)
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
