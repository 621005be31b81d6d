"""Renogy inverters and inverter-chargers (RIV4835CSH1S behind a BT-2 module, Rego
RIV1230RCH / RIV1220PU / RIV1230PU with built-in Bluetooth, advertised ``BTRIC…``).

Modbus RTU over the Renogy BT GATT layout (write 0xFFD1, notifications on
0xFFF1), slave 0x20 (32) standalone; any unicast id and 0xFF are accepted.
Holding registers, function 3:

- 4000 x 10: AC input voltage 0.1 V, current 0.01 A, AC output voltage 0.1 V,
  current 0.01 A, frequency 0.01 Hz, battery voltage 0.1 V, temperature 0.1 degC,
  two unused words, AC input frequency 0.01 Hz.
- 4109 x 1: device address.
- 4311 x 8: model string (Rego units; the RIV4835CSH1S does not answer it, so it is
  read only for the ``rego`` variant, told by the ``BTRIC`` name).
- 4327 x 7: SOC %, battery current 0.1 A signed (positive = discharging on the
  wire; a Sample's current is positive when charging, so it is negated), PV
  voltage 0.1 V, PV current 0.1 A, PV power W, charging state, charging power W.
- 4408 x 6: load current 0.1 A, active power W, apparent power VA, an unused
  word, line charging current 0.1 A, load percentage.

Sources: IAmTheMitchell/renogy-ble (captured RIV4835CSH1S frames, register
profile) and cyrils/renogy-bt InverterClient (Rego output). They disagree on the
load current scale: renogy-ble's generic profile uses 0.01 A, its RIV4835CSH1S
profile and renogy-bt 0.1 A; the Rego readout in renogy-bt's README (150 VA at
124.9 V, 1.2 A) confirms 0.1 A. Charging states: 0 deactivated, 1 constant
current (bulk), 2 constant voltage (Renogy's boost), 4 float, 6 battery
activation, 7 battery disconnecting. Neither source nor Renogy's DC Home app
(as decompiled in public) names a fault or warning register of the inverters, so
no `problem_code` is read and no alarms are decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import Field, Matcher, read_fields, uuid16
from custom_components.ble_battery_solar.protocol.modbus import Block, ModbusDriver
from custom_components.ble_battery_solar.protocol.models import Advertisement, Sample

SLAVE = 0x20
MODBUS_IDS = frozenset({*range(0x01, 0xF8), 0xFF})

MAIN = Block("inverter", SLAVE, 0x03, 4000, 10)
ADDRESS = Block("device address", SLAVE, 0x03, 4109, 1)
MODEL = Block("model", SLAVE, 0x03, 4311, 8)
CHARGING = Block("charging", SLAVE, 0x03, 4327, 7)
LOAD = Block("load", SLAVE, 0x03, 4408, 6)
PLAN = (MAIN, ADDRESS, MODEL, CHARGING, LOAD)

MAIN_FIELDS = (
    Field("ac_input_voltage", 0, 2, 0.1),
    Field("ac_input_current", 2, 2, 0.01),
    Field("ac_output_voltage", 4, 2, 0.1),
    Field("ac_output_current", 6, 2, 0.01),
    Field("ac_output_frequency", 8, 2, 0.01),
    Field("voltage", 10, 2, 0.1),
    Field("controller_temperature", 12, 2, 0.1, signed=True),
    Field("ac_input_frequency", 18, 2, 0.01),
)
CHARGING_FIELDS = (
    Field("battery_level", 0, 2, kind="int"),
    Field("current", 2, 2, -0.1, signed=True),
    Field("pv_voltage", 4, 2, 0.1),
    Field("pv_current", 6, 2, 0.1),
    Field("pv_power", 8, 2, kind="int"),
    Field("charging_code", 10, 2, kind="int"),
    Field("charging_power", 12, 2, kind="int"),
)
LOAD_FIELDS = (
    Field("load_current", 0, 2, 0.1),
    Field("load_power", 2, 2, kind="int"),
    Field("load_apparent_power", 4, 2, kind="int"),
    Field("line_charging_current", 8, 2, 0.1),
    Field("load_percentage", 10, 2, kind="int"),
)
STATES = {0: "deactivated", 1: "bulk", 2: "boost", 4: "floating", 6: "battery_activation",
          7: "battery_disconnecting"}


class RenogyInverterDriver(ModbusDriver):
    """Renogy inverter / inverter-charger; variant "rego" also reads the model string."""

    family = "renogy_inverter"
    title = "Renogy inverter"
    kind = "controller"
    service_uuid = uuid16(0xFFD0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFD1)
    # Rego inverters with built-in Bluetooth; behind a BT-2 module an inverter advertises
    # like every Renogy BT module ("BT-TH-…") and is offered as a device type of it.
    matchers: ClassVar[tuple[Matcher, ...]] = ({"local_name": "BTRIC*", "connectable": True},)
    slaves = MODBUS_IDS
    required_keys = ("voltage", "charging_state")

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str | None:
        return "rego" if (adv.local_name or "").startswith("BTRIC") else None

    def poll(self) -> list[Block]:
        if self.variant == "rego":
            return [MAIN, ADDRESS, MODEL, CHARGING, LOAD]
        return [MAIN, ADDRESS, CHARGING, LOAD]

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        slave = frames[0][0]
        return [Block(b.name, slave, b.function, b.start, b.count) for b in PLAN]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        out: dict[str, Any] = read_fields(self.family, self.require(tied, MAIN.name), MAIN_FIELDS)
        model = self.data_of(tied, MODEL.name)
        if model is not None and (text := model.decode("ascii", "replace").strip("\x00 ")):
            out["model"] = text
        charging = self.require(tied, CHARGING.name)
        values = read_fields(self.family, charging, CHARGING_FIELDS)
        code = values.pop("charging_code")
        values["charging_state"] = STATES.get(code, "unknown")
        out.update(values)
        load = self.data_of(tied, LOAD.name)
        if load is not None:
            out.update(read_fields(self.family, load, LOAD_FIELDS))
        return out  # type: ignore[return-value]
