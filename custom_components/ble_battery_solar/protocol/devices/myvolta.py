"""Volta Power Systems myVolta CAN-BLE adapter (``VPS-…``): CAN frames of the BMS, streamed.

The adapter advertises service 00035b03-58e6-07dd-021a-08123a000300 and, once
notifications of characteristic …0301 are enabled, forwards the BMS's CAN
messages without being asked. Each is framed ``55 55 <body> 04 04`` with byte
stuffing inside: 0x04 and 0x05 are escape bytes, ``04 04`` ends the frame and
an escape byte followed by 0x05 or 0x55 (or ``05 04``) stands for that byte.
A body of command 0x01 is a CAN frame: ``01 <message type> 02 <arbitration id
00 00> <extended 00> <DLC 08> <8 data bytes> <checksum>``, the checksum being
0xFF XOR the 8-bit sum of the bytes from the message type to the last data
byte. Other commands (0x83, five bytes, seen before the CAN frames) carry no
values and are skipped.

Message types, little-endian data: 0x00 voltage (mV), current (0.01 A, signed,
+ = charging), SOC (0.1 %) at data bytes 0, 2 and 6; 0x01 the fault flags
(data bytes 1, 2 and 4 of the little-endian 64-bit data word, bit positions as
in the source's table) and the heater (bit 7 of data byte 3); 0x11-0x14 four
cell voltages each (mV); 0x24-0x26 four temperatures each (0.1 °C, signed).

Sources: patman15/aiobmsble ``myvolta_bms.py``, ``docs/myvolta_bms.md`` and
``tests/bms/test_myvolta_bms.py`` (one stream of a 14-cell pack), the
advertisement of patman15/BMS_BLE-HA#673. Disagreements: aiobmsble reports the
problem code as the 32-bit word from data byte 1 (masked 0xFF00FFFF), i.e. its
documented flags shifted down by 8 bits; here the flags keep the documented
bit positions. The capture's last cell slots read 0x0000 and 0x0001: aiobmsble
shows a 15th cell of 0.001 V, while the pack voltage (57.345 V) matches the 14
cells, so both values are taken as unused slots. Messages 0x21/0x22 (0x8000 in
every slot) and 0x27-0x29 (-54.8 °C in every slot) are not decoded, as in the
source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, read_fields, values_list
from ..models import Sample

SERVICE = "00035b03-58e6-07dd-021a-08123a000300"
NOTIFY = "00035b03-58e6-07dd-021a-08123a000301"
HEAD = b"\x55\x55"
END = 0x04
ESCAPES = (0x04, 0x05)
LITERALS = (0x04, 0x05, 0x55)
MAX_FRAME = 64  # stuffed length of the longest frame (a CAN frame of 15 bytes, all escaped, is 36)
CAN_COMMAND = 0x01
CAN_LEN = 16
PACK_ID, DLC = 0x02, 0x08
DATA_AT = 7
METRICS, INFO = 0x00, 0x01
CELL_TYPES = (0x11, 0x12, 0x13, 0x14)
TEMP_TYPES = (0x24, 0x25, 0x26)
REQUIRED_TYPES = frozenset((METRICS, INFO, *CELL_TYPES, *TEMP_TYPES))
UNUSED_CELL = (0x0000, 0x0001, 0xFFFF)
PROBLEM_MASK = 0x000000FF_00FFFF00  # data bytes 1, 2 and 4 hold fault flags
HEATER_BIT = 1 << 31

METRIC_FIELDS = (
    Field("voltage", 0, 2, 0.001, order="little"),
    Field("current", 2, 2, 0.01, signed=True, order="little"),
    Field("battery_level", 6, 2, 0.1, order="little"),
)


def unstuff(frame: bytes) -> bytes:
    """The body of a whole stuffed frame (header and end marker removed)."""
    out = bytearray()
    i, end = 2, len(frame) - 2
    while i < end:
        if frame[i] in ESCAPES:
            out.append(frame[i + 1])
            i += 2
        else:
            out.append(frame[i])
            i += 1
    return bytes(out)


def checksum(body: bytes) -> int:
    """0xFF XOR the 8-bit sum of a CAN frame's bytes after the command byte."""
    return 0xFF ^ (sum(body[1:-1]) & 0xFF)


class MyVoltaDriver(Driver):
    """myVolta CAN-BLE adapter streaming the BMS's CAN messages."""

    family = "myvolta"
    title = "Volta myVolta"
    service_uuid = SERVICE
    notify_uuid = NOTIFY
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"service_uuid": SERVICE, "connectable": True},
        {"local_name": "VPS-*", "connectable": True},
    )
    required_keys = ("voltage", "current", "battery_level", "cell_voltages")

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        if buffer[pos] != HEAD[0] or buffer[pos + 1 : pos + 2] not in (b"", HEAD[1:]):
            return None
        i = pos + 2
        while i < len(buffer) and i - pos < MAX_FRAME:
            if buffer[i] not in ESCAPES:
                i += 1
                continue
            if i + 1 >= len(buffer):
                return NEED_MORE
            if buffer[i] == END and buffer[i + 1] == END:
                return i + 2 - pos
            if buffer[i + 1] not in LITERALS:
                return None  # no escape sequence: not a frame start after all
            i += 2
        return NEED_MORE if i - pos < MAX_FRAME else None

    def frame_defect(self, frame: bytes) -> str | None:
        body = unstuff(frame)
        if not body or body[0] != CAN_COMMAND:
            return None
        if len(body) != CAN_LEN or body[2] != PACK_ID or body[6] != DLC:
            return f"CAN frame {body.hex()} is not an 8-byte frame of pack 2"
        if checksum(body) != body[-1]:
            return f"bad checksum in the frame of message type 0x{body[1]:02X}"
        return None

    def _messages(self, frames: Sequence[bytes]) -> dict[int, bytes]:
        """Data bytes of the newest CAN frame of each message type."""
        out: dict[int, bytes] = {}
        for frame in frames:
            body = unstuff(frame)
            if body[:1] == bytes((CAN_COMMAND,)):
                out[body[1]] = body[DATA_AT:-1]
        return out

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        frames, _rest = self.split(b"".join(notifications))
        return self._messages(frames).keys() >= REQUIRED_TYPES

    def decode_frames(self, frames: list[bytes]) -> Sample:
        messages = self._messages(frames)
        missing = sorted(REQUIRED_TYPES - messages.keys())
        if missing:
            raise self.error("no message of type " + ", ".join(f"0x{t:02X}" for t in missing))
        out: dict[str, Any] = read_fields(self.family, messages[METRICS], METRIC_FIELDS)
        word = int.from_bytes(messages[INFO], "little")
        out["problem_code"] = word & PROBLEM_MASK
        out["heater"] = bool(word & HEATER_BIT)
        out["cell_voltages"] = [
            v for t in CELL_TYPES
            for v in values_list(messages[t], 0, 4, 2, scale=0.001, order="little", absent=UNUSED_CELL)
        ]
        out["temperatures"] = [
            v for t in TEMP_TYPES
            for v in values_list(messages[t], 0, 4, 2, scale=0.1, signed=True, order="little")
        ]
        return out  # type: ignore[return-value]
