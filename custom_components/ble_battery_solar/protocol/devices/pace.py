"""PACEEX / PeiCheng smart BMS ("PC-…"): service 0xFFF0, notify 0xFFF1, write 0xFFF2.

Request and response share one frame::

    9A 00 00 <group> <block> 00 00 <len> <data> <CRC16/Modbus BE> 9D

i.e. the head 0x9A, six type bytes ``00 00 <group> <block> 00 00``, a data
length, data, the CRC16/Modbus of everything before it (big-endian) and the
tail 0x9D (11 + len bytes). Requests carry data only to select a pack
(``01 01``: from pack 1, one pack). Big-endian blocks read per poll:

* system block (group 0x0A, block 0x00): pack count, current s32 10 mA
  (+ = charging), voltage u32 10 mV, remaining and design capacity u32
  10 mAh, full capacity, SOC %, SOH %, cycles u32, an 8-byte alarm field,
  then highest/lowest cell and temperature as (pack, index, value);
* pack-level block (0x0A/0x01, pack 1): pack current s16 10 mA, voltage
  10 mV, remaining/full/design capacity 10 mAh, SOC, SOH, cycles u16, the
  pack's 8-byte alarm field, highest/lowest probe, the MOSFET and ambient
  temperatures (0.1 K), highest/lowest cell;
* cell block (0x0A/0x02, pack 1): pack voltage, cell count, then per cell
  its voltage (mV) and the temperature of the probe with that number
  (0.1 K, 0 = no probe);
* serial number (0x00/0x02) and, when the answer is there, versions (0x00/0x01).

problem_code is the system block's alarm field (64 bits) ORed with the pack's.
Only the master pack fills the system block; on any other pack its pack
count is 0 and the pack-level values stand for the device.

Sources: patman15/aiobmsble pace_bms.py and tests/bms/test_pace_bms.py
(frames of a P16S100A pack; the system, cell, serial and version layouts are
asserted there); aiobmsble 0.31.0 (PyPI) decodes the pack-level block
(current, voltage, charge, design capacity at byte 9, SOC, SOH, cycles) and
uses it when the system block's pack count is 0. The two probes after the
highest/lowest entries (23.2 and 24.1 °C in the capture) are read here as the
MOSFET and ambient probes the cell block leaves empty (no source decodes
them); the alarm fields are zero in the capture, so no source documents
their bits.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, crc16_modbus, read_fields, read_int, uuid16
from ..models import FrameError, Sample

HEAD, TAIL = 0x9A, 0x9D
OVERHEAD = 11
GROUP_INFO, GROUP_DATA = 0x00, 0x0A
BLOCK_SYSTEM, BLOCK_PACK, BLOCK_CELLS = 0x00, 0x01, 0x02
BLOCK_VERSION, BLOCK_SERIAL = 0x01, 0x02
FIRST_PACK = b"\x01\x01"  # from pack 1, one pack
KELVIN = 2731
MAX_CELLS = 32

SYSTEM_FIELDS = (
    Field("pack_count", 0, 1, kind="int"),
    Field("current", 1, 4, 0.01, signed=True),
    Field("voltage", 5, 4, 0.01),
    Field("cycle_charge", 9, 4, 0.01),
    Field("design_capacity", 13, 4, 0.01),
    Field("battery_level", 21, 1, kind="int"),
    Field("battery_health", 22, 1, kind="int"),
    Field("cycles", 23, 4, kind="int"),
    Field("problem_code", 27, 8, kind="int"),
)
PACK_FIELDS = (
    Field("current", 1, 2, 0.01, signed=True),
    Field("voltage", 3, 2, 0.01),
    Field("cycle_charge", 5, 2, 0.01),
    Field("design_capacity", 9, 2, 0.01),
    Field("battery_level", 11, 1, kind="int"),
    Field("battery_health", 12, 1, kind="int"),
    Field("cycles", 13, 2, kind="int"),
    Field("pack_alarms", 15, 8, kind="int"),
    Field("mosfet_temperature", 33, 2, kind="int"),
    Field("ambient_temperature", 35, 2, kind="int"),
)
CELLS_AT = 4  # after the pack id, pack voltage and cell count


def command(group: int, block: int, data: bytes = b"") -> bytes:
    """A request frame."""
    body = bytes((HEAD, 0, 0, group, block, 0, 0, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "big") + bytes((TAIL,))


TEMP_RANGE = (-50.0, 150.0)


def _kelvin(raw: int) -> float | None:
    """°C of a 0.1 K reading; None for 0 (no probe); FrameError when impossible."""
    if raw == 0:
        return None
    celsius = round((raw - KELVIN) / 10, 1)
    if not TEMP_RANGE[0] <= celsius <= TEMP_RANGE[1]:
        raise FrameError(f"pace: temperatures: {celsius} °C is impossible")
    return celsius


class PaceDriver(Driver):
    """PACEEX BMS: system, pack-level and cell blocks of pack 1, serial number."""

    family = "pace"
    title = "PACEEX BMS"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF2)
    matchers: ClassVar[tuple[Matcher, ...]] = ({"local_name": "PC-*", "connectable": True},)
    required_keys = ("voltage", "current", "battery_level")

    def requests(self) -> list[bytes]:
        return [
            command(GROUP_DATA, BLOCK_SYSTEM),
            command(GROUP_DATA, BLOCK_PACK, FIRST_PACK),
            command(GROUP_DATA, BLOCK_CELLS, FIRST_PACK),
            command(GROUP_INFO, BLOCK_SERIAL),
        ]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if buffer[pos] != HEAD or not b"\x00\x00".startswith(buffer[pos + 1 : pos + 3]):
                pos += 1  # stale bytes: resynchronise on the next 9A 00 00
                continue
            if len(buffer) - pos < 8:
                break
            end = pos + OVERHEAD + buffer[pos + 7]
            if end > len(buffer):
                break
            if buffer[end - 1] != TAIL:
                raise self.error(f"frame ends with 0x{buffer[end - 1]:02X}, expected 0x9D")
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[1:7] == request[1:7]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        pack: dict[str, Any] = {}
        temps: list[float] = []
        extra: list[float] = []
        for frame in frames:
            kind, data = (frame[3], frame[4]), frame[8:-3]
            if crc16_modbus(frame[:-3]) != read_int(frame, len(frame) - 3, 2):
                raise self.error(f"bad CRC in block {kind[0]:02X}/{kind[1]:02X}")
            if kind == (GROUP_DATA, BLOCK_SYSTEM):
                out.update(self._system(data))
            elif kind == (GROUP_DATA, BLOCK_PACK):
                pack = self._checked(read_fields(self.family, data, PACK_FIELDS))
                raw = (pack.pop("mosfet_temperature"), pack.pop("ambient_temperature"))
                extra = [t for t in map(_kelvin, raw) if t is not None]
            elif kind == (GROUP_DATA, BLOCK_CELLS):
                cells, temps = self._cells(data)
                out["cell_voltages"] = cells
            elif kind == (GROUP_INFO, BLOCK_SERIAL):
                out["serial_number"] = self._string(data, 0)
            elif kind == (GROUP_INFO, BLOCK_VERSION):
                out["sw_version"] = self._string(data, 1)
                out["hw_version"] = self._string(data, 56)
        if temps or extra:
            out["temperatures"] = temps + extra
        if pack:
            alarms = pack.pop("pack_alarms")
            if not out.pop("pack_count", 0):
                # only the master pack reports the system; any other pack is its own device
                out.update(pack)
            out["problem_code"] = out.get("problem_code", 0) | alarms
        out.pop("pack_count", None)
        if not out.get("design_capacity", 1):
            del out["design_capacity"]
        return out  # type: ignore[return-value]

    def _system(self, data: bytes) -> dict[str, Any]:
        return self._checked(read_fields(self.family, data, SYSTEM_FIELDS))

    def _checked(self, values: dict[str, Any]) -> dict[str, Any]:
        for key in ("battery_level", "battery_health"):
            if values[key] > 100:
                raise self.error(f"{key} {values[key]} % is above 100")
        return values

    def _cells(self, data: bytes) -> tuple[list[float], list[float]]:
        if len(data) < CELLS_AT:
            raise self.error(f"cell block of {len(data)} bytes")
        count = data[CELLS_AT - 1]
        if count > MAX_CELLS or len(data) < CELLS_AT + 4 * count:
            raise self.error(f"{count} cells do not fit a {len(data)}-byte cell block")
        cells, temps = [], []
        for i in range(count):
            at = CELLS_AT + 4 * i
            cells.append(read_int(data, at, 2) / 1000)
            if (temp := _kelvin(read_int(data, at + 2, 2))) is not None:
                temps.append(temp)
        return cells, temps

    def _string(self, data: bytes, at: int) -> str:
        if at >= len(data) or at + 1 + data[at] > len(data):
            raise self.error(f"text field at byte {at} overruns the {len(data)}-byte block")
        return data[at + 1 : at + 1 + data[at]].decode("ascii", "replace").strip("\x00 ")
