"""Renogy smart lithium batteries (Modbus RTU over a BT-2 module or built-in BLE).

Service 0xFFD0 (write 0xFFD1), notifications on 0xFFF1. Request
``<slave> 03 <reg BE> <count BE> <CRC16/Modbus LE>``; slave 0x30 for batteries
behind a BT-2 (legacy), 0xFF for the built-in BLE of Pro batteries.
Blocks: 0x13B2 x 7 pack status (current signed, voltage 0.1 V, remaining and
capacity mAh u32, cycles; hubs read 6 registers), 0x1388 x 0x22 cells and
temperatures (0.1 degC), 0x13EC x 8 alarm and status bits.

Several batteries behind a hub (or daisy-chained) share one BT module and
answer at consecutive slave ids from 0x30 (variant "hub:<n>" polls n of them);
each battery's values go to `packs`, the system's to the top level.

Scales differ by model: pack current is 0.01 A on legacy and RNGPRO batteries
but 0.1 A on RNGRBP/RNGC "Pro" batteries (variant "pro", chosen from the
advertisement by `variant_for`); cell voltages are 1 mV or 0.1 V, recognised
from their magnitude.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import (
    Field,
    Matcher,
    read_fields,
    read_int,
    uuid16,
    values_list,
)
from custom_components.ble_battery_solar.protocol.checks import summarise_packs
from custom_components.ble_battery_solar.protocol.modbus import Block, ModbusDriver
from custom_components.ble_battery_solar.protocol.models import Advertisement, Sample

LEGACY_SLAVE, PRO_SLAVE = 0x30, 0xFF
# batteries behind a hub or daisy-chained on one BT module answer at 0x30, 0x31 ... 0x3F
HUB_SLAVES = range(0x30, 0x40)
PRO_MANUFACTURER_ID = 0xE14C
VARIANTS = ("legacy", "pro", "rngpro")
MAX_CELLS = 16
MAX_TEMPS = 16
TEMP_COUNT_OFFSET = 34
TENTH_VOLT_LIMIT = 100  # a Li cell is 2-4.5 V: raw < 100 means 0.1 V units, else mV
OVERFULL = 1.05  # remaining capacity may exceed the rated one by a few per cent, not more

PACK_FIELDS = (
    Field("voltage", 2, 2, 0.1),
    Field("cycle_charge", 4, 4, 0.001),
    Field("design_capacity", 8, 4, 0.001),
)
CYCLES = Field("cycles", 12, 2, kind="int")
STATUS_FIELDS = (
    Field("chrg_mosfet", 13, 1, kind="bool", mask=0x02),
    Field("dischrg_mosfet", 13, 1, kind="bool", mask=0x04),
    Field("heater", 14, 1, kind="bool", mask=0x20),
)
_HUB = re.compile(r"hub:(\d+)")
MOSFET_BITS = 0x0E  # status bits in the last byte of the 14-byte alarm span


def blocks(slave: int) -> dict[str, Block]:
    """The blocks of a battery at a slave id."""
    return {
        "pack": Block("pack status", slave, 0x03, 0x13B2, 7),
        "pack_hub": Block("pack status (hub)", slave, 0x03, 0x13B2, 6),
        "cells": Block("cell status", slave, 0x03, 0x1388, 0x22),
        "status": Block("alarm status", slave, 0x03, 0x13EC, 8),
    }


class RenogyBatteryDriver(ModbusDriver):
    """Renogy battery; variants "legacy" (slave 0x30), "hub:<n>" (slaves 0x30...),
    "pro" and "rngpro" (slave 0xFF)."""

    family = "renogy_battery"
    title = "Renogy smart lithium battery"
    service_uuid = uuid16(0xFFD0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFD1)
    alternatives = ("srne", "renogy_controller", "renogy_inverter")  # BT-1/BT-2 modules sit on controllers and inverters too
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "BT-TH-*", "service_uuid": uuid16(0xFFD0), "connectable": True},
        {"local_name": "RNGC*", "manufacturer_id": PRO_MANUFACTURER_ID, "connectable": True},
        {"local_name": "RNGRBP*", "manufacturer_id": PRO_MANUFACTURER_ID, "connectable": True},
        {"local_name": "RNGPRO*", "connectable": True},
    )
    slaves = frozenset({*HUB_SLAVES, PRO_SLAVE})
    required_keys = ("voltage",)

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str:
        """Protocol variant of an advertised battery (names as renogy-ble detects them)."""
        name = (adv.local_name or "").strip()
        if name.startswith("RNGPRO"):
            return "rngpro"
        if name.startswith(("RNGC", "RNGRBP")) or PRO_MANUFACTURER_ID in adv.manufacturer_data:
            return "pro"
        return "legacy"

    def _slaves(self) -> list[int]:
        if self.variant is not None and (match := _HUB.search(self.variant)):
            count = min(max(int(match.group(1)), 1), len(HUB_SLAVES))
            return list(HUB_SLAVES[:count])
        return [LEGACY_SLAVE if self.variant in (None, "legacy") else PRO_SLAVE]

    def poll(self) -> list[Block]:
        polled = [blocks(slave) for slave in self._slaves()]
        return [b[key] for b in polled for key in ("pack", "cells", "status")]

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        # the batteries answer one after the other, each at its own slave id
        order = list(dict.fromkeys(frame[0] for frame in frames))
        polled = [blocks(slave) for slave in order]
        return [b[key] for b in polled for key in ("pack", "pack_hub", "cells", "status")]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        by_slave: dict[int, list[tuple[Block, bytes]]] = {}
        for block, frame in tied:
            by_slave.setdefault(block.slave, []).append((block, frame))
        packs = [self._battery(answers) | {"pack_address": slave}
                 for slave, answers in by_slave.items()]
        if len(packs) == 1:
            del packs[0]["pack_address"]
            return packs[0]  # type: ignore[return-value]
        out = summarise_packs(packs)
        out["packs"] = packs
        return out  # type: ignore[return-value]

    def _battery(self, tied: list[tuple[Block, bytes]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out.update(self._pack(self.require(tied, "pack status", "pack status (hub)")))
        cells = self.data_of(tied, "cell status")
        if cells is not None:
            out.update(self._cells(cells))
        status = self.data_of(tied, "alarm status")
        if status is not None:
            out.update(read_fields(self.family, status, STATUS_FIELDS))
            if self.variant != "rngpro":  # RNGPRO fills the alarm span with other data
                out["problem_code"] = read_int(status, 0, 14) & ~MOSFET_BITS
        return out

    def _pack(self, data: bytes) -> dict[str, Any]:
        values = read_fields(self.family, data, PACK_FIELDS)
        scale = 0.1 if self.variant == "pro" else 0.01
        values["current"] = round(read_int(data, 0, 2, signed=True) * scale, 6)
        if len(data) > CYCLES.offset:
            values.update(read_fields(self.family, data, (CYCLES,)))
        if values["cycle_charge"] > values["design_capacity"] * OVERFULL:
            raise self.error(
                f"remaining capacity {values['cycle_charge']} Ah exceeds the rated "
                f"{values['design_capacity']} Ah"
            )
        return values

    def _cells(self, data: bytes) -> dict[str, Any]:
        count = read_int(data, 0, 2)
        temps = read_int(data, TEMP_COUNT_OFFSET, 2)
        if count > MAX_CELLS:
            raise self.error(f"{count} cells reported, at most {MAX_CELLS} fit the frame")
        if temps > MAX_TEMPS:
            raise self.error(f"{temps} temperature sensors reported, at most {MAX_TEMPS} fit")
        raw = values_list(data, 2, count, 2)
        scale = 0.1 if all(v < TENTH_VOLT_LIMIT for v in raw) else 0.001
        return {
            "cell_voltages": [round(v * scale, 6) for v in raw],
            "temperatures": values_list(data, TEMP_COUNT_OFFSET + 2, temps, 2, scale=0.1,
                                        signed=True),
        }
