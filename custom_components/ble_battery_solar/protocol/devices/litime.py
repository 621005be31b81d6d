"""LiTime / Redodo / Starry Sea LiFePO4 batteries (service 0xFFE0, notify 0xFFE1, write 0xFFE2).

Request ``00 00 04 01 13 55 AA 17`` reads the status. The response is
``00 00 <len> 01 93 55 AA <data...> <sum8>``: len + 4 bytes in all, the last
byte the sum of all preceding bytes modulo 256; stale bytes before it (seen
in the field) are skipped. 12 V and 24 V batteries (4 or 8 cells) share the
layout. Little-endian: voltage (sum of
cells) mV at 12, cells mV from 16 (16 slots, unused = 0), current s32 mA at 48
(+ = charging), temperatures s16 °C from 52 (5 slots), remaining charge
10 mAh at 62, capacity 10 mAh at 64, heater 68, alarms 76, balancing 84,
state of charge 90, state of health 92, cycles 96.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, read_fields, sum8, uuid16, values_list
from ..models import Sample

HEADER = bytes.fromhex("0000000100" "55aa")  # 00 00 <len> 01 <cmd> 55 AA
STATUS_REQUEST = bytes.fromhex("000004011355aa17")
RESPONSE_FLAG = 0x80  # response command = request command | 0x80
MIN_LEN = 8  # header (7 bytes) and checksum
CMD_STATUS = 0x13
MAX_CELLS, CELLS_OFFSET = 16, 16
ABSENT_CELL = (0x0000, 0xFFFF)  # unused cell slots
MAX_TEMPS, TEMPS_OFFSET = 5, 52

FIELDS = (
    Field("voltage", 12, 4, 0.001, order="little"),
    Field("current", 48, 4, 0.001, signed=True, order="little"),
    Field("cycle_charge", 62, 2, 0.01, order="little"),
    Field("design_capacity", 64, 4, 0.01, order="little"),
    Field("heater", 68, 4, kind="bool", order="little"),
    Field("problem_code", 76, 8, kind="int", order="little"),
    Field("balancer", 84, 4, kind="bool", order="little"),
    Field("battery_level", 90, 2, kind="int", order="little"),
    Field("battery_health", 92, 4, kind="int", order="little"),
    Field("cycles", 96, 4, kind="int", order="little"),
)

# Model names as printed on LiTime (L-, LT-), Redodo (P-, PQ-, R-, RO-) and
# Starry Sea (S-, SS-) batteries: <prefix>-<12|24|51><capacity>...
# Older LT-12...BG-A00..A06 and LT-24...B-A000..A002 serials use another BMS
# (Electronicx/E&J protocol), so only later serials are claimed.
NAME_PATTERNS = (
    "P-12[0-9]*", "P-24[0-9]*", "PQ-12[0-9]*", "PQ-24[0-9]*",
    "R-12[0-9]*", "R-24[0-9]*", "RO-12[0-9]*", "RO-24[0-9]*",
    "L-12[0-9]*", "L-24[0-9]*", "L-51[0-9]*",
    "LT-12???BG-A0[7-9]*", "LT-24???B-A00[3-9]*", "LT-24???B-A0[1-9]*", "LT-24???B-A[1-9]*",
    "LT-51[0-9]*",
    "S-12[0-9]*", "S-24[0-9]*", "S-51[0-9]*", "SS-12[0-9]*", "SS-24[0-9]*", "SS-51[0-9]*",
)
MANUFACTURER_ID = 0x585A


class LiTimeDriver(Driver):
    """LiTime / Redodo battery: one status request per poll."""

    family = "litime"
    title = "LiTime / Redodo battery"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE2)
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {
            "local_name": pattern,
            "service_uuid": uuid16(0xFFE0),
            "manufacturer_id": MANUFACTURER_ID,
            "connectable": True,
        }
        for pattern in NAME_PATTERNS
    )
    required_keys = ("voltage", "current", "battery_level")

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        # temperature slots in use: the highest slot seen non-zero on this connection
        self.temp_count = 1

    def requests(self) -> list[bytes]:
        return [STATUS_REQUEST]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        head = buffer[pos : pos + len(HEADER)]
        # byte 4 is the command (any); every other header byte is fixed
        if any(b != h for i, (b, h) in enumerate(zip(head, HEADER, strict=False)) if i not in (2, 4)):
            return None
        if len(head) < 3:
            return NEED_MORE
        length = head[2] + 4
        return length if length >= MIN_LEN else None

    def frame_defect(self, frame: bytes) -> str | None:
        return "bad checksum" if sum8(frame[:-1]) != frame[-1] else None

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[4] == request[4] | RESPONSE_FLAG

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            if frame[4] != CMD_STATUS | RESPONSE_FLAG:
                raise self.error(f"unexpected response to command 0x{frame[4] & 0x7F:02X}")
            out.update(self._status(frame))
        return out  # type: ignore[return-value]

    def _status(self, frame: bytes) -> dict[str, Any]:
        values = read_fields(self.family, frame, FIELDS)
        values["cell_voltages"] = values_list(frame, CELLS_OFFSET, MAX_CELLS, 2, scale=0.001,
                                              order="little", absent=ABSENT_CELL)
        temps = values_list(frame, TEMPS_OFFSET, MAX_TEMPS, 2, signed=True, order="little")
        used = max((i + 1 for i, t in enumerate(temps) if t), default=1)
        self.temp_count = max(self.temp_count, used)
        values["temperatures"] = temps[: self.temp_count]
        return values
