"""Saftkiste BMS (Batterieschmiede): Nordic UART service 6e400001-…, notify …0003, write …0002.

Requests are ``F0 FF <command>``: 0x43 with ``01``, a little-endian Unix
time and a check byte (sent first, as the source does after connecting, with
the source's fixed time 0x6980E701; answered with a table of 49 16-bit values
that is not decoded) and 0x02, the status, without parameters. A response is
``F0 FF <type> <data> <check>``, the check byte being the low byte of the
CRC-32 of everything before it. The frames carry no length: each type has
a fixed one (0x00: 39 bytes, 0x02: 47, 0x03: 44, 0x04: 41, 0x10: 5, 0x43:
107). Status (0x02) data, little-endian: design capacity in mAh (u32) at
byte 3, remaining charge in mAh (u32) at 7, design capacity in Ah (u16) at
11, voltage (mV) at 13, current (10 mA, signed) at 15, four cells (mV) at
17, cycles at 25, cell and board temperature (0.01 °C, signed) at 27 and 29,
heater at 31, balancer at 33, problem word at 38. The state of charge is not
sent; it follows from the remaining charge and the design capacity.

Sources: patman15/aiobmsble branch ``109-add-saftkiste-support``
(``saftkiste_bms.py`` and ``tests/bms/test_saftkiste_bms.py``, one capture of
a 4S 300 Ah pack), aiobmsble 0.31.0 (PyPI: check byte, temperatures, heater,
balancer, problem word) and the advertisement of patman15/BMS_BLE-HA#557.
The source can log in with a 6-character password (command 0x10); it reads
the status without one, as this driver does. Disagreements: the branch takes
the design capacity from the u32 at byte 3, 0.31.0 from the u16 at byte 11;
both give 300 Ah on the capture. The 0x03 reply stored in the branch's test
fails its check byte (0.31.0 requires both 0x02 and 0x03); 0x03 carries
nothing either source decodes, so it is not requested here.
"""

from __future__ import annotations

import zlib
from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, read_fields, values_list
from ..models import Sample

SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
WRITE = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NOTIFY = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
HEAD = b"\xf0\xff"
STATUS, TABLE = 0x02, 0x43
LENGTHS = {0x00: 39, 0x02: 47, 0x03: 44, 0x04: 41, 0x10: 5, 0x43: 107}
CELLS = 4
TABLE_TIME = 0x6980E701

FIELDS = (
    Field("cycle_charge", 7, 4, 0.001, order="little"),
    Field("design_capacity", 11, 2, order="little"),
    Field("voltage", 13, 2, 0.001, order="little"),
    Field("current", 15, 2, 0.01, signed=True, order="little"),
    Field("cycles", 25, 2, kind="int", order="little"),
    Field("heater", 31, 1, kind="bool"),
    Field("balancer", 33, 1, kind="bool"),
    Field("problem_code", 38, 2, kind="int", order="little"),
)


def check_byte(data: bytes) -> int:
    """Low byte of the CRC-32 of data."""
    return zlib.crc32(data) & 0xFF


def request(command: int, params: bytes = b"") -> bytes:
    """A Saftkiste command."""
    return HEAD + bytes((command,)) + params


class SaftkisteDriver(Driver):
    """Saftkiste BMS: the table request, then the status."""

    family = "saftkiste"
    title = "Saftkiste (Batterieschmiede)"
    service_uuid = SERVICE
    notify_uuid = NOTIFY
    write_uuid = WRITE
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"manufacturer_id": 4660, "manufacturer_data_start": [1, 2, 3, 4, 5, 6, 7],
         "connectable": True},
    )
    required_keys = ("voltage", "current", "cell_voltages")

    def requests(self) -> list[bytes]:
        table = request(TABLE, b"\x01" + TABLE_TIME.to_bytes(4, "little"))
        return [table + bytes((check_byte(table),)), request(STATUS)]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        if buffer[pos : pos + 2] not in (HEAD, HEAD[:1]):
            return None
        if len(buffer) - pos < 3:
            return NEED_MORE
        return LENGTHS.get(buffer[pos + 2])

    def frame_defect(self, frame: bytes) -> str | None:
        if check_byte(frame[:-1]) != frame[-1]:
            return f"bad check byte in the 0x{frame[2]:02X} reply"
        return None

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[2] == request[2]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        status = [f for f in frames if f[2] == STATUS]
        if not status:
            raise self.error("no status (0x02) reply")
        data = status[-1]
        out: dict[str, Any] = read_fields(self.family, data, FIELDS)
        out["design_capacity"] = float(out["design_capacity"])
        out["cell_voltages"] = values_list(data, 17, CELLS, 2, scale=0.001, order="little")
        out["temperatures"] = values_list(data, 27, 2, 2, scale=0.01, signed=True, order="little")
        return out  # type: ignore[return-value]
