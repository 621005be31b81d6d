"""LiTime / HQST MPPT solar charge controllers (``BT-LTMPPT2430``, ``BT-LTMPPT4860``,
HQST M4860N; a Helios "Venus" OEM design): Modbus RTU over one GATT characteristic.

Service 0xFFE0, characteristic 0xFFE1 both written and notified; slave 1. One
read, registers 0x0101 x 0x13, answers ``01 03 26`` + 38 data bytes + CRC16/Modbus
(mavenius/litime_mppt_esphome, tested on BT-LTMPPT2430/4860 and HQST M4860N).
Data bytes, big-endian:

- 0-1 SOC %, 2-3 battery voltage 0.1 V, 4-5 charging current 0.01 A, 6-7
  charging power W
- 8 controller temperature, 9 battery temperature (sign-magnitude bytes as in
  Renogy's map; 0xFF where no battery probe is fitted, dropped)
- 10-11 load voltage 0.1 V, 12-13 load current 0.01 A, 14-15 load power W
- 16-17 PV voltage 0.1 V, 18-19 today's maximum charging power W, 20-21 energy
  generated today Wh
- 24 load state (bit 7 on), 25 charging state (Renogy's codes: 0 deactivated,
  1 activated, 2 MPPT, 3 equalising, 4 boost, 5 float, 6 current limiting)
- 28-29 days in operation, 30-33 energy generated in total Wh (u32)

The block carries no PV current or power: the controller's charging power is
reported as `charging_power`. Where sources differ: the ESPHome component
reads the total as a 16-bit value at bytes 32-33 and leaves byte 9 unnamed
("spacer?"); a BT-LTMPPT2430 capture in custom-components/ble_monitor#1462
shows 0x19 (25 degC) there, the component's own example 0xFF. Bytes 22-23,
26-27 and 34-37 are not decoded (no source names them). No source documents a fault
word either, so no `problem_code` and no alarms are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import Field, Matcher, read_fields, uuid16
from custom_components.ble_battery_solar.protocol.devices.renogy_controller import (
    ROVER_STATES,
    sign_magnitude,
)
from custom_components.ble_battery_solar.protocol.modbus import Block, ModbusDriver
from custom_components.ble_battery_solar.protocol.models import Sample

SLAVE = 0x01
STATUS = Block("status", SLAVE, 0x03, 0x0101, 0x13)
FIELDS = (
    Field("battery_level", 0, 2, kind="int"),
    Field("voltage", 2, 2, 0.1),
    Field("current", 4, 2, 0.01),
    Field("charging_power", 6, 2, kind="int"),
    Field("load_voltage", 10, 2, 0.1),
    Field("load_current", 12, 2, 0.01),
    Field("load_power", 14, 2, kind="int"),
    Field("pv_voltage", 16, 2, 0.1),
    Field("energy_generated_today", 20, 2, kind="int"),
    Field("load_on", 24, 1, kind="bool", mask=0x80),
    Field("charging_code", 25, 1, kind="int"),
    Field("energy_generated_total", 30, 4, kind="int"),
)
CONTROLLER_TEMPERATURE, BATTERY_TEMPERATURE = 8, 9
NO_PROBE = 0xFF


class LitimeMpptDriver(ModbusDriver):
    """LiTime / HQST MPPT controller with built-in Bluetooth."""

    family = "litime_mppt"
    title = "LiTime / HQST MPPT solar charge controller"
    kind = "controller"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE1)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "BT-LTMPPT*", "connectable": True},
    )
    slaves = frozenset(range(0x01, 0xF8))
    required_keys = ("voltage", "charging_state")

    def poll(self) -> list[Block]:
        return [STATUS]

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        return [Block(STATUS.name, frames[0][0], 0x03, STATUS.start, STATUS.count)]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        data = self.require(tied, STATUS.name)
        out: dict[str, Any] = read_fields(self.family, data, FIELDS)
        code = out.pop("charging_code")
        out["charging_state"] = ROVER_STATES[code] if code < len(ROVER_STATES) else "unknown"
        out["controller_temperature"] = sign_magnitude(data[CONTROLLER_TEMPERATURE])
        if data[BATTERY_TEMPERATURE] != NO_PROBE:
            out["battery_temperature"] = sign_magnitude(data[BATTERY_TEMPERATURE])
        return out  # type: ignore[return-value]
