"""Renogy solar charge controllers (Rover, Wanderer, Adventurer) and DC-DC chargers
(DCC, RBC) through a BT-1/BT-2 module: Modbus RTU, slave 0xFF when standalone.

Service 0xFFD0 (write 0xFFD1), notifications on 0xFFF1. Blocks: 0x000C x 8
model string, 0x001A x 1 device address, 0x0100 x 34 charging information,
0xE004 x 1 battery type; DC-DC chargers add the status block 0x0120 x 7.
Charging information: SOC %, battery 0.1 V, charging current 0.01 A,
controller and battery temperature as sign-magnitude bytes, load (DC-DC:
alternator) 0.1 V / 0.01 A / W, PV 0.1 V / 0.01 A / W, daily statistics,
generation today (Wh) and in total (Wh, u32), load state in the high byte and
charging state in the low byte of register 0x0120.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import Field, Matcher, read_fields, uuid16
from custom_components.ble_battery_solar.protocol.modbus import Block, ModbusDriver
from custom_components.ble_battery_solar.protocol.models import Sample

SLAVE = 0xFF
BT_MODULE: Matcher = {"local_name": "BT-TH-*", "service_uuid": uuid16(0xFFD0), "connectable": True}
MODBUS_UNICAST = range(0x01, 0xF8)

MODEL = Block("model", SLAVE, 0x03, 0x000C, 8)
ADDRESS = Block("device address", SLAVE, 0x03, 0x001A, 1)
CHARGING = Block("charging information", SLAVE, 0x03, 0x0100, 0x22)
DCC_STATUS = Block("DC-DC status", SLAVE, 0x03, 0x0120, 7)
BATTERY_TYPE = Block("battery type", SLAVE, 0x03, 0xE004, 1)

CHARGING_FIELDS = (
    Field("battery_level", 0, 2, kind="int"),
    Field("voltage", 2, 2, 0.1),
    Field("current", 4, 2, 0.01),
    Field("pv_voltage", 14, 2, 0.1),
    Field("pv_current", 16, 2, 0.01),
    Field("pv_power", 18, 2, kind="int"),
    Field("energy_generated_today", 38, 2, kind="int"),
    Field("energy_generated_total", 56, 4, kind="int"),
    Field("charging_code", 65, 1, kind="int"),
)
LOAD_FIELDS = (
    Field("load_voltage", 8, 2, 0.1),
    Field("load_current", 10, 2, 0.01),
    Field("load_power", 12, 2, kind="int"),
    Field("load_on", 64, 1, kind="bool", mask=0x80),
)
CONTROLLER_TEMPERATURE, BATTERY_TEMPERATURE = 6, 7
DCC_FIELDS = (
    Field("charging_code", 1, 1, kind="int"),
    Field("problem_code", 2, 4, kind="int"),
    Field("charging_power", 8, 2, kind="int"),
)

ROVER_STATES = ("deactivated", "activated", "mppt", "equalizing", "boost", "floating",
                "current_limiting")
DCC_STATES = {0: "standby", 2: "mppt", 3: "equalizing", 4: "boost", 5: "floating",
              6: "current_limiting", 8: "dc_mode"}


def sign_magnitude(byte: int) -> int:
    """Temperature byte: bit 7 is the sign, bits 0-6 the magnitude in degC."""
    return -(byte & 0x7F) if byte & 0x80 else byte


def blocks_at(slave: int, blocks: Sequence[Block]) -> list[Block]:
    """The same blocks addressed to another slave id."""
    return [Block(b.name, slave, b.function, b.start, b.count) for b in blocks]


class RenogyControllerDriver(ModbusDriver):
    """Renogy charge controller; variant "dcc" for DC-DC chargers (status block 0x0120)."""

    family = "renogy_controller"
    title = "Renogy solar charge controller (BT-1/BT-2)"
    kind = "controller"
    service_uuid = uuid16(0xFFD0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFD1)
    # BT-1/BT-2 modules advertise "BT-TH-<MAC>" with service 0xFFD0 whatever they are
    # plugged into, so the advertisement cannot tell a controller from a battery.
    # renogy_battery claims that advertisement; this family declares no matcher of
    # its own (see BT_MODULE for the shared one) and is chosen by the user.
    matchers: ClassVar[tuple[Matcher, ...]] = ()
    discoverable = False
    slaves = frozenset({SLAVE, *MODBUS_UNICAST})
    required_keys = ("charging_state",)

    def poll(self) -> list[Block]:
        if self.variant == "dcc":
            return [MODEL, CHARGING, DCC_STATUS]
        return [MODEL, ADDRESS, CHARGING, BATTERY_TYPE]

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        return blocks_at(frames[0][0], [MODEL, ADDRESS, CHARGING, DCC_STATUS, BATTERY_TYPE])

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        out: dict[str, Any] = {}
        model = self.data_of(tied, MODEL.name)
        if model is not None:
            text = model.decode("ascii", "replace").strip("\x00 ")
            if text:
                out["model"] = text
        status = self.data_of(tied, DCC_STATUS.name)
        dcc = self.variant == "dcc" or status is not None
        charging = self.data_of(tied, CHARGING.name, required=status is None)
        if charging is not None:
            out.update(self._charging(charging, dcc=dcc))
        if status is not None:
            values = read_fields(self.family, status, DCC_FIELDS)
            out["charging_state"] = DCC_STATES.get(values.pop("charging_code"), "unknown")
            out.update(values)
        return out  # type: ignore[return-value]

    def _charging(self, data: bytes, *, dcc: bool) -> dict[str, Any]:
        values = read_fields(self.family, data, CHARGING_FIELDS)
        code = values.pop("charging_code")
        values["charging_state"] = ROVER_STATES[code] if code < len(ROVER_STATES) else "unknown"
        values["controller_temperature"] = sign_magnitude(data[CONTROLLER_TEMPERATURE])
        values["battery_temperature"] = sign_magnitude(data[BATTERY_TEMPERATURE])
        if not dcc:  # DC-DC chargers report the alternator input in the load registers
            values.update(read_fields(self.family, data, LOAD_FIELDS))
        return values
