"""EPEver Tracer CPN controller with its built-in HN-series BLE module (Modbus RTU, slave 1).

Input registers (function 4) from EPEver's published map: 0x3100-0x3107 PV and
battery, 0x310C-0x3111 load and temperatures, 0x311A SOC, 0x3200-0x3202 status,
0x3300-0x3313 statistics, 0x331B-0x331C net battery current. Driven by a `SolarModel`.
`device.problem_code` holds the faults laid out as the driver's problem_code: battery
status in bits 0-15, charging status bits in 16-31, discharging status bits in 32-47;
an input-voltage or load-level field set there replaces the one the model reports.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, uuid16
from ..model import SolarModel
from .modbus import ModbusDevice

STAGES = {"deactivated": 0, "floating": 1, "boost": 2, "mppt": 2, "equalizing": 3}


def pair(value: float) -> tuple[int, int]:
    """A 32-bit value in 0.01 units as (low word, high word)."""
    raw = round(value * 100) & 0xFFFFFFFF
    return raw & 0xFFFF, raw >> 16


def centi(value: float) -> int:
    """A signed 16-bit register in 0.01 units."""
    return round(value * 100) & 0xFFFF


def with_faults(state: int, faults: int, fields: int) -> int:
    """A status word: the model's state, its numbered fields replaced where `faults` sets them."""
    for shift in (12, 14):
        field = fields & 0x3 << shift
        if faults & field:
            state &= ~field
    return state | faults


class EpeverDevice(ModbusDevice):
    """EPEver Tracer 4210CPN; `device.model` is a SolarModel."""

    family = "epever"
    local_name = "HN_5F2A1C"
    gatt = {uuid16(0x2B00): {uuid16(0x2B10): NOTIFY, uuid16(0x2B14): WRITE, uuid16(0x2B16): NOTIFY}}
    notify_uuid = uuid16(0x2B10)
    write_uuid = uuid16(0x2B14)
    slave_ids = (0x01,)

    def default_model(self) -> SolarModel:
        return SolarModel()

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x04:
            return {}
        s: SolarModel = self.model
        b = s.battery
        charge_a = s.charge_current
        load_on = s.load_w > 0
        charging = 0x0001 if s.pv_power > 0 else 0x4000  # running / no input power
        charging |= STAGES[s.charging_state] << 2
        regs = {
            0x3100: centi(s.pv_voltage), 0x3101: centi(s.pv_current),
            0x3102: pair(s.pv_power)[0], 0x3103: pair(s.pv_power)[1],
            0x3104: centi(b.voltage), 0x3105: centi(charge_a),
            0x3106: pair(charge_a * b.voltage)[0], 0x3107: pair(charge_a * b.voltage)[1],
            0x310C: centi(b.voltage if load_on else 0), 0x310D: centi(s.load_current if load_on else 0),
            0x310E: pair(s.load_w if load_on else 0)[0], 0x310F: pair(s.load_w if load_on else 0)[1],
            0x3110: centi(b.temperatures[0]), 0x3111: centi(s.controller_temperature),
            0x311A: round(b.soc * 100),
            0x3200: self.problem_code & 0xFFFF,
            0x3201: with_faults(charging, self.problem_code >> 16 & 0xFFFF, 0xC000),
            0x3202: with_faults(0x1001 if load_on else 0x0000,
                                self.problem_code >> 32 & 0xFFFF, 0xF000),
            0x331B: pair(b.current)[0], 0x331C: pair(b.current)[1],
        }
        stats = [0] * 0x14
        stats[0], stats[2] = centi(s.pv_voltage), centi(b.voltage)
        for offset, wh in ((12, s.energy_today), (18, s.energy_total)):
            stats[offset], stats[offset + 1] = pair(wh / 1000)
        regs.update({0x3300 + i: v for i, v in enumerate(stats)})
        return regs
