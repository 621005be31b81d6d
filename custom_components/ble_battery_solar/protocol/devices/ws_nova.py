"""Wattstunde Nova Core batteries (service 0xFFF0, one characteristic 0xFFF1 for writes and notifications).

ASCII frames ``:<hex digits>~``. Writing ``:015150000EFE~`` asks for the status
frame, which the battery also streams by itself. The hex digits encode bytes
XOR-ed with a key: the fourth encoded byte (digits 7-8) is the key itself, so it
decodes to 0. Decoded, the status frame starts ``01 54``; its fifth byte was the
number of hex digits in every capture (236). Big-endian, offsets in the decoded
bytes: 16 cell slots (mV, 0 = no cell) from 12, the alarm word at 44 (bits 2-11;
the other bits are not alarms), four probes (°C + 40, one byte each) from 48,
current at 54 (sign and magnitude: bit 31 set = discharging, mA in the low 31
bits), voltage (mV) at 62, cycles at 67, SOC % at 69, design capacity and
remaining charge (mAh, u32) at 70 and 74, the serial number (ASCII) at 91-106,
the heater (u32, non-zero = on) at 108. The last encoded byte before ``~`` is a
checksum whose algorithm is unknown (no sum or XOR of the encoded or decoded
bytes matches), so it is not checked: hex encoding, the end marker, the frame
type and plausible values are what reject damaged frames.

Packs advertise service 0xFFF0, which many vendors use, a user-chosen name
("Power-1") or none, and manufacturer data that repeats their address. They are
recognised by the address prefixes of their Bluetooth module, 60:6E:41 and
10:23:81: the manifest matches the service and `claims()` checks the prefix.

Source: patman15/aiobmsble aiobmsble/bms/ws_nova_bms.py, tests/bms/test_ws_nova_bms.py and
aiobmsble/test_data/ws_nova_bms.json @b0567331025033d33729385fa89a1198275d6486
(advertisements from BMS_BLE-HA issues 537 and 679); the aiobmsble 0.31.0 wheel on
PyPI for the heater's offset. Disagreements: the commit above reads the heater at
decoded byte 159, beyond the frame (so always "off"); 0.31.0 moved it to 108,
followed here. The source takes the current's magnitude from 15 bits (32.767 A at
most) and its sign from any higher bit; this driver reads sign and magnitude as a
32-bit field, the same for every capture. The source floors the design capacity
to whole Ah; here it is exact. The decoded bytes 88-90 read "WSN" before the
serial number the source reports (5500724211093).
"""

from __future__ import annotations

from string import hexdigits
from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, read_fields, uuid16, values_list
from ..models import Advertisement, Sample

PREFIXES = frozenset({"60:6E:41", "10:23:81"})
HEAD, TAIL = 0x3A, 0x7E  # ":" and "~"
STATUS_TYPE = b"\x01\x54"
REQUEST = b":015150000EFE~"
MIN_DIGITS = 236  # a status frame holds 118 encoded bytes
KEY_DIGITS = slice(7, 9)
HEX = frozenset(hexdigits.encode())
CELL_SLOTS, PROBES = 16, 4
SIGN = 1 << 31

FIELDS = (
    Field("problem_code", 44, 2, kind="int", mask=0x0FFC),
    Field("current_raw", 54, 4, kind="int"),
    Field("voltage", 62, 2, 0.001),
    Field("cycles", 67, 2, kind="int"),
    Field("battery_level", 69, 1, kind="int"),
    Field("design_capacity", 70, 4, 0.001),
    Field("cycle_charge", 74, 4, 0.001),
    Field("heater", 108, 4, kind="bool"),
)


def decoded(frame: bytes) -> bytes:
    """The bytes a whole ``:…~`` frame encodes (key removed, checksum byte kept last)."""
    key = int(frame[KEY_DIGITS], 16)
    return bytes(b ^ key for b in bytes.fromhex(frame[1:-1].decode("ascii")))


class WsNovaDriver(Driver):
    """Wattstunde Nova Core: one request, one XOR-keyed hex frame."""

    family = "ws_nova"
    pushes_data = True
    title = "Wattstunde Nova Core"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF1)
    matchers: ClassVar[tuple[Matcher, ...]] = ({"service_uuid": uuid16(0xFFF0), "connectable": True},)
    required_keys = ("voltage", "current")
    checksummed = False

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        return (adv.address or "").upper().replace("-", ":")[:8] in PREFIXES

    def requests(self) -> list[bytes]:
        return [REQUEST]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        if buffer[pos] != HEAD:
            return None
        end = buffer.find(TAIL, pos + 1)
        return NEED_MORE if end < 0 else end - pos + 1

    def frame_defect(self, frame: bytes) -> str | None:
        digits = frame[1:-1]
        if not digits or any(c not in HEX for c in digits):
            return "frame holds characters that are no hex digits"
        if len(digits) % 2 or len(digits) < KEY_DIGITS.stop:
            return f"frame holds {len(digits)} hex digits, not whole bytes with a key"
        return None

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return decoded(frame).startswith(STATUS_TYPE)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        status = [d for d in map(decoded, frames) if d.startswith(STATUS_TYPE)]
        if not status:
            raise self.error("no status frame (type 01 54) in the response")
        data = status[-1]
        if 2 * len(data) < MIN_DIGITS:
            raise self.error(f"status frame holds {len(data)} bytes, expected {MIN_DIGITS // 2}")
        out: dict[str, Any] = read_fields(self.family, data, FIELDS)
        raw = out.pop("current_raw")
        out["current"] = round((raw & (SIGN - 1)) * (-1 if raw & SIGN else 1) / 1000, 3)
        if out["battery_level"] > 100:
            raise self.error(f"battery_level {out['battery_level']} % is above 100")
        out["cell_voltages"] = values_list(data, 12, CELL_SLOTS, 2, scale=0.001, absent=(0,))
        out["temperatures"] = values_list(data, 48, PROBES, 1, add=-40)
        if serial := data[91:107].split(b"\x00", 1)[0].decode("ascii", "replace").strip():
            out["serial_number"] = serial
        return out  # type: ignore[return-value]
