"""Felicity Solar batteries: ESS packs (``F10…``) and FLB packs (``F07…``), JSON over BLE.

Service 6e6f736a-4643-4d44-8fa9-0fafd005e455; the client writes ASCII commands
to 49535258-184d-… and the battery answers on 49535458-8341-… with one JSON
object (ASCII, no checksum, split into notifications)::

    wifilocalMonitor:get dev real infor    -> {"CommVer":1, "Batt":[[mV],[0.1 A],[null]], ...}
    wifilocalMonitor:get dev basice infor  -> {"CommVer":1, "version":"2.06", "DevSN":..., ...}

Real-time object: ``Batt`` voltage (mV) and current (0.1 A, + = charging),
or the per-pack ``BattList`` (same shape) when ``Batt`` is absent;
``Batsoc`` (or ``BatsocList``) ``[[SOC 0.01 %, SOH 0.1 %, capacity mAh]]``;
``BatcelList[0]`` cell voltages (mV, 65535 = no cell); ``BtemList[0]`` probe
temperatures (0.1 °C, 32767 = no probe); ``Bwarn`` and ``Bfault`` alarm words;
``DevSN`` serial number. Basic-info object: firmware ``version``, ``Type``.
Only protocol version ``CommVer`` 1 is known.

Sources: patman15/aiobmsble felicity_bms.py and its test (real frames of a
LUX-Y-48300LG01), Felicity's local Wi-Fi API (the same JSON objects, read by
several Home Assistant integrations: SOH = Batsoc[0][1] / 10, capacity =
Batsoc[0][2] / 1000 Ah, confirmed there against the vendor app).
Disagreements: aiobmsble 0.31.0 reads voltage and current from ``BattList``
(52.75 V in the capture) where its earlier version and this driver read the
battery-level ``Batt`` (52.8 V); aiobmsble reports ``Bwarn + Bfault`` as one number; the sum
mixes the two words, so here the fault word sits above the warning word
(``Bfault << 32 | Bwarn``).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ..base import Driver, Matcher
from ..models import FrameError, Sample

SERVICE_UUID = "6e6f736a-4643-4d44-8fa9-0fafd005e455"
NOTIFY_UUID = "49535458-8341-43f4-a9d4-ec0e34729bb3"
WRITE_UUID = "49535258-184d-4bd9-bc61-20c647249616"

PREFIX = b"wifilocalMonitor:"
CMD_REAL = PREFIX + b"get dev real infor"
CMD_BASIC = PREFIX + b"get dev basice infor"
OPEN, CLOSE, QUOTE, ESCAPE = ord("{"), ord("}"), ord('"'), ord("\\")
HEADER = b'{"CommVer"'
MAX_FRAME = 8192  # a real-time object of a 16-cell pack is about 900 bytes
COMM_VERSION = 1

NO_CELL = 0xFFFF
NO_PROBE = (0x7FFF, 0xFFFF)
WORD = 1 << 32
TEMP_RANGE = (-400, 1500)  # 0.1 °C

NAME_PATTERNS = ("F07*", "F10*")


def _first_row(obj: dict[str, Any], *keys: str) -> list[Any] | None:
    """First inner list of the first key present (the JSON holds lists of rows)."""
    for key in keys:
        rows = obj.get(key)
        if rows is not None:
            if not isinstance(rows, list) or not rows or not isinstance(rows[0], list):
                raise FrameError(f"felicity: {key} is not a list of rows")
            return rows[0]
    return None


def _voltage_current(rows: Any) -> bool:
    """Whether rows look like [[voltage, ...], [current, ...], ...] with values present."""
    return (isinstance(rows, list) and len(rows) >= 2
            and all(isinstance(row, list) and row and row[0] is not None for row in rows[:2]))


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError(f"felicity: {name} is {value!r}, not an integer")
    return value


class FelicityDriver(Driver):
    """Felicity ESS / FLB battery: JSON objects answering ASCII commands."""

    family = "felicity"
    checksummed = False
    title = "Felicity Solar battery"
    service_uuid = SERVICE_UUID
    notify_uuid = NOTIFY_UUID
    write_uuid = WRITE_UUID
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {"local_name": pattern, "connectable": True} for pattern in NAME_PATTERNS
    )
    required_keys = ("voltage", "current", "battery_level")

    def requests(self) -> list[bytes]:
        return [CMD_BASIC, CMD_REAL]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while (start := buffer.find(OPEN, pos)) >= 0:
            start, end = self._object_span(buffer, start)
            if end is None:
                return frames, buffer[start:]
            frames.append(buffer[start:end])
            pos = end
        return frames, b""  # bytes outside any object are stream noise

    def _object_span(self, buffer: bytes, start: int) -> tuple[int, int | None]:
        """Start and end of the object opening at `start` (end None while it arrives).

        A new object (``{"CommVer"``) inside an unfinished one means the first
        was the stale rest of an earlier response: the scan restarts there.
        """
        depth, in_string, escaped = 0, False, False
        index = start
        while index < len(buffer):
            if index - start >= MAX_FRAME:
                raise self.error(f"no end of the JSON object within {MAX_FRAME} bytes")
            byte = buffer[index]
            if byte == OPEN and index > start and buffer.startswith(HEADER, index):
                # no string value can hold an unescaped quote, so this is a new object
                start, depth, in_string, escaped = index, 0, False, False
            if in_string:
                if escaped:
                    escaped = False
                elif byte == ESCAPE:
                    escaped = True
                elif byte == QUOTE:
                    in_string = False
            elif byte == QUOTE:
                in_string = True
            elif byte == OPEN:
                depth += 1
            elif byte == CLOSE:
                depth -= 1
                if depth == 0:
                    return start, index + 1
            index += 1
        return start, None

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is None:
            return True
        if request == CMD_REAL:
            return b'"Batt"' in frame or b'"BattList"' in frame
        return b'"version"' in frame

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            obj = self._parse(frame)
            if "Batt" in obj or "BattList" in obj:
                out.update(self._real(obj))
            elif "version" in obj or "M1SwVer" in obj:
                out.update(self._basic(obj))
            # other objects (e.g. the date) carry nothing the Sample holds
        return out  # type: ignore[return-value]

    def _parse(self, frame: bytes) -> dict[str, Any]:
        try:
            obj = json.loads(frame.decode("ascii"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise self.error(f"response is not a JSON object ({err})") from err
        if not isinstance(obj, dict):  # pragma: no cover - frames_in only yields {…}
            raise self.error("response is not a JSON object")
        if obj.get("CommVer") != COMM_VERSION:
            raise self.error(f"unknown protocol version CommVer={obj.get('CommVer')!r}")
        return obj

    def _real(self, obj: dict[str, Any]) -> dict[str, Any]:
        batt: Any = obj.get("Batt")
        if not _voltage_current(batt):
            batt = obj.get("BattList")  # some firmware fills only the per-pack list
        if not _voltage_current(batt):
            raise self.error("neither Batt nor BattList holds [[voltage], [current], ...]")
        out: dict[str, Any] = {
            "voltage": _int(batt[0][0], "voltage") / 1000,
            "current": _int(batt[1][0], "current") / 10,
        }
        soc = _first_row(obj, "Batsoc", "BatsocList")
        if soc is None or len(soc) < 3:
            raise self.error("Batsoc lacks state of charge, health and capacity")
        level, health, capacity = (_int(v, n) for v, n in zip(
            soc[:3], ("battery_level", "battery_health", "design_capacity"), strict=True))
        if not 0 <= level <= 10000:
            raise self.error(f"battery_level {level / 100} % is out of range")
        if not 0 <= health <= 1000:
            raise self.error(f"battery_health {health / 10} % is out of range")
        if capacity < 0:
            raise self.error(f"design_capacity {capacity} mAh is negative")
        out["battery_level"] = level / 100
        out["battery_health"] = health / 10
        out["design_capacity"] = capacity / 1000
        out["cycle_charge"] = round(level * capacity / 1e7, 3)
        cells = _first_row(obj, "BatcelList") or []
        out["cell_voltages"] = [
            _int(c, "cell_voltages") / 1000 for c in cells if c != NO_CELL
        ]
        temps = []
        for raw in _first_row(obj, "BtemList") or []:
            value = _int(raw, "temperatures")
            if value in NO_PROBE:
                continue
            if not TEMP_RANGE[0] <= value <= TEMP_RANGE[1]:
                raise self.error(f"temperatures: {value / 10} °C is impossible")
            temps.append(value / 10)
        out["temperatures"] = temps
        warn, fault = _int(obj.get("Bwarn", 0), "Bwarn"), _int(obj.get("Bfault", 0), "Bfault")
        if not (0 <= warn < WORD and 0 <= fault < WORD):
            raise self.error(f"problem_code words out of range (Bwarn {warn}, Bfault {fault})")
        out["problem_code"] = fault << 32 | warn
        if isinstance(serial := obj.get("DevSN"), str) and serial:
            out["serial_number"] = serial
        return out

    def _basic(self, obj: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if isinstance(version := obj.get("version"), str) and version:
            out["sw_version"] = version
        if isinstance(serial := obj.get("DevSN"), str) and serial:
            out["serial_number"] = serial
        if (kind := obj.get("Type")) is not None:
            out["model"] = str(_int(kind, "Type"))
        return out
