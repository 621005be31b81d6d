"""Buknuwo batteries (service 00002760-08c2-11e1-9073-0e8ac72e1001; write …0001, notify …0002).

Modbus RTU, slave 0x01, function 0x03, three reads per poll: the status block
0x0000 x 13 registers, the MOSFET probe 0x0039 x 1 and the probe block
0x002E x 11 (the probe count, then up to 10 probes). Big-endian: current signed
10 mA (+ = charging), voltage 10 mV, SOC %, SOH %, remaining charge, full charge
and design capacity (10 mAh), cycles, an unknown register, a 32-bit alarm word
(registers 9-10) and the switch register 11 (0x0400 charge, 0x0800 discharge
MOSFET); `problem_code` is registers 9-11 masked with 0xFF3FFF7F007F, the
source's mask that leaves out the switch bits. Probes are signed 0.1 °C;
`temperatures` lists the MOSFET probe first, then the cell probes (as the source). The
protocol carries no cell voltages. Responses come in 20-byte notifications.

The packs advertise only their name ("CDZG" and the production date and serial;
"MEY-" on newer ones), a Device Information service-data entry and manufacturer
id 0xFFFF; they share the Bluetooth module (and its service) with Gobel Power
packs, whose names differ ("BMS-…").

Source: patman15/aiobmsble aiobmsble/bms/buknuwo_bms.py, tests/bms/test_buknuwo_bms.py,
docs/buknuwo.md and aiobmsble/test_data/buknuwo_bms.json
@b0567331025033d33729385fa89a1198275d6486 (advertisement from BMS_BLE-HA issue 621); the
aiobmsble 0.31.0 wheel on PyPI adds the "MEY-?????-*" names. The source floors the
design capacity to whole Ah; the registers hold 10 mAh steps, read here exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Field, Matcher, read_fields, values_list
from ..modbus import Block, ModbusDriver
from ..models import Sample

SLAVE = 0x01
STATUS = Block("status", SLAVE, 0x03, 0x0000, 13)
MOSFET_PROBE = Block("MOSFET probe", SLAVE, 0x03, 0x0039, 1)
PROBES = Block("probes", SLAVE, 0x03, 0x002E, 11)
SERVICE = "00002760-08c2-11e1-9073-0e8ac72e1001"
MAX_PROBES = 10
PROBLEM_MASK = 0xFF3FFF7F007F

FIELDS = (
    Field("current", 0, 2, 0.01, signed=True),
    Field("voltage", 2, 2, 0.01),
    Field("battery_level", 4, 2, kind="int"),
    Field("battery_health", 6, 2, kind="int"),
    Field("cycle_charge", 8, 2, 0.01),
    Field("design_capacity", 12, 2, 0.01),
    Field("cycles", 14, 2, kind="int"),
    Field("problem_code", 18, 6, kind="int", mask=PROBLEM_MASK),
    Field("chrg_mosfet", 22, 2, kind="bool", mask=0x0400),
    Field("dischrg_mosfet", 22, 2, kind="bool", mask=0x0800),
)


class BuknuwoDriver(ModbusDriver):
    """Buknuwo battery: status, MOSFET probe and probe block each poll."""

    family = "buknuwo"
    title = "Buknuwo"
    service_uuid = SERVICE
    notify_uuid = "00002760-08c2-11e1-9073-0e8ac72e0002"
    write_uuid = "00002760-08c2-11e1-9073-0e8ac72e0001"
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "CDZG*", "connectable": True},
        {"local_name": "MEY-?????-*", "connectable": True},
    )
    slaves = frozenset({SLAVE})
    required_keys = ("voltage", "current")

    def poll(self) -> list[Block]:
        return [STATUS, MOSFET_PROBE, PROBES]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        data = self.require(tied, STATUS.name)
        out: dict[str, Any] = read_fields(self.family, data, FIELDS)
        for key in ("battery_level", "battery_health"):
            if out[key] > 100:
                raise self.error(f"{key} {out[key]} % is above 100")
        temperatures: list[float] = []
        mosfet = self.data_of(tied, MOSFET_PROBE.name)
        if mosfet is not None:
            temperatures = values_list(mosfet, 0, 1, 2, scale=0.1, signed=True)
        probes = self.data_of(tied, PROBES.name)
        if probes is not None:
            count = int.from_bytes(probes[0:2], "big")
            if count > MAX_PROBES:
                raise self.error(f"{count} temperature probes reported, at most {MAX_PROBES} fit")
            temperatures += values_list(probes, 2, count, 2, scale=0.1, signed=True)
        if temperatures:
            out["temperatures"] = temperatures
        return out  # type: ignore[return-value]
