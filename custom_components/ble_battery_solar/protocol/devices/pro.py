"""Pro BMS smart shunt (Foxwell BT630, Leagend CM100): service 0xFFF0, notify 0xFFF4, write 0xFFF3.

A battery monitor, not a BMS. It streams nothing until a handshake: the
command ``55 AA 0A 01 01 55 80 04 07 7F 64 8E 68 2B`` (function 0x04) is
answered with a type-0x03 frame, then functions 0x40 (hardware id), 0x42
(data stream) and 0x43 (the trigger; the vendor's document calls it
"historical data") are written without an answer, after which 50-byte
type-0x04 frames arrive about once a second. Every poll repeats the handshake;
a shunt that already streams keeps streaming.

Frames: ``55 AA <n> <type> <n + 1 bytes>`` (n + 5 bytes in all). Type 0x04
(n = 0x2D) starts ``80 AA 01 70``, then little-endian: voltage 0.01 V at byte
8, current 1 mA at 12 (16 bits; bit 7 of byte 15 set = discharging), the
protection bits in bits 0-6 of byte 15 (over/under voltage, over current,
over/under temperature, short circuit, cell imbalance), temperature 0.1 °C at
16 (16 bits, byte 18 non-zero = below zero), remaining charge 0.01 Ah at 20
(32 bits), SOC at 24, power 0.01 W at 32 (32 bits, sign of the current),
cumulative discharge 0.1 Ah at 36 and a Unix timestamp at 40. Type 0x03 frames
(the handshake answer, the machine info) start ``80 AA`` and carry no values.
No checksum is known: the sources explain neither the last byte of a command
nor the last two bytes of a data frame, so the fixed protocol bytes and the
reserved bytes (19, 25-27: zero in every capture) are checked instead.

Sources: patman15/aiobmsble ``pro_bms.py``, ``docs/pro_bms.md`` and
``tests/bms/test_pro_bms.py`` (BT630 captures, charging and discharging),
aiobmsble 0.31.0 (PyPI, same layout). The vendor's BT630 document (cited by
the source) puts real-time data at function 0x56; the source found only 0x43
to work and is followed. The BMS-computed run time (bytes 28-29) is wrong at
high currents per the source and is not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, read_fields, uuid16
from ..models import Sample

HEAD = b"\x55\xaa"
OVERHEAD = 5
TYPE_INFO, TYPE_DATA = 0x03, 0x04
DATA_LEN = 0x2D
DATA_MARK = b"\x80\xaa\x01\x70"
INFO_MARK = b"\x80\xaa"
RESERVED = ((19, 20), (25, 28))
DISCHARGING = 0x80
PROTECTION = 0x7F

CMD_INIT = HEAD + bytes.fromhex("0a0101558004077f648e682b")
CMD_HWID = HEAD + bytes.fromhex("070101558040000095")
CMD_STREAM = HEAD + bytes.fromhex("070101558042000097")
CMD_TRIGGER = HEAD + bytes.fromhex("09010155804300001200" "84")

FIELDS = (
    Field("voltage", 8, 2, 0.01, order="little"),
    Field("current_ma", 12, 2, kind="int", order="little"),
    Field("flags", 15, 1, kind="int"),
    Field("temp_raw", 16, 2, kind="int", order="little"),
    Field("temp_sign", 18, 1, kind="int"),
    Field("cycle_charge", 20, 4, 0.01, order="little"),
    Field("battery_level", 24, 1, kind="int"),
    Field("power", 32, 4, 0.01, order="little"),
)


class ProDriver(Driver):
    """Pro BMS / Foxwell BT630 / Leagend CM100 smart shunt."""

    family = "pro"
    pushes_data = True
    title = "Pro BMS smart shunt (Foxwell, Leagend)"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF4)
    write_uuid = uuid16(0xFFF3)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "Pro BMS", "service_uuid": uuid16(0xFFF0), "connectable": True},
    )
    required_keys = ("voltage", "current", "battery_level")
    checksummed = False

    def requests(self) -> list[bytes]:
        return [CMD_INIT, CMD_HWID, CMD_STREAM, CMD_TRIGGER]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        if buffer[pos : pos + 2] not in (HEAD, HEAD[:1]):
            return None
        if len(buffer) - pos < 4:
            return NEED_MORE
        if buffer[pos + 3] not in (TYPE_INFO, TYPE_DATA):
            return None
        return buffer[pos + 2] + OVERHEAD

    def frame_defect(self, frame: bytes) -> str | None:
        if frame[3] == TYPE_INFO:
            return None if frame[4:6] == INFO_MARK else "info frame lacks its 80 AA marker"
        if frame[2] != DATA_LEN:
            return f"data frame of {len(frame)} bytes, expected {DATA_LEN + OVERHEAD}"
        if frame[4:8] != DATA_MARK:
            return f"data frame marker {frame[4:8].hex()} is not 80aa0170"
        for start, end in RESERVED:
            if any(frame[start:end]):
                return f"reserved bytes {start}-{end - 1} are not zero"
        return None

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        if request in (CMD_HWID, CMD_STREAM):
            return True  # not answered
        frames, _rest = self.split(b"".join(notifications))
        if request == CMD_INIT:
            return any(f[3] in (TYPE_INFO, TYPE_DATA) for f in frames)
        return any(f[3] == TYPE_DATA for f in frames)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        data = [f for f in frames if f[3] == TYPE_DATA]
        if not data:
            raise self.error("no data frame (type 0x04) after the handshake")
        values: dict[str, Any] = read_fields(self.family, data[-1], FIELDS)
        flags = values.pop("flags")
        sign = -1 if flags & DISCHARGING else 1
        values["current"] = round(sign * values.pop("current_ma") / 1000, 3)
        values["power"] = round(sign * values["power"], 2)
        values["problem_code"] = flags & PROTECTION
        temp_raw, temp_sign = values.pop("temp_raw"), values.pop("temp_sign")
        values["temperatures"] = [round((-temp_raw if temp_sign else temp_raw) / 10, 1)]
        return values  # type: ignore[return-value]
