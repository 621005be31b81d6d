"""CBT Power / Creabest smart BMS, and the Creabest VB series (variant "vb").

Notify 0xFFE4 (service 0xFFE0), write 0xFFE9 (service 0xFFE5).

Binary protocol (CBT Power, Creabest "100R…", "170C…"): request
``AA 55 <cmd> 00 <sum8> 0A 0D``, response ``AA 55 <cmd> <len> <data> <sum8> 0D 0A``,
the sum over cmd, len and data. Little-endian data per command: 0x0B voltage
mV u32 and current mA s32 (+ = charging); 0x09 six probe slots s16 °C; 0x0A
SOC %; 0x0C remaining run time in 0.01 h at byte 10; 0x15 design capacity Ah
u16 and cycles u16; 0x21 the 32-bit warning word; 0x05-0x08 five cells each
(mV u16, 0 = no cell). Cell commands are asked for while the previous one
came back full: the first poll reads 0x05 and 0x06, later polls as many as
the pack needs.

VB series ("VB…", variant "vb"): ASCII frames ``~<hex>\\r`` in the
Pylontech style, request ``~ 11 01 46 42 <lenid> 01 <LRC>`` (version 0x11,
address 1, CID 0x46, command 0x42), response version 0x22: RTN, a length id
(12-bit length and a 4-bit length checksum), cell count, cells (mV u16 BE),
probe count, probes (0.1 °C s16), then current (0.1 A s16), voltage (0.1 V),
SOC %, cycles and a 48-bit status word whose alarm bits are
0xFFF000FF000F. The LRC is the two's complement of the ASCII characters'
sum. Command 0x81 (design capacity, 0.1 Ah) needs a 24-byte request, more
than one BLE write carries, so it is decoded when present but not asked for.

Sources: patman15/aiobmsble cbtpwr_bms.py, cbtpwr_vb_bms.py and their tests
(frames of a 5-cell pack and of a Creabest VB 12 V 200 Ah). Disagreements: the
source reads only the first probe slot and the SOC of the VB series capped
at 100; here every non-empty slot after the first is a probe too (a slot
reading 0 is taken as unused), and SOC above 100 is capped the same way.
"""

from __future__ import annotations

import string
from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, read_int, sum8, uuid16, values_list
from ..models import Advertisement, Sample

VARIANT_VB = "vb"
HEAD, TAIL_RX, TAIL_TX = b"\xaa\x55", b"\x0d\x0a", b"\x0a\x0d"
OVERHEAD = 7  # head, cmd, len, sum, tail
CMD_CELLS = (0x05, 0x06, 0x07, 0x08)
CELLS_PER_CMD = 5
CMD_TEMPS, CMD_SOC, CMD_VI, CMD_RUNTIME, CMD_CAPACITY, CMD_ALARMS = (
    0x09, 0x0A, 0x0B, 0x0C, 0x15, 0x21)
HOURS_100_TO_S = 36

FIELDS: dict[int, tuple[Field, ...]] = {
    CMD_VI: (Field("voltage", 0, 4, 0.001, order="little"),
             Field("current", 4, 4, 0.001, signed=True, order="little")),
    CMD_SOC: (Field("battery_level", 0, 1, kind="int"),),
    CMD_RUNTIME: (Field("runtime", 10, 2, kind="int", order="little"),),
    CMD_CAPACITY: (Field("design_capacity", 0, 2, order="little"),
                   Field("cycles", 2, 2, kind="int", order="little")),
    CMD_ALARMS: (Field("problem_code", 0, 4, kind="int", order="little"),),
}
TEMP_SLOTS = 6

VB_START, VB_END = 0x7E, 0x0D
VB_MAX = 512
VB_REPLY_VERSION = 0x22
VB_ANALOG, VB_CAPACITY = 0x42, 0x81
VB_ALARM_MASK = 0xFFF000FF000F
HEX = frozenset(string.hexdigits.upper().encode())
VB_FIELDS = (
    Field("current", 0, 2, 0.1, signed=True),
    Field("voltage", 2, 2, 0.1),
    Field("battery_level", 4, 2, kind="int"),
    Field("cycles", 7, 2, kind="int"),
    Field("problem_code", 15, 6, kind="int", mask=VB_ALARM_MASK),
)


def command(cmd: int) -> bytes:
    """A binary-protocol request."""
    body = bytes((cmd, 0))
    return HEAD + body + bytes((sum8(body),)) + TAIL_TX


def length_id(length: int) -> int:
    """A VB length id: 12-bit length of the info in hex characters, 4-bit checksum on top."""
    check = (-(length & 0xF) - (length >> 4 & 0xF) - (length >> 8 & 0xF)) & 0xF
    return check << 12 | length


def lrc(text: bytes) -> int:
    """The VB frame checksum: two's complement of the sum of the ASCII characters."""
    return -sum(text) & 0xFFFF


def vb_command(cmd: int, info: bytes = b"\x01") -> bytes:
    """A VB-series request (version 0x11, address 1)."""
    body = bytes((0x11, 0x01, 0x46, cmd)) + length_id(2 * len(info)).to_bytes(2, "big") + info
    text = body.hex().upper().encode()
    return b"~" + text + f"{lrc(text):04X}".encode() + b"\r"


class CbtPowerDriver(Driver):
    """CBT Power / Creabest BMS; the VB series speaks an ASCII protocol (variant "vb")."""

    family = "cbtpwr"
    title = "CBT Power / Creabest BMS"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE4)
    write_uuid = uuid16(0xFFE9)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"service_uuid": uuid16(0xFFE5), "connectable": True},
        {"service_uuid": uuid16(0x03C1), "manufacturer_id": 0x5352, "connectable": True},
        # Creabest modules put "BC" (0x4243) or company 0 before their MAC
        {"service_uuid": uuid16(0xFFF0), "manufacturer_id": 0x4243, "connectable": True},
        {"service_uuid": uuid16(0xFFF0), "manufacturer_id": 0x0000, "connectable": True},
    )
    required_keys = ("voltage", "current", "battery_level")

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        self.cell_commands = 2  # grows while the last cell command comes back full

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        if any(mid in adv.manufacturer_data for mid in (0x4243, 0x0000)) and not (
            uuid16(0xFFE5) in adv.service_uuids or uuid16(0x03C1) in adv.service_uuids
        ):
            # "140R000288", "170C000E56", "VB024000390": capacity, type, serial
            name = adv.local_name or ""
            return name.startswith("VB") or (
                len(name) == 10 and name[:3].isdigit() and name[3] in "CR"
            )
        return True

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str | None:
        return VARIANT_VB if (adv.local_name or "").startswith("VB") else None

    def requests(self) -> list[bytes]:
        if self.variant == VARIANT_VB:
            return [vb_command(VB_ANALOG)]
        cells = CMD_CELLS[: self.cell_commands]
        return [command(c) for c in (CMD_VI, CMD_TEMPS, CMD_SOC, CMD_RUNTIME, CMD_CAPACITY,
                                     CMD_ALARMS, *cells)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if buffer[pos] == VB_START:
                end = buffer.find(VB_END, pos)
                if end < 0:
                    if len(buffer) - pos > VB_MAX:
                        raise self.error(f"no end of an ASCII frame within {VB_MAX} bytes")
                    break
                frames.append(buffer[pos : end + 1])
                pos = end + 1
            elif buffer.startswith(HEAD, pos) or buffer[pos:] == HEAD[:1]:
                if len(buffer) - pos < 4:
                    break
                end = pos + OVERHEAD + buffer[pos + 3]
                if end > len(buffer):
                    break
                if buffer[end - 2 : end] != TAIL_RX:
                    raise self.error(f"frame 0x{buffer[pos + 2]:02X} does not end with 0D 0A")
                frames.append(buffer[pos:end])
                pos = end
            else:
                pos += 1  # stale bytes: resynchronise on AA 55 or ~
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is None:
            return True
        if request[:1] == b"~":
            return frame[:1] == b"~"
        return frame[:2] == HEAD and frame[2] == request[2]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        cells: dict[int, list[float]] = {}
        for frame in frames:
            if frame[0] == VB_START:
                out.update(self._vb(frame))
                continue
            cmd, data = frame[2], frame[4:-3]
            if sum8(frame[2:-3]) != frame[-3]:
                raise self.error(f"bad checksum in 0x{cmd:02X} response")
            if cmd in FIELDS:
                out.update(read_fields(self.family, data, FIELDS[cmd]))
            elif cmd == CMD_TEMPS:
                slots = values_list(data, 0, min(TEMP_SLOTS, len(data) // 2), 2, signed=True,
                                    order="little")
                if not slots:
                    raise self.error("temperature frame without a probe")
                out["temperatures"] = slots[:1] + [t for t in slots[1:] if t]
            elif cmd in CMD_CELLS:
                if len(data) < 2 * CELLS_PER_CMD:
                    raise self.error(f"cell frame 0x{cmd:02X} of {len(data)} bytes")
                cells[cmd] = values_list(data, 0, CELLS_PER_CMD, 2, scale=0.001, order="little")
        if cells:
            out["cell_voltages"] = self._cells(cells)
        return self._finish(out)

    def _cells(self, blocks: dict[int, list[float]]) -> list[float]:
        voltages: list[float] = []
        for cmd in CMD_CELLS:
            if cmd not in blocks:
                break
            block = [c for c in blocks[cmd] if c]
            voltages += block
            if len(block) < CELLS_PER_CMD:
                return voltages
        # every cell command so far came back full: the pack may have more cells
        self.cell_commands = min(len(CMD_CELLS),
                                 max(self.cell_commands, len(voltages) // CELLS_PER_CMD + 1))
        return voltages

    def _finish(self, out: dict[str, Any]) -> Sample:
        if "battery_level" in out and out["battery_level"] > 100:
            raise self.error(f"battery_level {out['battery_level']} % is above 100")
        runtime = out.pop("runtime", None)
        if runtime is not None and out.get("current", 0) < 0:
            out["runtime"] = runtime * HOURS_100_TO_S
        design = out.get("design_capacity")
        if not design:
            out.pop("design_capacity", None)
        elif "battery_level" in out:
            out.setdefault("cycle_charge", round(design * out["battery_level"] / 100, 3))
        return out  # type: ignore[return-value]

    def _vb(self, frame: bytes) -> dict[str, Any]:
        text = frame[1:-1]
        if len(text) < 16 or len(text) % 2 or any(c not in HEX for c in text):
            raise self.error("ASCII frame holds characters that are not upper-case hex")
        if lrc(text[:-4]) != int(text[-4:], 16):
            raise self.error("bad LRC in ASCII frame")
        msg = bytes.fromhex(text[:-4].decode())
        if msg[0] != VB_REPLY_VERSION:
            raise self.error(f"unknown ASCII protocol version 0x{msg[0]:02X}")
        if msg[3]:
            raise self.error(f"BMS reported error 0x{msg[3]:02X}")
        lenid = read_int(msg, 4, 2)
        if length_id(lenid & 0xFFF) != lenid or (lenid & 0xFFF) != 2 * (len(msg) - 6):
            raise self.error(f"length id 0x{lenid:04X} does not fit a {len(msg) - 6}-byte info")
        info = msg[6:]
        if len(info) == 2:  # answer to 0x81: design capacity
            return {"design_capacity": read_int(info, 0, 2) / 10}
        cells = info[0]
        temps_at = 1 + 2 * cells
        if temps_at >= len(info):
            raise self.error(f"{cells} cells do not fit a {len(info)}-byte info")
        probes = info[temps_at]
        fields_at = temps_at + 1 + 2 * probes
        values = read_fields(self.family, info[fields_at:], VB_FIELDS)
        values["battery_level"] = min(values["battery_level"], 100)
        values["cell_voltages"] = values_list(info, 1, cells, 2, scale=0.001)
        values["temperatures"] = values_list(info, temps_at + 1, probes, 2, scale=0.1, signed=True)
        return values
