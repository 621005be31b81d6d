"""LiTime BT-LTMPPT2430 MPPT controller: Modbus slave 1 over the single characteristic 0xFFE1.

Answers the read of registers 0x0101-0x0113 (SOC, battery, temperatures, load,
PV voltage, today's and total yield, load and charging state). Driven by a `SolarModel`.
"""

from __future__ import annotations

from ..devices import uuid16
from ..framing import u
from ..model import SolarModel
from .modbus import ModbusDevice, words
from .renogy_controller import STATES, temperature_byte


class LitimeMpptDevice(ModbusDevice):
    """LiTime 30 A MPPT controller; `device.model` is a SolarModel."""

    family = "litime_mppt"
    local_name = "BT-LTMPPT2430"
    service_uuids = (uuid16(0xFFE0),)
    gatt = {uuid16(0xFFE0): {uuid16(0xFFE1): ("write", "write-without-response", "notify")}}
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE1)
    slave_ids = (0x01,)
    battery_probe = True

    def default_model(self) -> SolarModel:
        return SolarModel()

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        s: SolarModel = self.model
        b = s.battery
        charge_a = s.charge_current
        load_on = s.load_w > 0
        data = bytearray(38)
        data[0:2] = u(b.soc * 100, 2)
        data[2:4] = u(b.voltage * 10, 2)
        data[4:6] = u(charge_a * 100, 2)
        data[6:8] = u(charge_a * b.voltage, 2)
        data[8] = temperature_byte(s.controller_temperature)
        data[9] = temperature_byte(b.temperatures[0]) if self.battery_probe else 0xFF
        data[10:12] = u(b.voltage * 10 if load_on else 0, 2)
        data[12:14] = u(s.load_current * 100 if load_on else 0, 2)
        data[14:16] = u(s.load_w if load_on else 0, 2)
        data[16:18] = u(s.pv_voltage * 10, 2)
        data[18:20] = u(s.pv_power, 2)
        data[20:22] = u(s.energy_today, 2)
        data[24] = 0x80 if load_on else 0x00
        data[25] = STATES.index(s.charging_state)
        data[28:30] = u(42, 2)
        data[30:34] = u(s.energy_total, 4)
        return words(bytes(data), 0x0101)
