"""Gobel Power BMS (service 00002760-08c2-11e1-9073-0e8ac72e1001; write …0001, notify …0002).

Modbus RTU, slave 0x01, function 0x03: the status block 0x0000 x 59 registers and
the device-information block 0x00AA x 35 registers (firmware, serial number and
model as space- or NUL-padded ASCII). Big-endian: current signed 10 mA (+ = charging),
voltage 10 mV, SOC and SOH %, remaining and full capacity 10 mAh, cycles, a 48-bit
alarm word, MOSFET states in register 14 (bit 14 charge, bit 15 discharge), the cell
count in the low byte of register 15 and cells (1 mV) from register 16, the probe
count in the low byte of register 46, probes (signed 0.1 degC) from register 47 and
the MOSFET probe (signed 0.1 degC, 0xFFFF when not fitted) in register 57.

Source: patman15/aiobmsble aiobmsble/bms/gobel_bms.py and tests/bms/test_gobel_bms.py
@b0567331025033d33729385fa89a1198275d6486 (a real frame and its decoded values). The
source floors the full capacity to whole Ah; the register holds 10 mAh steps, read here
exactly. Devices advertise only their name, "BMS-" and the serial number; the service
is not advertised.
"""

from __future__ import annotations

from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import (
    Field,
    Matcher,
    read_fields,
    read_int,
    values_list,
)
from custom_components.ble_battery_solar.protocol.modbus import Block, ModbusDriver
from custom_components.ble_battery_solar.protocol.models import Sample

SLAVE = 0x01
STATUS = Block("status", SLAVE, 0x03, 0x0000, 59)
INFO = Block("device information", SLAVE, 0x03, 0x00AA, 35)
SERVICE = "00002760-08c2-11e1-9073-0e8ac72e1001"
MAX_CELLS = 32
MAX_TEMPS = 8
CELL_OFFSET, TEMP_OFFSET, MOS_TEMP_OFFSET = 32, 94, 114
NO_SENSOR = 0xFFFF

FIELDS = (
    Field("current", 0, 2, 0.01, signed=True),
    Field("voltage", 2, 2, 0.01),
    Field("battery_level", 4, 2, kind="int"),
    Field("battery_health", 6, 2, kind="int"),
    Field("cycle_charge", 8, 2, 0.01),
    Field("design_capacity", 10, 2, 0.01),
    Field("cycles", 14, 2, kind="int"),
    Field("problem_code", 16, 6, kind="int"),
    Field("chrg_mosfet", 28, 2, kind="bool", mask=0x4000),
    Field("dischrg_mosfet", 28, 2, kind="bool", mask=0x8000),
    Field("cell_count", 30, 2, kind="int", mask=0xFF),
    Field("temp_count", 92, 2, kind="int", mask=0xFF),
)


def _text(data: bytes) -> str:
    return data.decode("ascii", "replace").strip("\x00 ")


class GobelDriver(ModbusDriver):
    """Gobel Power BMS: the status block and the device-information block each poll."""

    family = "gobel"
    title = "Gobel Power BMS"
    service_uuid = SERVICE
    notify_uuid = "00002760-08c2-11e1-9073-0e8ac72e0002"
    write_uuid = "00002760-08c2-11e1-9073-0e8ac72e0001"
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "BMS-[0-9A-F]*", "connectable": True},
    )
    slaves = frozenset({SLAVE})
    required_keys = ("voltage", "current")

    def poll(self) -> list[Block]:
        return [STATUS, INFO]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        data = self.require(tied, STATUS.name)
        out: dict[str, Any] = read_fields(self.family, data, FIELDS)
        cells, temps = out.pop("cell_count"), out.pop("temp_count")
        if cells > MAX_CELLS:
            raise self.error(f"{cells} cells reported, at most {MAX_CELLS} fit the frame")
        if temps > MAX_TEMPS:
            raise self.error(f"{temps} temperature probes reported, at most {MAX_TEMPS} fit")
        for key in ("battery_level", "battery_health"):
            if out[key] > 100:
                raise self.error(f"{key} {out[key]} % is above 100")
        out["cell_voltages"] = values_list(data, CELL_OFFSET, cells, 2, scale=0.001)
        temperatures = values_list(data, TEMP_OFFSET, temps, 2, scale=0.1, signed=True)
        if read_int(data, MOS_TEMP_OFFSET, 2) != NO_SENSOR:
            temperatures.append(round(read_int(data, MOS_TEMP_OFFSET, 2, signed=True) * 0.1, 6))
        out["temperatures"] = temperatures
        info = self.data_of(tied, INFO.name)
        if info is not None:
            for key, start, end in (("sw_version", 0, 18), ("serial_number", 20, 40),
                                    ("model", 40, 60)):
                if text := _text(info[start:end]):
                    out[key] = text
        return out  # type: ignore[return-value]
