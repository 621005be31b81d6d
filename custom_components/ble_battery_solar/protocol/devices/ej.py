"""E&J Technology BMS: Lithtech, Elektronicx, Supervolt v1, Chins, Meritsun, PowerBoozt, Volthium.

Nordic UART service (6E400001-B5A3-F393-E0A9-E50E24DCCA9E; write ...0002,
notify ...0003). Frames are ASCII: ``:`` + hex digits + ``~``. The hex digits
encode ``<addr> <cmd> <version> <length u16> <data...> <checksum>``, where
length is the frame's length in characters (``:`` and ``~`` included) and the
checksum is the byte sum of the ASCII characters between ``:`` and the
checksum, XOR 0xFF. A response carries the request's command | 0x80.

Requests: ``:000250000E03~`` (0x02 real-time data) and ``:001031000E05~``
(0x10 capacity). Offsets below count in the decoded bytes (address = 0).
Real-time response: 16 cell slots u16 mV from 12 (0 = unused), charge and
discharge current u16 10 mA at 44 and 46, temperature byte at 48 (°C + 40),
status word at 52 (0x1000 discharge MOSFET, 0x2000 charge MOSFET,
0x0FFC protections), heater at 54, balancing bits u16 at 55, cycles u16 at
57, state of charge at 61. Pack voltage is the sum of the cells (the
protocol has no pack-voltage field). Capacity response: remaining charge
u16 0.1 Ah at 7. Single-frame firmware (Meritsun, Chins) answers 0x02 with a
140-character frame that also carries remaining charge at 62 and design
capacity at 66 (both 0.1 Ah) and does not answer 0x10.

The Bluetooth module interjects ``AT\\r\\n`` into the stream; frames are found
by resynchronising on the next ``:``. ``libattU`` modules send a checksum that
is never correct (variant ``nocrc``).

Sources: patman15/aiobmsble aiobmsble/bms/ej_bms.py and tests/bms/test_ej_bms.py
@b0567331; they agree with each other. The source reads only the first of the
four temperature bytes (48..51); the others hold 0 °C on single-frame firmware
and are left out here as well.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, values_list
from ..models import Advertisement, Sample

SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
WRITE = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NOTIFY = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
HEAD, TAIL = ord(":"), ord("~")
CMD_RT, CMD_CAP = 0x02, 0x10
MIN_CHARS = 14  # ':' + address, command, version, length, checksum + '~'
SINGLE_FRAME_CHARS = 140
HEX = frozenset(string.hexdigits.encode())
NO_CRC_VARIANT = "nocrc"
CELLS_OFFSET, MAX_CELLS = 12, 16

RT_FIELDS = (
    Field("charge_current", 44, 2, kind="int"),
    Field("discharge_current", 46, 2, kind="int"),
    Field("temperature", 48, 1, add=-40, kind="int"),
    Field("status", 52, 2, kind="int"),
    Field("heater", 54, 1, kind="bool"),
    Field("balancer", 55, 2, kind="bool"),
    Field("cycles", 57, 2, kind="int"),
    Field("battery_level", 61, 1, kind="int"),
)
SINGLE_FRAME_FIELDS = (
    Field("cycle_charge", 62, 2, 0.1),
    Field("design_capacity", 66, 2, 0.1),
)
CAP_FIELDS = (Field("cycle_charge", 7, 2, 0.1),)
PROBLEM_MASK = 0x0FFC
DISCHARGE_FET, CHARGE_FET = 0x1000, 0x2000

# Chins names its batteries "G-<voltage>V<capacity>Ah-<serial>".
CHINS_NAME = re.compile(r"G-\d+V\d+Ah-")
NAME_MATCHERS: tuple[Matcher, ...] = (
    {"local_name": "L-12V???AH-*"},  # Lithtech
    {"local_name": "LT-12V-*"},  # Lithtech
    {"local_name": "V-12V???Ah-*"},  # Volthium
    {"local_name": "libatt*", "manufacturer_id": 21320},  # E&J module (Elektronicx, Fliteboard)
    {"local_name": "SV12V*", "manufacturer_id": 33384},  # Supervolt v1
    # early LiTime serials (later ones are the LiTime protocol, family litime)
    {"local_name": "LT-12???BG-A0[0-6]*", "manufacturer_id": 33384},
    {"local_name": "LT-12???BG-A0[0-6]*", "manufacturer_id": 22618},
    {"local_name": "LT-24???B-A00[0-2]*", "manufacturer_id": 22618},
    # Chins; hassfest wants three literal characters, claims() checks the rest
    *(Matcher(local_name=f"G-{digit}*") for digit in "123456789"),
)


def checksum(body: bytes) -> int:
    """E&J checksum of the ASCII characters between ':' and the checksum."""
    return (sum(body) & 0xFF) ^ 0xFF


def request(cmd: int, version: int) -> bytes:
    """A read request frame (address 0, no data)."""
    body = f"00{cmd:02X}{version:02X}{MIN_CHARS:04X}".encode()
    return b":" + body + f"{checksum(body):02X}".encode() + b"~"


RT_REQUEST = request(CMD_RT, 0x50)
CAP_REQUEST = request(CMD_CAP, 0x31)


def _declared_length(buffer: bytes, pos: int) -> int | None:
    """Frame length in characters declared by a header at pos; None when impossible."""
    digits = buffer[pos + 7 : pos + 11]
    if not HEX.issuperset(digits):
        return None
    length = int(digits, 16)
    return length if length >= MIN_CHARS and length % 2 == 0 else None


class EjDriver(Driver):
    """E&J Technology BMS: real-time data and capacity requests per poll."""

    family = "ej"
    title = "E&J / Lithtech / Supervolt / Chins BMS"
    service_uuid = SERVICE
    notify_uuid = NOTIFY
    write_uuid = WRITE
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        Matcher(**m, connectable=True) for m in NAME_MATCHERS
    )
    required_keys = ("voltage", "current", "battery_level", "cycle_charge")

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        # set once the device answered 0x02 with the single 140-character frame
        self.single_frame = False

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        name = adv.local_name or ""
        return not name.startswith("G-") or CHINS_NAME.match(name) is not None

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str | None:
        name = adv.local_name or ""
        return NO_CRC_VARIANT if name.startswith("libattU") else None

    def requests(self) -> list[bytes]:
        return [RT_REQUEST] if self.single_frame else [RT_REQUEST, CAP_REQUEST]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = buffer.find(HEAD)
        while pos != -1:
            if len(buffer) - pos < 11:
                return frames, buffer[pos:]
            length = _declared_length(buffer, pos)
            if length is not None and len(buffer) - pos < length:
                return frames, buffer[pos:]
            if length is not None and buffer[pos + length - 1] == TAIL:
                frames.append(buffer[pos : pos + length])
                pos = buffer.find(HEAD, pos + length)
            else:  # not a frame start after all (stale bytes): look for the next one
                pos = buffer.find(HEAD, pos + 1)
        return frames, b""

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is None:
            return True
        return frame[3:5].upper() == (b"%02X" % (int(request[3:5], 16) | 0x80))

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        frames, _rest = self.frames_in(b"".join(notifications))
        if any(len(f) == SINGLE_FRAME_CHARS and self.answers(RT_REQUEST, f) for f in frames):
            self.single_frame = True
        # single-frame firmware leaves the capacity request unanswered
        if request == CAP_REQUEST and self.single_frame:
            return True
        return any(self.answers(request, f) for f in frames)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            body = frame[1:-1]
            if not HEX.issuperset(body):
                raise self.error("frame holds characters that are not hex digits")
            if self.variant != NO_CRC_VARIANT and checksum(body[:-2]) != int(body[-2:], 16):
                raise self.error("bad checksum")
            data = bytes.fromhex(body.decode())
            cmd = data[1] & 0x7F
            if not data[1] & 0x80:
                raise self.error(f"frame 0x{data[1]:02X} is not a response")
            if cmd == CMD_RT:
                out.update(self._realtime(data, single=len(frame) == SINGLE_FRAME_CHARS))
            elif cmd == CMD_CAP:
                out.update(read_fields(self.family, data, CAP_FIELDS))
            else:
                raise self.error(f"unexpected response to command 0x{cmd:02X}")
        return out  # type: ignore[return-value]

    def _realtime(self, data: bytes, *, single: bool) -> dict[str, Any]:
        raw = read_fields(self.family, data, RT_FIELDS)
        slots = values_list(data, CELLS_OFFSET, MAX_CELLS, 2, scale=0.001)
        used = max((i + 1 for i, v in enumerate(slots) if v), default=0)
        if not used:
            raise self.error("no cell voltages in the real-time frame")
        cells = slots[:used]
        if raw["battery_level"] > 100:
            raise self.error(f"state of charge {raw['battery_level']} % is above 100")
        status = raw["status"]
        values: dict[str, Any] = {
            "cell_voltages": cells,
            "voltage": round(sum(cells), 3),
            "current": round((raw["charge_current"] - raw["discharge_current"]) * 0.01, 2),
            "temperatures": [float(raw["temperature"])],
            "problem_code": status & PROBLEM_MASK,
            "dischrg_mosfet": bool(status & DISCHARGE_FET),
            "chrg_mosfet": bool(status & CHARGE_FET),
            "heater": raw["heater"],
            "balancer": raw["balancer"],
            "cycles": raw["cycles"],
            "battery_level": raw["battery_level"],
        }
        if single:
            values.update(read_fields(self.family, data, SINGLE_FRAME_FIELDS))
            if not values["design_capacity"]:  # not configured on this pack
                del values["design_capacity"]
        return values
