"""NEEY / Heltec active balancers (``GW-…``, ``EK-…``) and NEEY BMS v2 (service 0xFFE0, char 0xFFE1).

Request (20 bytes) ``AA 55 11 01 <type> <reg> 14 00 <11 zero bytes> <sum8> FF``;
response ``55 AA 11 01 <type> 00 <length LE16> <data...> <sum8> FF`` where the
length counts the whole frame and sum8 covers every byte before it. Type 0x01
device info (model, hardware and software version as ASCII fields), 0x02 cell
info, 0x04 settings (read by the vendor's app, ignored here). Values are
IEEE-754 single floats, little-endian: 24 cell voltages from byte 9 (0 = no
cell), pack voltage at 201, cell spread at 209, state byte at 216 (5 =
balancing; 1, 3, 7-11 are faults: wrong cell count, wire resistance too high,
low voltage, ...). Balancers (protocol v1, e.g. GW-24S4EB) report two probes
at 221; the NEEY BMS v2 (model ``EK-B…``) moves the balance current to 218 and
adds current at 222, four probes at 226 (two NTC pairs, MOSFET, balancer),
capacity at 242, remaining charge at 246 and SOC at 250, and moves the error
bytes 37 bytes up. Error bytes (v1 from 232, v2 from 269): 24-bit cell masks
(overvoltage, undervoltage, polarity, excessive wire resistance, one bit per
cell, little-endian), then temperature-warning, charging-fault and
discharging-fault bytes; problem_code is the fault state in its low byte and
these 15 bytes, little-endian, above it. The "cell not detected" mask before
them is left out: a 24-channel balancer on a 16S pack reports its unused
channels there. The BLE module also sends ``AT\\r\\n`` and JK-style
``AA 55 90 EB`` acknowledgements: skipped as stale bytes. After a cell-info
request the device may keep streaming cell frames.

Sources: patman15/aiobmsble ``aiobmsble/bms/neey_bms.py`` and its tests (a
GW-24S4EB balancer and an EK-B24S8E200A BMS capture); syssi/esphome-jk-bms
``components/heltec_balancer_ble`` and its captures (GW-24S4EB, EK-24S4EB,
EK-B24S8E200A). Disagreements: syssi marks the v2 float at 222 "unknown" where
aiobmsble reads the battery current (2.026 A in the EK-B capture, plausible for
its 55 % pack): read as current here. aiobmsble tells v2 by the model name
("EK-B"), syssi by a 150-byte settings frame: either is taken as v2 here.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from ..base import Driver, Matcher, sum8, uuid16
from ..models import Sample

HEAD = b"\x55\xaa\x11\x01"
COMMAND_HEAD = b"\xaa\x55\x11\x01"
TAIL = 0xFF
INFO, CELLS, SETTINGS = 0x01, 0x02, 0x04
MIN_FRAME = 10
CELL_COUNT = 24
CELLS_AT = 9
STATE_AT = 216
FAULT_STATES = frozenset({1, 3, 7, 8, 9, 10, 11})
BALANCING = 5
V2_MODEL_PREFIX = "EK-B"
CELL_FRAME = 300
V2_SETTINGS = 150
ERRORS_AT = {False: 232, True: 269}  # v1, v2
ERROR_BYTES = 15

COMMON = (("voltage", 201), ("delta_voltage", 209))
V1_PROBES = (221, 2)
V2_FIELDS = (("current", 222), ("design_capacity", 242), ("cycle_charge", 246),
             ("battery_level", 250))
V2_PROBES = (226, 4)


def command(kind: int) -> bytes:
    """A read request for a frame type (0x01 device info, 0x02 cell info)."""
    body = COMMAND_HEAD + bytes((kind, 0x00, 0x14)) + bytes(11)
    return body + bytes((sum8(body), TAIL))


def f32(data: bytes, offset: int) -> float:
    """A little-endian IEEE-754 single at offset."""
    return float(struct.unpack_from("<f", data, offset)[0])


def text(data: bytes) -> str:
    """A NUL-padded ASCII field."""
    return data.split(b"\x00", 1)[0].decode("ascii", "replace").strip()


class NeeyDriver(Driver):
    """NEEY / Heltec balancer and NEEY BMS v2: device info and cell info per poll."""

    family = "neey"
    pushes_data = True
    title = "NEEY / Heltec balancer"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE1)
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {"local_name": pattern, "service_uuid": uuid16(0xFEE7), "connectable": True}
        for pattern in ("GW-*", "EK-*")
    )
    required_keys = ("voltage", "cell_voltages")

    def requests(self) -> list[bytes]:
        return [command(INFO), command(CELLS)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if not buffer.startswith(HEAD, pos):
                if HEAD.startswith(buffer[pos : pos + len(HEAD)]):
                    break  # a header cut short by the end of the data
                pos += 1  # module messages, acknowledgements, stale bytes
                continue
            if len(buffer) - pos < 8:
                break
            end = pos + max(MIN_FRAME, int.from_bytes(buffer[pos + 6 : pos + 8], "little"))
            if end > len(buffer):
                break
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[4] == request[4]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        model: str | None = None
        v2_settings = False
        cell_frame: bytes | None = None
        out: dict[str, Any] = {}
        for frame in frames:
            kind = frame[4]
            if frame[-1] != TAIL:
                raise self.error(f"0x{kind:02X} frame ends with 0x{frame[-1]:02X}, expected 0xFF")
            if sum8(frame[:-2]) != frame[-2]:
                raise self.error(f"bad checksum in 0x{kind:02X} frame")
            if kind == INFO:
                if len(frame) < 42:
                    raise self.error(f"device info of {len(frame)} bytes is shorter than 42")
                model = text(frame[8:24])
                out.update(model=model, hw_version=text(frame[24:32]), sw_version=text(frame[32:40]))
            elif kind == CELLS:
                if len(frame) != CELL_FRAME:
                    raise self.error(f"cell frame of {len(frame)} bytes, expected {CELL_FRAME}")
                cell_frame = frame  # a streaming device may send several: the last is newest
            elif kind == SETTINGS:
                v2_settings = v2_settings or len(frame) == V2_SETTINGS
            else:
                raise self.error(f"unexpected frame type 0x{kind:02X}")
        if cell_frame is not None:
            v2 = (self.variant == "v2" or v2_settings
                  or (model or "").startswith(V2_MODEL_PREFIX))
            out.update(self._cells(cell_frame, v2=v2))
        return out  # type: ignore[return-value]

    def _cells(self, frame: bytes, *, v2: bool) -> dict[str, Any]:
        out: dict[str, Any] = {key: round(f32(frame, at), 3) for key, at in COMMON}
        cells = [round(f32(frame, CELLS_AT + 4 * i), 3) for i in range(CELL_COUNT)]
        out["cell_voltages"] = [v for v in cells if v]
        if any(not 0 <= v < 10 for v in out["cell_voltages"]):
            raise self.error("cell voltage outside 0-10 V")
        state = frame[STATE_AT]
        errors_at = ERRORS_AT[v2]
        errors = int.from_bytes(frame[errors_at : errors_at + ERROR_BYTES], "little")
        out["problem_code"] = (state if state in FAULT_STATES else 0) | errors << 8
        out["balancer"] = state == BALANCING
        start, count = V2_PROBES if v2 else V1_PROBES
        out["temperatures"] = [round(f32(frame, start + 4 * i), 2) for i in range(count)]
        if v2:
            out.update({key: round(f32(frame, at), 3) for key, at in V2_FIELDS})
            if not 0 <= out["battery_level"] <= 100:
                raise self.error(f"battery_level {out['battery_level']} % is outside 0-100")
        return out
