"""Renogy RIV4835CSH1S inverter-charger behind a BT-2 module (Modbus slave 0x20).

Registers 4000-4009 AC and battery, 4109 device address, 4327-4333 charging and
PV, 4408-4413 load; the model register 4311 is not answered (like the real
RIV4835CSH1S). Driven by a `SolarModel` whose load is the AC output.
"""

from __future__ import annotations

from ..devices import uuid16
from ..framing import u
from ..model import SolarModel
from .modbus import ModbusDevice, words
from .renogy_battery import BT_GATT

STATES = {"deactivated": 0, "mppt": 1, "boost": 2, "floating": 4}
AC_VOLTS, AC_HZ = 120.0, 60.0


def signed(value: float) -> int:
    """A signed 16-bit register."""
    return round(value) & 0xFFFF


class RenogyInverterDevice(ModbusDevice):
    """Renogy RIV4835CSH1S (48 V, 3500 W); `device.model` is a SolarModel."""

    family = "renogy_inverter"
    local_name = "BT-TH-66E5CDEB"
    service_uuids = (uuid16(0xFFD0),)
    manufacturer_data = {0x9860: bytes.fromhex("66e5cdeb")}
    gatt = BT_GATT
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFD1)
    slave_ids = (0x20, 0xFF)

    def default_model(self) -> SolarModel:
        return SolarModel()

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        s: SolarModel = self.model
        b = s.battery
        out_a = s.load_w / AC_VOLTS
        main = [0, 0, round(AC_VOLTS * 10), round(out_a * 100), round(AC_HZ * 100),
                round(b.voltage * 10), signed(s.controller_temperature * 10), 0, 0, 0]
        charging = [round(b.soc * 100), signed(-b.current * 10), round(s.pv_voltage * 10),
                    round(s.pv_power / s.pv_voltage * 10) if s.pv_voltage else 0, round(s.pv_power),
                    STATES[s.charging_state], round(max(0.0, s.pv_power * s.efficiency))]
        load = [round(out_a * 10), round(s.load_w), round(s.load_w * 1.1), 0, 0,
                round(100 * s.load_w / 3500)]
        regs = {4109: 0x0020}
        for start, values in ((4000, main), (4327, charging), (4408, load)):
            regs.update(words(b"".join(u(v, 2) for v in values), start))
        return regs
