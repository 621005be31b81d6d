"""D-powercore (``DXB-…``) and Fliteboard (``TBA-…``) BMS (service 0xFFF0, notify 0xFFF4, write 0xFFF3).

Every notification and every write is a 20-byte page
``<count> <page << 4 | pages> <count payload bytes> <padding>``; a page whose
first byte has bit 7 set acknowledges a page (the BMS acknowledges each
request). The payloads of a frame's pages joined give
``3A 05 03 <cmd> 00 <len> <data...> <sum16 BE> 0D 0A`` (requests:
``3A 03 05 <cmd> 00 00 <data> <sum16> 0D 0A``), sum16 = sum of the bytes from
the second one up to the data's end. 0x60: voltage 0.1 V, current signed A,
full-charge capacity and remaining charge in mAh, SOC %, problem byte.
0x61: cycles, probe in 0.1 K. 0x62: cell count and cells in mV. A ``DXB-``
board is unlocked first with command 0x64 and the last four hex digits of its
name as password (kept as the variant); ``TBA-`` boards need no unlock.

Sources: patman15/aiobmsble ``aiobmsble/bms/dpwrcore_bms.py`` and its tests,
whose frames are hand-made ("2nd line only 4 bytes valid") rather than
captured. The source also writes an acknowledgement for every received page;
the mock it is tested against sends all pages without waiting for them, as
this driver expects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import Driver, Matcher, uuid16, values_list
from ..models import Advertisement, Sample

PAGE = 20
PAGE_DATA = PAGE - 2
ACK_FLAG = 0x80
START = b"\x3a\x05\x03"
END = b"\x0d\x0a"
CMD_STATUS, CMD_INFO, CMD_CELLS, CMD_UNLOCK = 0x60, 0x61, 0x62, 0x64
MAX_CELLS = 32
PASSWORD = re.compile(r"[0-9A-Fa-f]{4}")


def page_of(payload: bytes) -> bytes:
    """A single 20-byte request page for a payload of up to 18 bytes."""
    return (bytes((len(payload) + 2, 0x11)) + payload).ljust(PAGE, b"\x00")


def command(cmd: int, data: bytes = b"") -> bytes:
    """A request page for a command."""
    body = bytes((cmd, 0x00, 0x00)) + data
    checksum = (sum(body) + 0x03 + 0x05) & 0xFFFF
    return page_of(b"\x3a\x03\x05" + body + checksum.to_bytes(2, "big") + END)


def _first_page(buffer: bytes, pos: int) -> bool:
    """Whether a frame's first page starts at pos (the caller has 20 bytes)."""
    count, pages = buffer[pos], buffer[pos + 1]
    return (0 < count <= PAGE_DATA and pages >> 4 == 1 and pages & 0xF >= 1
            and buffer.startswith(START, pos + 2))


class DpwrcoreDriver(Driver):
    """D-powercore / Fliteboard BMS: status, info and cell frames in 20-byte pages."""

    family = "dpwrcore"
    title = "D-powercore BMS"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF4)
    write_uuid = uuid16(0xFFF3)
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {"local_name": pattern, "service_uuid": uuid16(0xFFF0), "connectable": True}
        for pattern in ("DXB-*", "TBA-*")
    )
    required_keys = ("voltage", "current", "cell_voltages")

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str | None:
        name = adv.local_name or ""
        if name.startswith("TBA-") or not PASSWORD.fullmatch(name[-4:]):
            return None
        return name[-4:].upper()

    def requests(self) -> list[bytes]:
        reads = [command(CMD_STATUS), command(CMD_INFO), command(CMD_CELLS)]
        if self.variant and PASSWORD.fullmatch(self.variant):
            return [command(CMD_UNLOCK, bytes.fromhex(self.variant)), *reads]
        return reads

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        if request is not None and request[5] == CMD_UNLOCK:
            return True  # the unlock is not answered with data
        return super().response_complete(request, notifications)

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while len(buffer) - pos >= PAGE:
            if buffer[pos] & ACK_FLAG and buffer[pos + 1] == 0x11:
                pos += PAGE  # an acknowledgement
                continue
            if not _first_page(buffer, pos):
                pos += 1  # stale bytes: resynchronise on the next first page
                continue
            pages = buffer[pos + 1] & 0xF
            if len(buffer) - pos < PAGE * pages:
                break
            payload = b""
            for index in range(pages):
                page = buffer[pos + PAGE * index : pos + PAGE * (index + 1)]
                if page[1] != (index + 1) << 4 | pages or page[0] > PAGE_DATA:
                    raise self.error(f"page {index + 1} of {pages} has header {page[:2].hex()}")
                payload += page[2 : 2 + page[0]]
            frames.append(payload)
            pos += PAGE * pages
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or (len(frame) > 3 and frame[3] == request[5])

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            if len(frame) < 10 or len(frame) != 10 + frame[5]:
                raise self.error(f"frame of {len(frame)} bytes does not match its length byte")
            cmd = frame[3]
            if not frame.endswith(END):
                raise self.error(f"0x{cmd:02X} frame does not end with 0D 0A")
            if sum(frame[1:-4]) & 0xFFFF != int.from_bytes(frame[-4:-2], "big"):
                raise self.error(f"bad checksum in 0x{cmd:02X} frame")
            if cmd == CMD_STATUS:
                out.update(self._status(frame))
            elif cmd == CMD_INFO:
                out.update(self._info(frame))
            elif cmd == CMD_CELLS:
                out["cell_voltages"] = self._cells(frame)
            else:
                raise self.error(f"unexpected response to command 0x{cmd:02X}")
        return out  # type: ignore[return-value]

    def _status(self, frame: bytes) -> dict[str, Any]:
        if len(frame) < 20:
            raise self.error(f"status frame of {len(frame)} bytes is shorter than 20")
        level = frame[14]
        if level > 100:
            raise self.error(f"state of charge {level} % is above 100")
        return {
            "voltage": round(int.from_bytes(frame[6:8], "big") * 0.1, 1),
            "current": float(int.from_bytes(frame[8:10], "big", signed=True)),
            "cycle_charge": int.from_bytes(frame[12:14], "big") / 1000,
            "battery_level": level,
            "problem_code": frame[15],
        }

    def _info(self, frame: bytes) -> dict[str, Any]:
        if len(frame) < 18:
            raise self.error(f"info frame of {len(frame)} bytes is shorter than 18")
        kelvin = int.from_bytes(frame[12:14], "big")
        return {"cycles": int.from_bytes(frame[8:10], "big"),
                "temperatures": [round(kelvin / 10 - 273.15, 2)]}

    def _cells(self, frame: bytes) -> list[float]:
        cells = frame[6]
        if cells > MAX_CELLS or 7 + 2 * cells > len(frame) - 4:
            raise self.error(f"cell_count {cells} does not fit a {len(frame)}-byte frame")
        return values_list(frame, 7, cells, 2, scale=0.001)
