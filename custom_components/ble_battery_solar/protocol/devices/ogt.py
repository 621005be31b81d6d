"""Offgridtec LiFePO4 Smart Pro batteries, type A and type B (service 0xFFF0, notify 0xFFF4, write 0xFFF6).

ASCII register reads, every byte XOR-scrambled with a per-device key. The
key follows from the advertised name ``SmartBat-<type><serial>``: the sum of
a fixed 16-entry table indexed by each hex digit of the serial (at least 4
digits), plus 5 for type A or 8 for type B. Request
``+RAA<reg><len>`` (type A) or ``+R16<reg><len>`` (type B), register and
length as two hex digits each. Response ``+RD,<reg><value>\\r\\n``: a 16-bit
little-endian value as 4 hex digits, or 6 digits for signed values whose
third byte is a multiplier (at least 1); ``+RD,Erro\0`` (ended by a NUL byte)
when the register does not exist. As the scrambling is a plain XOR, a response start is
recognised without the key (``+RD,`` has fixed byte differences), and the
key is recovered from it.

Type A registers: SOC 2, remaining charge 4 (mAh), voltage 8 (mV), MOSFET
temperature 12 (0.1 K), current 16 (10 mA, + = charging), runtime 24 (min),
cycles 44; no cells. Type B: temperature 8, voltage 9, current 10 (mA),
SOC 13, remaining charge 15, runtime 18, cycles 23, cells mV at 63 downwards
(up to 16; the first missing one ends the pack). Runtime 0xFFFF means not
discharging and is dropped.

Sources: patman15/aiobmsble aiobmsble/bms/ogt_bms.py and tests/bms/test_ogt_bms.py
@b0567331 (its mock frames are built with key 0x10, not captured). The source
sends one request at a time and stops reading cells at the first error
reply; a poll here asks for all 16 cell registers.
"""

from __future__ import annotations

import re
import string
from typing import Any, ClassVar

from ..base import Driver, Matcher, uuid16
from ..models import Advertisement, Sample

CRY_SEQ = (2, 5, 4, 3, 1, 4, 1, 6, 8, 3, 7, 2, 5, 8, 9, 3)
HEAD = b"+RD,"
# byte differences of the response header, the same under any XOR key
HEAD_DIFF = tuple(b ^ HEAD[0] for b in HEAD[1:])
CRLF, NUL = b"\r\n", b"\x00"
ERROR = b"Err"
HEX = frozenset(string.hexdigits.encode())
NAME = re.compile(r"SmartBat-([AB])(\d+)")
NOT_DISCHARGING = 0xFFFF
CELL_TOP, MAX_CELLS = 63, 16

# register: (key, request length, scale); type A and type B maps
REGISTERS: dict[str, dict[int, tuple[str, int, float]]] = {
    "A": {2: ("battery_level", 1, 1), 4: ("cycle_charge", 3, 0.001), 8: ("voltage", 2, 0.001),
          12: ("temperature", 2, 0.1), 16: ("current", 3, 0.01), 24: ("runtime", 2, 60),
          44: ("cycles", 2, 1)},
    "B": {8: ("temperature", 2, 0.1), 9: ("voltage", 2, 0.001), 10: ("current", 3, 0.001),
          13: ("battery_level", 1, 1), 15: ("cycle_charge", 3, 0.001), 18: ("runtime", 2, 60),
          23: ("cycles", 2, 1)},
}
CELL_REGISTERS = tuple(range(CELL_TOP, CELL_TOP - MAX_CELLS, -1))
HEADERS = {"A": "+RAA", "B": "+R16"}
ONLY = {kind: set(regs) - set(REGISTERS["B" if kind == "A" else "A"]) - set(CELL_REGISTERS)
        for kind, regs in REGISTERS.items()}
ONLY["B"] |= set(CELL_REGISTERS)


def key_for(kind: str, serial: str) -> int:
    """Scrambling key of a battery of type A or B with a serial number."""
    return sum(CRY_SEQ[int(c, 16)] for c in f"{int(serial):04X}") + (5 if kind == "A" else 8)


def scramble(data: bytes, key: int) -> bytes:
    """XOR every byte with the key (the same operation both ways)."""
    return bytes(b ^ key for b in data)


def _is_head(buffer: bytes, pos: int) -> bool:
    """Whether a (scrambled) response header may start at pos (True when cut short)."""
    head = buffer[pos : pos + len(HEAD)]
    return all(head[0] ^ b == d for b, d in zip(head[1:], HEAD_DIFF, strict=False))


class OgtDriver(Driver):
    """Offgridtec Smart Pro battery: one request per register."""

    family = "ogt"
    title = "Offgridtec Smart Pro battery"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF4)
    write_uuid = uuid16(0xFFF6)
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        Matcher(local_name=f"SmartBat-{kind}*", service_uuid=uuid16(0xFFF0), connectable=True)
        for kind in "AB"
    )
    required_keys = ("voltage", "current", "battery_level")

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        return NAME.fullmatch(adv.local_name or "") is not None

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str | None:
        match = NAME.fullmatch(adv.local_name or "")
        return f"{match[1]}{match[2]}" if match else None

    def _kind_serial(self) -> tuple[str, str] | None:
        match = re.fullmatch(r"([AB])(\d+)", self.variant or "")
        return (match[1], match[2]) if match else None

    def requests(self) -> list[bytes]:
        known = self._kind_serial()
        if known is None:
            raise self.error("battery type and serial unknown (from the name SmartBat-<type><serial>)")
        kind, serial = known
        reads = [(reg, length) for reg, (_k, length, _s) in REGISTERS[kind].items()]
        if kind == "B":
            reads += [(reg, 2) for reg in CELL_REGISTERS]
        key = key_for(kind, serial)
        return [scramble(f"{HEADERS[kind]}{reg:02X}{length:02X}".encode(), key) for reg, length in reads]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if not _is_head(buffer, pos):
                pos += 1  # stale bytes before a response
                continue
            if len(buffer) - pos < len(HEAD) + len(ERROR):
                break
            key = buffer[pos] ^ HEAD[0]
            nxt = next((i for i in range(pos + 1, len(buffer) - len(HEAD) + 1)
                        if _is_head(buffer, i)), len(buffer))
            text = scramble(buffer[pos:nxt], key)
            # a reply ends with a line end; the error reply with a NUL byte
            ends = [text.find(t) + len(t) for t in (CRLF, NUL) if t in text]
            end = min(ends, default=0)
            if end:
                frames.append(buffer[pos : pos + end])
                pos += end
            elif nxt < len(buffer):
                pos = nxt  # a response cut off by the next one: stale
            else:
                break
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is None:
            return True
        msg = scramble(frame, frame[0] ^ HEAD[0])
        if msg[4:7] == ERROR or not HEX.issuperset(msg[4:6]):
            return True  # error replies and garbled ones name no register (decode rejects the latter)
        return msg[4:6] == scramble(request[4:6], request[0] ^ ord("+"))

    def decode_frames(self, frames: list[bytes]) -> Sample:
        values: dict[int, int] = {}
        for frame in frames:
            msg = scramble(frame, frame[0] ^ HEAD[0])
            if msg[4:7] == ERROR:
                continue  # the register does not exist on this battery
            digits = msg[4:-2]
            if not HEX.issuperset(digits) or len(digits) not in (6, 8):
                raise self.error(f"malformed register value {msg!r}")
            reg = int(digits[:2], 16)
            raw = bytes.fromhex(digits[2:6].decode())
            if len(digits) == 8:
                value = int.from_bytes(raw, "little", signed=True) * max(int(digits[6:], 16), 1)
            else:
                value = int.from_bytes(raw, "little")
            values[reg] = value
        kind = self._kind(values)
        out: dict[str, Any] = {}
        for reg, value in values.items():
            if reg in CELL_REGISTERS and kind == "B":
                continue
            if reg not in REGISTERS[kind]:
                raise self.error(f"unexpected register 0x{reg:02X} for a type {kind} battery")
            key, _length, scale = REGISTERS[kind][reg]
            out[key] = value
            if scale != 1:
                out[key] = round(value * scale, 6)
        if "temperature" in out:
            out["temperatures"] = [round(out.pop("temperature") - 273.15, 2)]
        if out.get("runtime") == NOT_DISCHARGING * 60:
            del out["runtime"]
        if out.get("battery_level", 0) > 100:
            raise self.error(f"state of charge {out['battery_level']} % is above 100")
        cells: list[float] = []
        for reg in CELL_REGISTERS:
            if reg not in values:
                break
            cells.append(values[reg] / 1000)
        if cells:
            out["cell_voltages"] = cells
        if (known := self._kind_serial()) is not None:
            out["serial_number"] = known[1]
        return out  # type: ignore[return-value]

    def _kind(self, values: dict[int, int]) -> str:
        """Battery type: from the variant, else from the registers that answered."""
        if (known := self._kind_serial()) is not None:
            return known[0]
        return "A" if ONLY["A"] & set(values) else "B"
