"""Vatrer LiFePO4 batteries (Nordic UART service 6E400001-...; write ...0002, notify ...0003).

Modbus RTU, slave 0x02, function 3. One poll reads three blocks:
status ``0x0000 x 0x14``, cells ``0x0015 x 0x1F``, temperatures and alarms
``0x0034 x 0x12``; responses ``02 03 <byte count> <data> <CRC16/Modbus LE>``.
Offsets below count in the data (after the byte count), big-endian.

Status: voltage 10 mV at 0, current s32 10 mA at 2 (+ = charging), SOC % at
6, remaining charge 10 mAh at 8, design capacity 10 mAh at 10, cycles at 12,
SOH % at 14, highest and lowest cell mV at 22 and 24, cell spread mV at 26.
Cells: count at 0, cells mV from 2 (at most 30). Temperatures: probe count
at 0, then count + 2 signed °C words from 2 (cell probes, ambient, MOSFET
last; six slots), a 15-byte alarm field at 14 (problem_code, exact int),
MOSFET byte at 29 (0x10 charge, 0x20 discharge), balancing bits u32 at 32.

Sources: patman15/aiobmsble aiobmsble/bms/vatrer_bms.py and tests/bms/test_vatrer.py
@b0567331 (frames and asserted values). Design capacity (10000 = 100 Ah in the
capture, consistent with 39.7 Ah at 40 %) is read here but not by the source.
The source accepts up to 6 temperature probes, which would overlap the alarm
field; more than 4 is rejected here.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ..base import Field, Matcher, read_fields, read_int, values_list
from ..modbus import CRC_LENGTH, EXCEPTION_LENGTH, HEADER_LENGTH, Block, ModbusDriver
from ..models import Advertisement, Sample

SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
WRITE = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NOTIFY = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
SLAVE, READ = 0x02, 0x03
STATUS = Block("status", SLAVE, READ, 0x0000, 0x14)
CELLS = Block("cells", SLAVE, READ, 0x0015, 0x1F)
TEMPS = Block("temperatures", SLAVE, READ, 0x0034, 0x12)
BYTE_COUNTS = frozenset(b.byte_count for b in (STATUS, CELLS, TEMPS))
MAX_CELLS = (CELLS.byte_count - 2) // 2
TEMP_SLOTS, MAX_PROBES = 6, 4

STATUS_FIELDS = (
    Field("voltage", 0, 2, 0.01),
    Field("current", 2, 4, 0.01, signed=True),
    Field("battery_level", 6, 2, kind="int"),
    Field("cycle_charge", 8, 2, 0.01),
    Field("design_capacity", 10, 2, 0.01),
    Field("cycles", 12, 2, kind="int"),
    Field("battery_health", 14, 2, kind="int"),
)
ALARMS_OFFSET, ALARMS_SIZE = 14, 15
TEMP_FIELDS = (
    Field("probes", 0, 2, kind="int"),
    Field("chrg_mosfet", 29, 1, kind="bool", mask=0x10),
    Field("dischrg_mosfet", 29, 1, kind="bool", mask=0x20),
    Field("balancer", 32, 4, kind="bool"),
)
# Names are the production date and the rating: YYMMDD, voltage, capacity, serial.
NAME = re.compile(r"[2-9]\d{3}[0-3]\d{10}")


class VatrerDriver(ModbusDriver):
    """Vatrer battery: three register reads per poll."""

    family = "vatrer"
    title = "Vatrer battery"
    service_uuid = SERVICE
    notify_uuid = NOTIFY
    write_uuid = WRITE
    # hassfest wants three literal characters: year and the tens of the month
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        Matcher(local_name=f"{year}{month}*", service_uuid=SERVICE, connectable=True)
        for year in range(20, 40)
        for month in "01"
    )
    slaves = frozenset({SLAVE})
    required_keys = ("voltage", "current", "battery_level")

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        return adv.local_name is not None and NAME.fullmatch(adv.local_name) is not None

    def poll(self) -> list[Block]:
        return [STATUS, CELLS, TEMPS]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            head = buffer[pos : pos + HEADER_LENGTH]
            if not _may_start(head):
                pos += 1  # stale bytes before a frame
                continue
            if len(head) < HEADER_LENGTH:
                break
            end = pos + (EXCEPTION_LENGTH if head[1] & 0x80 else
                         HEADER_LENGTH + head[2] + CRC_LENGTH)
            if end > len(buffer):
                break
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        # like the source, a poll needs all three answers (the alarms live in the third)
        status = self.require(tied, STATUS.name)
        out: dict[str, Any] = read_fields(self.family, status, STATUS_FIELDS)
        for key in ("battery_level", "battery_health"):
            if out[key] > 100:
                raise self.error(f"{key} {out[key]} % is above 100")
        if not out["design_capacity"]:
            del out["design_capacity"]
        cells = self.require(tied, CELLS.name)
        count = int.from_bytes(cells[:2], "big")
        if count > MAX_CELLS:
            raise self.error(f"{count} cells reported, at most {MAX_CELLS} fit the frame")
        out["cell_voltages"] = values_list(cells, 2, count, 2, scale=0.001)
        temps = self.require(tied, TEMPS.name)
        values = read_fields(self.family, temps, TEMP_FIELDS)
        probes = values.pop("probes")
        if probes > MAX_PROBES:
            raise self.error(f"{probes} temperature probes reported, at most {MAX_PROBES} fit")
        out["temperatures"] = values_list(temps, 2, probes + 2, 2, signed=True)
        out.update(values)
        # read as an int directly: a 120-bit field must not pass through a float
        out["problem_code"] = read_int(temps, ALARMS_OFFSET, ALARMS_SIZE)
        return out  # type: ignore[return-value]


def _may_start(head: bytes) -> bool:
    """Whether bytes can begin a response of this family (slave, function, byte count)."""
    if head[:1] != bytes((SLAVE,)):
        return False
    if len(head) < 2:
        return True
    if head[1] == READ | 0x80:
        return True
    if head[1] != READ:
        return False
    return len(head) < HEADER_LENGTH or head[2] in BYTE_COUNTS
