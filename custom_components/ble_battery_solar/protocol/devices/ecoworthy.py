"""ECO-WORTHY BMS with the BW02 adapter, DCHOUSE (service 0xFFF0, notify 0xFFF1, write 0xFFF2).

Once two "unlock" commands are written the BMS streams two frames, 0xA1
(status) and 0xA2 (cells and probes). Each frame is a prefix, then a
Modbus-style ``03 <byte count> <data BE> <CRC16/Modbus LE>``; the CRC covers
the whole frame before it. Two prefixes exist:

* protocol 1 (BW02): ``A1|A2 00 00 00 65 00 00 00 00 00 18 01`` (12 bytes);
* protocol 2 (the newer 300 Ah packs): the adapter's 6-byte MAC address, then
  ``A1|A2 00 00 08`` (10 bytes); its current is in 0.1 A instead of 0.01 A.

0xA1 data (big-endian words): SOC %, SOH %, voltage 10 mV, current signed
(+ = charging), design capacity 10 mAh; a 16-bit problem word at data byte 37.
0xA2 data: cell count, 32 cell slots in mV, probe count, probes in signed 0.1 degC.

Sources: patman15/aiobmsble ``aiobmsble/bms/ecoworthy_bms.py`` and its test
frames (captures from user logs). The problem word sits on an odd offset,
straddling two registers; that is where the source reads it and where its
tests set single alarm bits, so it is followed here. The source leaves the
cycle counter undecoded (no known position): not reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, crc16_modbus, read_fields, uuid16, values_list
from ..models import Sample

STATUS, CELLS = 0xA1, 0xA2
TYPES = (STATUS, CELLS)
FUNCTION = 0x03
V1_PREFIX, V2_PREFIX = 12, 10  # bytes before `03 <count>`
# enough bytes to tell whether a header starts at a position
HEADER_PROBE = V1_PREFIX + 2
# the two commands that make the adapter stream (captured from the vendor's app)
UNLOCK = (
    bytes.fromhex("ff0802000b01006401ffffffffffffff002d"),
    bytes.fromhex("ff0802000b01001401ffffffffffffff65ef"),
)
MAX_CELLS, MAX_PROBES = 32, 9
CELL_COUNT_AT, CELLS_AT = 0, 2
PROBE_COUNT_AT, PROBES_AT = 66, 68

STATUS_FIELDS = (
    Field("battery_level", 2, 2, kind="int"),
    Field("battery_health", 4, 2, kind="int"),
    Field("voltage", 6, 2, 0.01),
    Field("current_raw", 8, 2, signed=True, kind="int"),
    Field("design_capacity", 12, 2, 0.01),
    Field("problem_code", 37, 2, kind="int"),
)


class EcoWorthyDriver(Driver):
    """ECO-WORTHY BW02 / DCHOUSE BMS: two unlock writes, then streamed 0xA1/0xA2 frames."""

    family = "ecoworthy"
    pushes_data = True
    title = "ECO-WORTHY BMS"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF2)
    # The adapter is named "<brand> <2-digit board>_<last 4 MAC digits>"; some firmware
    # does not advertise the service in the name's packet.
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "ECO-WORTHY 0*", "connectable": True},
        {"local_name": "ECO-WORTHY*", "service_uuid": uuid16(0xFFF0), "connectable": True},
        {"local_name": "DCHOUSE*", "service_uuid": uuid16(0xFFF0), "connectable": True},
    )
    required_keys = ("voltage", "current", "cell_voltages")

    def requests(self) -> list[bytes]:
        return list(UNLOCK)

    @staticmethod
    def _prefix_at(buffer: bytes, pos: int) -> int | None:
        """Prefix length of a frame starting at pos, None when none starts there."""
        if buffer[pos] in TYPES and buffer[pos + V1_PREFIX] == FUNCTION:
            return V1_PREFIX
        if buffer[pos + 6] in TYPES and buffer[pos + V2_PREFIX] == FUNCTION:
            return V2_PREFIX
        return None

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while len(buffer) - pos >= HEADER_PROBE:
            prefix = self._prefix_at(buffer, pos)
            if prefix is None:
                pos += 1  # stale bytes before the next frame: resynchronise
                continue
            end = pos + prefix + 2 + buffer[pos + prefix + 1] + 2
            if end > len(buffer):
                break
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        frames, _rest = self.frames_in(b"".join(notifications))
        if request != UNLOCK[-1]:
            return bool(frames)  # a locked adapter answers the first command with any frame
        return set(TYPES) <= {self._kind(f)[0] for f in frames}

    @staticmethod
    def _kind(frame: bytes) -> tuple[int, int]:
        """Frame type (0xA1/0xA2) and protocol version (1/2) of a whole frame."""
        if frame[V1_PREFIX] == FUNCTION and frame[0] in TYPES:
            return frame[0], 1
        return frame[6], 2

    def decode_frames(self, frames: list[bytes]) -> Sample:
        latest: dict[int, tuple[int, bytes]] = {}
        for frame in frames:
            kind, version = self._kind(frame)
            if crc16_modbus(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
                raise self.error(f"bad CRC in the 0x{kind:02X} frame")
            prefix = V1_PREFIX if version == 1 else V2_PREFIX
            latest[kind] = (version, frame[prefix + 2 : -2])
        out: dict[str, Any] = {}
        if STATUS in latest:
            out.update(self._status(*latest[STATUS]))
        if CELLS in latest:
            out.update(self._cells(latest[CELLS][1]))
        return out  # type: ignore[return-value]

    def _status(self, version: int, data: bytes) -> dict[str, Any]:
        values = read_fields(self.family, data, STATUS_FIELDS)
        for key in ("battery_level", "battery_health"):
            if values[key] > 100:
                raise self.error(f"{key} {values[key]} % is above 100")
        raw = values.pop("current_raw")
        values["current"] = round(raw * (0.01 if version == 1 else 0.1), 2)
        # the BMS reports no remaining charge of its own: it is SOC x design capacity
        values["cycle_charge"] = round(values["battery_level"] * values["design_capacity"] / 100, 2)
        return values

    def _cells(self, data: bytes) -> dict[str, Any]:
        if len(data) < PROBES_AT:
            raise self.error(f"cell frame of {len(data)} data bytes is shorter than {PROBES_AT}")
        cells = int.from_bytes(data[CELL_COUNT_AT : CELL_COUNT_AT + 2], "big")
        if cells > MAX_CELLS:
            raise self.error(f"cell_count {cells} exceeds the {MAX_CELLS} cell slots")
        probes = int.from_bytes(data[PROBE_COUNT_AT : PROBE_COUNT_AT + 2], "big")
        if probes > MAX_PROBES or PROBES_AT + 2 * probes > len(data):
            raise self.error(f"temperature probe count {probes} does not fit the frame")
        return {
            "cell_voltages": values_list(data, CELLS_AT, cells, 2, scale=0.001),
            "temperatures": values_list(data, PROBES_AT, probes, 2, scale=0.1, signed=True),
        }
