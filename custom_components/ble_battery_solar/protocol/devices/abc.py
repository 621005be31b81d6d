"""ABC-BMS / SOK batteries (service 0xFFE0, notify 0xFFE1, write 0xFFE2; advertise 0xFFF0).

Request ``EE <cmd> 00 00 00 <crc8>``; every response is one 20-byte frame
``CC <type> <17 data bytes> <crc8>`` (CRC-8/MAXIM over the first 19 bytes).
A command is answered by several frames: 0xC0 → F1 (model name),
0xC1 → F0, F2; 0xC2 → F0, F3, F4 ... (four cells per F4); 0xC4 → F9
(protection flags; not every BMS answers it). Little-endian, offsets in the
frame: F0 voltage mV u24 at 2, current mA s24 at 5 (+ = charging), design
capacity mAh u24 at 8, remaining charge mAh u24 at 11, cycles u16 at 14,
SOC at 16; F2 charge / discharge MOSFET at 2 / 3, probe count at 4, probes
s16 °C from 5; F3 heater at 8, balancing at 10; F4 four entries
``<cell index> <mV u24>`` from 2 (index 0 = empty); F9 16 flag bytes from 2,
bit 0 of each is one protection (problem_code bit i = byte i).

A poll writes C4 and C0 first without waiting (their answers, if any, arrive
before later ones: the BMS answers in order), then C2 and C1: C1's answer comes
after every F4 frame of C2.

Sources: patman15/aiobmsble aiobmsble/bms/abc_bms.py and tests/bms/test_abc_bms.py
@b0567331. The source joins F4 frames and takes every second u16 as a cell;
cells are placed by their index here (same values for the capture).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, read_int, uuid16
from ..models import Sample

HEAD_REQUEST, HEAD_RESPONSE = 0xEE, 0xCC
FRAME_LENGTH = 20
CMD_MODEL, CMD_STATUS, CMD_CELLS, CMD_ALARMS = 0xC0, 0xC1, 0xC2, 0xC4
F_MAIN, F_MODEL, F_FETS, F_BALANCE, F_CELLS, F_ALARMS = 0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF9
RESPONSE_TYPES = frozenset(range(0xF0, 0xFB))
# the frame that completes each command's answer; None: not waited for
COMPLETES: dict[int, int | None] = {CMD_ALARMS: None, CMD_MODEL: None,
                                    CMD_CELLS: F_CELLS, CMD_STATUS: F_FETS}
CELL_ENTRIES, CELL_ENTRY = 4, 4
MAX_PROBES = 7  # s16 slots from byte 5 to the checksum

MAIN_FIELDS = (
    Field("voltage", 2, 3, 0.001, order="little"),
    Field("current", 5, 3, 0.001, signed=True, order="little"),
    Field("design_capacity", 8, 3, 0.001, order="little"),
    Field("cycle_charge", 11, 3, 0.001, order="little"),
    Field("cycles", 14, 2, kind="int", order="little"),
    Field("battery_level", 16, 1, kind="int"),
)
FET_FIELDS = (
    Field("chrg_mosfet", 2, 1, kind="bool"),
    Field("dischrg_mosfet", 3, 1, kind="bool"),
    Field("probes", 4, 1, kind="int"),
)
BALANCE_FIELDS = (
    Field("heater", 8, 1, kind="bool"),
    Field("balancer", 10, 1, kind="bool"),
)
PRINTABLE = frozenset(string.printable.encode()) - frozenset(b"\t\n\r\x0b\x0c")


def crc8(data: bytes) -> int:
    """CRC-8/MAXIM (reflected polynomial 0x8C, initial value 0)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc


def command(cmd: int) -> bytes:
    """A request frame."""
    body = bytes((HEAD_REQUEST, cmd, 0, 0, 0))
    return body + bytes((crc8(body),))


class AbcDriver(Driver):
    """ABC-BMS / SOK battery: four commands per poll."""

    family = "abc"
    title = "ABC-BMS / SOK battery"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE2)
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        Matcher(local_name=name, service_uuid=uuid16(0xFFF0), connectable=True)
        for name in ("ABC-*", "SOK-*", "NB-*", "Hoover")
    )
    required_keys = ("voltage", "current", "battery_level", "cell_voltages", "chrg_mosfet")

    def requests(self) -> list[bytes]:
        return [command(c) for c in (CMD_ALARMS, CMD_MODEL, CMD_CELLS, CMD_STATUS)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if buffer[pos] != HEAD_RESPONSE or (
                pos + 1 < len(buffer) and buffer[pos + 1] not in RESPONSE_TYPES
            ):
                pos += 1  # stale bytes before a frame
                continue
            if len(buffer) - pos < FRAME_LENGTH:
                break
            candidate = buffer[pos : pos + FRAME_LENGTH]
            if crc8(candidate[:-1]) != candidate[-1] and (later := _next_head(candidate)):
                pos += later  # a stale partial frame: the real one starts inside
                continue
            frames.append(candidate)
            pos += FRAME_LENGTH
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is None:
            return True
        return COMPLETES.get(request[1], -1) == frame[1]

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        if request is not None and COMPLETES.get(request[1], -1) is None:
            return True  # answered, if at all, before the next command's answer
        return super().response_complete(request, notifications)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        cells: dict[int, float] = {}
        for frame in frames:
            if crc8(frame[:-1]) != frame[-1]:
                raise self.error(f"bad checksum in frame 0x{frame[1]:02X}")
            kind = frame[1]
            if kind == F_MAIN:
                out.update(read_fields(self.family, frame, MAIN_FIELDS))
            elif kind == F_FETS:
                out.update(self._fets(frame))
            elif kind == F_BALANCE:
                out.update(read_fields(self.family, frame, BALANCE_FIELDS))
            elif kind == F_CELLS:
                for i in range(CELL_ENTRIES):
                    entry = 2 + CELL_ENTRY * i
                    if index := frame[entry]:
                        cells[index] = read_int(frame, entry + 1, 3, order="little") / 1000
            elif kind == F_ALARMS:
                out["problem_code"] = sum((frame[2 + i] & 1) << i for i in range(16))
            elif kind == F_MODEL:
                out["model"] = _text(frame[2:-1])
            # other types (F5-F8, FA) carry settings, not measurements
        if out.get("battery_level", 0) > 100:
            raise self.error(f"state of charge {out['battery_level']} % is above 100")
        if cells:
            count = max(cells)
            if len(cells) != count:
                raise self.error(f"cell voltages of {count - len(cells)} of {count} cells missing")
            out["cell_voltages"] = [cells[i] for i in range(1, count + 1)]
        return out  # type: ignore[return-value]

    def _fets(self, frame: bytes) -> dict[str, Any]:
        values = read_fields(self.family, frame, FET_FIELDS)
        probes = values.pop("probes")
        if probes > MAX_PROBES:
            raise self.error(f"{probes} temperature probes do not fit a frame")
        values["temperatures"] = [
            float(read_int(frame, 5 + 2 * i, 2, signed=True, order="little")) for i in range(probes)
        ]
        return values


def _next_head(candidate: bytes) -> int:
    """Offset of the next possible frame start inside a candidate frame, else 0."""
    for i in range(1, len(candidate) - 1):
        if candidate[i] == HEAD_RESPONSE and candidate[i + 1] in RESPONSE_TYPES:
            return i
    return 0


def _text(data: bytes) -> str:
    """ASCII text up to the first unprintable byte."""
    end = next((i for i, b in enumerate(data) if b not in PRINTABLE), len(data))
    return data[:end].decode("ascii").strip()
