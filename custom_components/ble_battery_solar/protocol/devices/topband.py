"""Topband BMS (Ective, KiloVault, StartCraft ...): service 0xFFE0, notify 0xFFE4.

The BMS needs no request: once notifications are enabled it streams its status.
A frame is one start byte (0x5E, 0x83 or 0xB0, depending on the brand) and
112 ASCII-hex characters encoding 56 bytes: little-endian voltage (mV, u32),
current (mA, s32, + = charging), remaining charge (mAh, u32), cycles (u16),
state of charge (%, u16), temperature (0.1 K, u16), alarm byte, and from byte
22 up to 16 cell voltages (mV, u16; unused cells are 0). The last 2 bytes are
the 16-bit sum of the first 54, big-endian.

The stream carries bytes that belong to no frame: the tail of an earlier frame
before the first start byte, and filler after a frame. Filler seen in captures
(patman15/aiobmsble fixtures) ends with an 8-byte run of one repeated value
(00, 11 or 52); trailing bytes that do not end that way are taken as a
notification stream cut short, like a partial frame.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, read_int, sum16, uuid16, values_list
from ..models import Advertisement, Sample

START_BYTES = frozenset((0x5E, 0x83, 0xB0))
HEX_CHARS = 112
FRAME_LEN = 1 + HEX_CHARS
DATA_LEN = HEX_CHARS // 2
PAD_LEN = 8
HEX_DIGITS = frozenset(string.hexdigits.encode())
MAX_CELLS = 16
CELLS_OFFSET = 22
ABSENT = (0x0000, 0xFFFF)  # unused cell slot, unfitted sensor (raw 0 = 0 K)

FIELDS = (
    Field("voltage", 0, 4, 0.001, order="little"),
    Field("current", 4, 4, 0.001, signed=True, order="little"),
    Field("cycle_charge", 8, 4, 0.001, order="little"),
    Field("cycles", 12, 2, kind="int", order="little"),
    Field("battery_level", 14, 2, kind="int", order="little"),
    Field("temperature", 16, 2, 0.1, add=-2731.5, order="little"),
    Field("problem_code", 18, 1, kind="int"),
)

# Company ids seen in Topband advertisements; both are generic placeholders
# (0x0000 Ericsson, 0xFFFF "no company"), so claims() also checks the payload.
MANUFACTURER_IDS = (0x0000, 0xFFFF)
# Names of other families that advertise 0xFFE0 as well.
FOREIGN_NAME_PREFIXES = ("ANT", "JK")
EPOCH_SERVICE_DATA = uuid16(0x3333)


def _is_padded(tail: bytes) -> bool:
    return len(tail) >= PAD_LEN and len(set(tail[-PAD_LEN:])) == 1


class TopbandDriver(Driver):
    """Topband BMS, streaming ASCII-hex status frames."""

    family = "topband"
    title = "Topband BMS (Ective, KiloVault, StartCraft)"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE4)
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {"service_uuid": uuid16(0xFFE0), "manufacturer_id": mid, "connectable": True}
        for mid in MANUFACTURER_IDS
    )
    required_keys = ("voltage", "current", "battery_level")

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        # The BLE module puts its 6-byte MAC (7 bytes on some) behind the company id.
        if uuid16(0xAF30) in adv.service_uuids:  # newer Ective packs: the lipower family
            return False
        payloads = [adv.manufacturer_data[m] for m in MANUFACTURER_IDS if m in adv.manufacturer_data]
        if not any(len(p) in (6, 7) for p in payloads):
            return False
        if EPOCH_SERVICE_DATA in adv.service_data:  # Epoch Pro uses the same BLE module
            return False
        name = (adv.local_name or "").upper()
        return not name.startswith(FOREIGN_NAME_PREFIXES)

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while True:
            start = next((i for i in range(pos, len(buffer)) if buffer[i] in START_BYTES), None)
            if start is None:
                break
            body = buffer[start + 1 : start + FRAME_LEN]
            bad = next((b for b in body if b not in HEX_DIGITS), None)
            if bad is not None:
                raise self.error(f"frame 0x{buffer[start]:02X} holds 0x{bad:02X}, not an ASCII-hex digit")
            if len(body) < HEX_CHARS:
                return frames, buffer[start:]  # a frame still arriving
            frames.append(buffer[start : start + FRAME_LEN])
            pos = start + FRAME_LEN
        tail = buffer[pos:]
        if frames and tail and not _is_padded(tail):
            return frames, tail
        return frames, b""

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        # A status frame is complete once the bytes after it are whole as well.
        frames, rest = self.frames_in(b"".join(notifications))
        return bool(frames) and not rest

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:  # a stream may hold several frames: the newest wins
            out = self._status(frame)
        return out  # type: ignore[return-value]

    def _status(self, frame: bytes) -> dict[str, Any]:
        data = bytes.fromhex(frame[1:].decode("ascii"))
        if sum16(data[:-2]) != read_int(data, DATA_LEN - 2, 2):
            raise self.error(f"bad checksum in frame 0x{frame[0]:02X}")
        values = read_fields(self.family, data, FIELDS)
        temperature = values.pop("temperature")
        values["temperatures"] = [] if read_int(data, 16, 2, order="little") in ABSENT else [temperature]
        values["cell_voltages"] = values_list(data, CELLS_OFFSET, MAX_CELLS, 2, scale=0.001,
                                              order="little", absent=ABSENT)
        return values
