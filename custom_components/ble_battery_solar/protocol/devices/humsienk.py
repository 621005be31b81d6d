"""Humsienk BMS ("HS…"), also in ECO-WORTHY ("ECO…") and DC HOUSE ("DCH…") batteries.

Service 0x0001, write 0x0002, notify 0x0003. Request and response share one
frame: ``AA <cmd> <len> <data...> <sum16 LE>``, the sum over cmd, len and
data; a request has no data (``AA 21 00 21 00``). 0x00 is the handshake,
0x11 the model string, 0x20 the operating status, 0x21 the battery info,
0x22 the cell voltages, 0xF5 the hardware version. Little-endian:

* 0x21 (26 bytes): voltage mV u32, current mA s32 (+ = charging), SOC %,
  SOH %, remaining mAh u32, full capacity mAh u32, cycles u16, six s8 °C
  probes;
* 0x20 (14-15 bytes): uptime (days u16, hours, minutes), a 32-bit status
  word (bit 7 charge MOSFET on, bit 15 heater on, bit 23 discharge MOSFET
  on, every other bit a protection or warning), a 24-bit bitmap of the cells
  being balanced and a 24-bit bitmap of disconnected cells;
* 0x22: up to 24 cells, mV u16 (0 = no cell).

problem_code = status word without the three state bits, with the
disconnected-cell bitmap in bits 32-55.

Sources: patman15/aiobmsble humsienk_bms.py, docs/humsienk_bms.md (register map
"verified against a live device") and tests/test_humsienk_bms.py (frames of an
ECO-WORTHY 12 V 150 Ah pack); aiobmsble 0.31.0 (PyPI), which reads bit 15 as
the heater (its earlier document: "balance active") and the balancing state
from the bitmap, and adds DC HOUSE batteries ("DCH" + 4 hex digits).
Disagreement: the document puts the four cell
probes first and the MOSFET probe fifth, the plugin labels the first probe
as MOSFET; the temperatures are given in frame order, unlabelled. aiobmsble
flags a disconnected cell as a problem without a code; here it is in the code.
"""

from __future__ import annotations

import fnmatch
import string
from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, read_int, sum16, uuid16, values_list
from ..models import Advertisement, Sample

HEAD = 0xAA
OVERHEAD = 5  # head, cmd, len, checksum
CMD_INIT, CMD_MODEL, CMD_STATUS, CMD_INFO, CMD_CELLS, CMD_VERSION = (
    0x00, 0x11, 0x20, 0x21, 0x22, 0xF5)
# answers the BMS gives that carry nothing read here (type, current, chemistry, settings)
OTHER_COMMANDS = frozenset((0x10, 0x23, 0x40, 0x58))
KNOWN = frozenset((CMD_INIT, CMD_MODEL, CMD_STATUS, CMD_INFO, CMD_CELLS, CMD_VERSION)) | OTHER_COMMANDS
MAX_CELLS = 24
STATE_BITS = 0x00808080  # charge MOSFET (7), heater (15), discharge MOSFET (23)

INFO_FIELDS = (
    Field("voltage", 0, 4, 0.001, order="little"),
    Field("current", 4, 4, 0.001, signed=True, order="little"),
    Field("battery_level", 8, 1, kind="int"),
    Field("battery_health", 9, 1, kind="int"),
    Field("cycle_charge", 10, 4, 0.001, order="little"),
    Field("design_capacity", 14, 4, 0.001, order="little"),
    Field("cycles", 18, 2, kind="int", order="little"),
)
TEMPS_AT, TEMPS = 20, 6
STATUS_FIELDS = (
    Field("status", 4, 4, kind="int", order="little"),
    Field("chrg_mosfet", 4, 1, kind="bool", mask=0x80),
    Field("heater", 5, 1, kind="bool", mask=0x80),
    Field("dischrg_mosfet", 6, 1, kind="bool", mask=0x80),
    Field("balancer", 8, 3, kind="bool", order="little"),
    Field("disconnected", 11, 3, kind="int", order="little"),
)



def request(cmd: int) -> bytes:
    """A read request (no data)."""
    body = bytes((cmd, 0))
    return bytes((HEAD,)) + body + sum16(body).to_bytes(2, "little")


class HumsienkDriver(Driver):
    """Humsienk BMS: handshake, model, status, battery info, cells, version."""

    family = "humsienk"
    title = "Humsienk BMS (ECO-WORTHY)"
    service_uuid = uuid16(0x0001)
    notify_uuid = uuid16(0x0003)
    write_uuid = uuid16(0x0002)
    # HA's matchers need 3 literal name characters ("HS*" is too short): the
    # service is matched there, the name here
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"service_uuid": uuid16(0x0001), "connectable": True},
    )
    required_keys = ("voltage", "current", "battery_level")

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        # "HS…", or "ECO"/"DCH" + 4 hex digits of the MAC (other ECO-WORTHY and
        # DC HOUSE lines use "ECO-…", "DCHOUSE…" and other protocols)
        name = adv.local_name or ""
        if fnmatch.fnmatchcase(name, "ECO????") or fnmatch.fnmatchcase(name, "DCH????"):
            return all(c in string.hexdigits for c in name[3:])
        return name.startswith("HS")

    def requests(self) -> list[bytes]:
        return [request(c) for c in (CMD_INIT, CMD_MODEL, CMD_STATUS, CMD_INFO, CMD_CELLS,
                                     CMD_VERSION)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if buffer[pos] != HEAD or (pos + 1 < len(buffer) and buffer[pos + 1] not in KNOWN):
                pos += 1  # stale bytes: resynchronise on the next AA <known command>
                continue
            if len(buffer) - pos < 3:
                break
            end = pos + buffer[pos + 2] + OVERHEAD
            if end > len(buffer):
                break
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[1] == request[1]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            cmd, data = frame[1], frame[3:-2]
            if sum16(frame[1:-2]) != read_int(frame, len(frame) - 2, 2, order="little"):
                raise self.error(f"bad checksum in 0x{cmd:02X} response")
            if cmd == CMD_INFO:
                out.update(self._info(data))
            elif cmd == CMD_STATUS:
                out.update(self._status(data))
            elif cmd == CMD_CELLS:
                if len(data) % 2 or len(data) > 2 * MAX_CELLS:
                    raise self.error(f"cell-voltage payload of {len(data)} bytes")
                cells = values_list(data, 0, len(data) // 2, 2, scale=0.001, order="little")
                out["cell_voltages"] = [c for c in cells if c]
            elif cmd == CMD_MODEL and (text := _text(data)):
                out["model"] = text
            elif cmd == CMD_VERSION and (text := _text(data)):
                out["hw_version"] = text
        return out  # type: ignore[return-value]

    def _info(self, data: bytes) -> dict[str, Any]:
        values = read_fields(self.family, data, INFO_FIELDS)
        for key in ("battery_level", "battery_health"):
            if values[key] > 100:
                raise self.error(f"{key} {values[key]} % is above 100")
        if len(data) < TEMPS_AT + TEMPS:
            raise self.error(f"battery info of {len(data)} bytes lacks the temperatures")
        values["temperatures"] = values_list(data, TEMPS_AT, TEMPS, 1, signed=True)
        if not values["design_capacity"]:
            del values["design_capacity"]
        return values

    def _status(self, data: bytes) -> dict[str, Any]:
        values = read_fields(self.family, data, STATUS_FIELDS)
        values["problem_code"] = (values.pop("status") & ~STATE_BITS) | (
            values.pop("disconnected") << 32)
        return values


def _text(data: bytes) -> str:
    return data.decode("ascii", "replace").strip("\x00 ")
