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

Faults: 0x0121-0x0122 is a 32-bit fault and warning word (0x0121 the high half).
Renogy's "ROVER MODBUS" document (sdellysse/renogy-modbus-research) names bits
16-30 and reserves 0-15 and 31; Renogy's DC Home app (its fault strings C0-C14)
and SolarThing's RoverErrorMode agree. The 0x22-register charging read ends at
0x0121, so `problem_code` is that register shifted into the high half (the
reserved low half is not read); it is reported only when the poll's model read
answered with no DC-DC charger's model (``RBC…``), because a DC-DC charger polled
as a Rover would have its own 0x0121 read with the Rover's meanings. DC-DC
chargers (variant "dcc", status block 0x0120) lay the same two registers out
otherwise: Renogy's DCC50S document, quoted by sdellysse/renogy-modbus-research,
names 0x0121 b4, b5, b8-b11 and 0x0122 b0-b2, b5-b7, b9, b12; SolarThing's
DcdcErrorMode agrees and adds 0x0122 b8 (fan alarm). cyrils/renogy-bt's
DCChargerClient reads the same names one bit lower in 0x0121 (b3 over-temperature
2, b4 alternator over-current) from single bytes, so it cannot see them at all;
the documents are followed. `problem_code` of a DC-DC charger is the whole word
from its status block; SolarThing's b22/b23 ("unable to translate") stay unnamed.
The alarm table follows the variant, so a DC-DC charger's faults are named only in
the "dcc" variant, whose poll reads the status block (the Rover's poll never does).
A device added as a Rover (nothing before its model read tells the two apart) is set
up again as "dcc" once a model read names a DC-DC charger (`learned_variant`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.alarms import (
    AlarmTable,
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
FAULT_HIGH = 66  # register 0x0121 in the charging block
DC_DC_MODELS = ("RBC", "DCC")  # model strings of Renogy's DC-DC chargers (RBC50D1S, ...)
DCC_FIELDS = (
    Field("charging_code", 1, 1, kind="int"),
    Field("problem_code", 2, 4, kind="int"),
    Field("charging_power", 8, 2, kind="int"),
)

ROVER_STATES = ("deactivated", "activated", "mppt", "equalizing", "boost", "floating",
                "current_limiting")
DCC_STATES = {0: "standby", 2: "mppt", 3: "equalizing", 4: "boost", 5: "floating",
              6: "current_limiting", 8: "dc_mode"}


# bits of the fault word 0x0121 << 16 | 0x0122 (see the module doc)
ROVER_ALARMS: AlarmTable = {
    16: protection("battery_overdischarge"),
    17: protection("battery_overvoltage"),
    18: warning("battery_undervoltage"),
    19: protection("load_short_circuit"),
    20: protection("load_overcurrent"),  # load over-power or over-current
    21: protection("controller_overtemperature"),
    22: protection("ambient_overtemperature"),
    23: protection("pv_overpower"),
    24: fault("pv_short_circuit"),
    25: protection("pv_overvoltage"),  # PV input side
    26: protection("pv_reverse_current"),  # "counter-current"
    27: warning("pv_overvoltage"),  # working point over-voltage
    28: fault("pv_reverse_polarity"),
    29: fault("controller_mosfet_fault"),  # anti-reverse MOS short
    30: fault("controller_mosfet_fault"),  # charge MOS short
}
DCC_ALARMS: AlarmTable = {
    0: protection("battery_overdischarge"),
    1: protection("battery_overvoltage"),
    2: warning("battery_undervoltage"),
    5: protection("controller_overtemperature"),
    6: protection("battery_overtemperature"),
    7: protection("pv_overpower"),  # "solar input too high"
    8: fault("fan_fault"),
    9: protection("pv_overvoltage"),
    12: fault("pv_reverse_polarity"),
    20: warning("controller_overtemperature"),  # "over temperature 2"
    21: protection("alternator_overcurrent"),
    24: protection("alternator_overvoltage"),
    25: fault("starter_reverse_polarity"),
    26: protection("bms_charge_protection"),  # the battery's BMS stopped the charge
    27: protection("charge_undertemperature"),  # too cold to charge
}


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

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        self.dc_dc_seen = False  # a model read named a DC-DC charger

    def learned_variant(self) -> str | None:
        """"dcc" once a Rover-variant poll read a DC-DC charger's model string.

        A BT-1/BT-2 module's advertisement cannot tell the two apart and a DC-DC charger
        answers the Rover's poll, so only its model read tells.
        """
        return "dcc" if self.dc_dc_seen and self.variant != "dcc" else None

    def alarm_table(self) -> AlarmTable:
        """The Rover's fault bits, or the DC-DC charger's for variant "dcc"."""
        return DCC_ALARMS if self.variant == "dcc" else ROVER_ALARMS

    def poll(self) -> list[Block]:
        if self.variant == "dcc":
            return [MODEL, CHARGING, DCC_STATUS]
        return [MODEL, ADDRESS, CHARGING, BATTERY_TYPE]

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        return blocks_at(frames[0][0], [MODEL, ADDRESS, CHARGING, DCC_STATUS, BATTERY_TYPE])

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        out: dict[str, Any] = {}
        model = self.data_of(tied, MODEL.name)
        text = model.decode("ascii", "replace").strip("\x00 ") if model is not None else ""
        if text:
            out["model"] = text
        self.dc_dc_seen |= text.startswith(DC_DC_MODELS)
        status = self.data_of(tied, DCC_STATUS.name)
        dcc = self.variant == "dcc" or status is not None
        charging = self.data_of(tied, CHARGING.name, required=status is None)
        if charging is not None:
            out.update(self._charging(charging, dcc=dcc))
            # A DC-DC charger's 0x0121 means other things (see the module doc): the Rover's
            # reading only when the model read answered and names no DC-DC charger.
            if not dcc and model is not None and not text.startswith(DC_DC_MODELS):
                out["problem_code"] = read_int(charging, FAULT_HIGH, 2) << 16
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
