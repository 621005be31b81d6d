"""Pylontech RT12/RT24/RT48 batteries (Telink module; service 00010203-…-1910, notify …2b10, write …2b11).

Modbus RTU, slave 0x01, function 0x03: the status block 0x1016 x 13 registers and
the serial number 0x2000 x 8 registers (16 ASCII characters, NUL when unset).
Big-endian: voltage 10 mV, current signed 0.1 A (+ = charging), the highest and
lowest cell voltage (1 mV), the highest and lowest temperature (signed 0.1 °C),
SOC %, SOH %, power (W, unsigned), an unknown register, lifetime energy
(0.1 kWh), the BMS's present current limit (0.1 A) and the design capacity
(0.1 Ah). The battery reports no single cells: the cell spread is the highest
minus the lowest cell, `temperatures` are [highest, lowest]; the remaining
charge is SOC x design capacity. Power is computed from voltage and current
(the register is unsigned).

The module advertises the Battery Service (0x180F) and HID (0x1812) with the
name "RT<voltage class><capacity>-<serial>" (RT12100-710003); the vendor service
is visible only after connecting. The Telink default name "GModule" is not
matched: it says nothing about the battery.

Source: patman15/aiobmsble aiobmsble/bms/pylontech_bms.py, tests/bms/test_pylontech_bms.py,
docs/pylontech_bms.md and aiobmsble/test_data/pylontech_bms.json
@b0567331025033d33729385fa89a1198275d6486 (a capture of an RT12100G31 discharging at
4.8 A; the register map was found by measurement on that unit, there is no public
documentation). The source reports [max, min] as two cell voltages and floors the
design capacity to whole Ah; here the capacity is exact and the two aggregates give
only the cell spread (two "cells" would not add up to the pack voltage).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ..base import Field, Matcher, read_fields, uuid16, values_list
from ..modbus import Block, ModbusDriver
from ..models import Advertisement, Sample

# "RT" + voltage class (12, 24, 36, 48 V) + capacity: RT12100, RT24200, RT48100
NAME = re.compile(r"RT[1-4][2468]")
BATTERY_SERVICE = uuid16(0x180F)
SLAVE = 0x01
STATUS = Block("status", SLAVE, 0x03, 0x1016, 13)
SERIAL = Block("serial number", SLAVE, 0x03, 0x2000, 8)

FIELDS = (
    Field("voltage", 0, 2, 0.01),
    Field("current", 2, 2, 0.1, signed=True),
    Field("cell_max", 4, 2, 0.001),
    Field("cell_min", 6, 2, 0.001),
    Field("battery_level", 12, 2, kind="int"),
    Field("battery_health", 14, 2, kind="int"),
    Field("design_capacity", 24, 2, 0.1),
)


class PylontechDriver(ModbusDriver):
    """Pylontech RT battery: the status block and the serial number each poll."""

    family = "pylontech"
    title = "Pylontech RT"
    service_uuid = "00010203-0405-0607-0809-0a0b0c0d1910"
    notify_uuid = "00010203-0405-0607-0809-0a0b0c0d2b10"
    write_uuid = "00010203-0405-0607-0809-0a0b0c0d2b11"
    # Home Assistant allows no pattern in a name matcher's first 3 characters, and the
    # Battery Service must not trigger discovery by itself: claims() checks both
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {"local_name": f"RT{digit}*", "connectable": True} for digit in "1234"
    )
    slaves = frozenset({SLAVE})
    required_keys = ("voltage", "current")

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        return NAME.match(adv.local_name or "") is not None and BATTERY_SERVICE in adv.service_uuids

    def poll(self) -> list[Block]:
        return [STATUS, SERIAL]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        data = self.require(tied, STATUS.name)
        out: dict[str, Any] = read_fields(self.family, data, FIELDS)
        high, low = out.pop("cell_max"), out.pop("cell_min")
        if low > high:
            raise self.error(f"lowest cell {low} V is above the highest {high} V")
        if not 0 < high <= 5:
            raise self.error(f"highest cell voltage {high} V is outside 0-5 V")
        out["delta_voltage"] = round(high - low, 3)
        out["temperatures"] = values_list(data, 8, 2, 2, scale=0.1, signed=True)
        for key in ("battery_level", "battery_health"):
            if out[key] > 100:
                raise self.error(f"{key} {out[key]} % is above 100")
        out["cycle_charge"] = round(out["design_capacity"] * out["battery_level"] / 100, 3)
        serial = self.data_of(tied, SERIAL.name)
        if serial is not None:
            text = serial.split(b"\x00", 1)[0].decode("ascii", "replace").strip()
            if text:
                out["serial_number"] = text
        return out  # type: ignore[return-value]
