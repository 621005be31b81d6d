"""Renogy Rover / Wanderer solar charge controller behind a BT-1/BT-2 module (Modbus slave 0xFF).

Registers 0x000C-0x0013 model, 0x001A device address, 0x0100-0x0121 charging
information, 0xE004 battery type. Driven by a `SolarModel`: PV follows a day
curve and today's yield accumulates. `device.problem_code` is the 32-bit fault word
0x0121-0x0122 (a test sets bits 16-30 to raise the Rover's faults); the map ends at
0x0121, as the Rover's 34-register read does. Variant "dcc" is a DCC50S DC-DC
charger (model RBC50D1S): it adds the status block 0x0120-0x0126 (DC-DC charging
state, the fault word laid out as Renogy documents it for DC-DC chargers, output
power, charging mode and ignition).
"""

from __future__ import annotations

from ..devices import uuid16
from ..framing import u
from ..model import SolarModel
from .modbus import ModbusDevice, words
from .renogy_battery import BT_GATT

STATES = ("deactivated", "activated", "mppt", "equalizing", "boost", "floating",
          "current_limiting")
DCC_CODES = {"mppt": 2, "equalizing": 3, "boost": 4, "floating": 5, "current_limiting": 6}
SOLAR_TO_HOUSE = 3  # charging mode register 0x0125


def temperature_byte(value: float) -> int:
    """Sign-magnitude temperature byte (bit 7 = negative)."""
    magnitude = min(0x7F, round(abs(value)))
    return magnitude | (0x80 if value < 0 else 0)


class RenogyControllerDevice(ModbusDevice):
    """Renogy Rover 40 A MPPT controller; `device.model` is a SolarModel."""

    family = "renogy_controller"
    local_name = "BT-TH-A1B2C3D4"
    service_uuids = (uuid16(0xFFD0),)
    manufacturer_data = {0x9860: bytes.fromhex("a1b2c3d4")}
    gatt = BT_GATT
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFD1)
    slave_ids = (0xFF,)

    def default_model(self) -> SolarModel:
        return SolarModel()

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        s: SolarModel = self.model
        b = s.battery
        charge_a = s.charge_current
        load_on = s.load_w > 0
        info = bytearray(68)
        info[0:2] = u(b.soc * 100, 2)
        info[2:4] = u(b.voltage * 10, 2)
        info[4:6] = u(charge_a * 100, 2)
        info[6] = temperature_byte(s.controller_temperature)
        info[7] = temperature_byte(b.temperatures[0])
        info[8:10] = u(b.voltage * 10 if load_on else 0, 2)
        info[10:12] = u(s.load_current * 100 if load_on else 0, 2)
        info[12:14] = u(s.load_w if load_on else 0, 2)
        info[14:16] = u(s.pv_voltage * 10, 2)
        info[16:18] = u(s.pv_current * 100, 2)
        info[18:20] = u(s.pv_power, 2)
        info[38:40] = u(s.energy_today, 2)
        info[56:60] = u(s.energy_total, 4)
        info[64] = 0x80 if load_on else 0x00
        info[65] = STATES.index(s.charging_state)
        info[66:68] = u(self.problem_code >> 16 & 0xFFFF, 2)
        regs = {
            **words(b"  RNG-CTRL-RVR40", 0x000C),
            0x001A: 0x0001,
            **words(bytes(info), 0x0100),
            0xE004: 0x0004,  # lithium
        }
        if self.variant == "dcc":
            regs.update(words(b"RBC50D1S".ljust(16, b"\x00"), 0x000C))
            regs.update({
                0x0120: DCC_CODES.get(s.charging_state, 0),
                0x0121: self.problem_code >> 16 & 0xFFFF,
                0x0122: self.problem_code & 0xFFFF,
                0x0123: 0,
                0x0124: round(charge_a * b.voltage),
                0x0125: SOLAR_TO_HOUSE,
                0x0126: 0,  # ignition off
            })
        return regs
