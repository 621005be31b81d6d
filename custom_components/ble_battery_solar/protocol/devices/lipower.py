"""LiPower BMS in Ective LiPower batteries, and the Ective BM X battery monitor.

They advertise service 0xAF30 (names are dates, e.g. "23-01-05-034"); the
protocol runs on characteristic 0xFFE1 of service 0xFFE0 (notify and write
without response). Modbus RTU: ``<id> 03 0400 0008 <CRC16/Modbus LE>``, the
device id being 0x22, 0x0B, 0x08 or 0x38 depending on model (not advertised:
the driver asks the next id when a poll was not answered and keeps the one
that answers). Response ``<id> 03 <n> <data> <CRC>``, 16 data bytes (18 with
a trailing protocol version on some models), big-endian: remaining charge
(Ah), SOC (%), remaining run time (hours, minutes), a direction word (1 =
discharging), current (0.01 A), voltage (0.1 V), power (W).

The older Ective packs that stream ASCII-hex frames (service 0xFFE0 with a
MAC in the manufacturer data) are the `topband` family; an advertisement of
service 0xAF30 is this family only.

Sources: patman15/aiobmsble lipower_bms.py and tests/bms/test_lipower_bms.py
(frames of ids 0x22 and 0x0B; the 0x08 frame is the 0x22 one with the id
changed, added for the BM X), aiobmsble 0.31.0 (PyPI) for id 0x38, and a BM X
capture in patman15/BMS_BLE-HA#692 (remaining 0xFF32 Ah, SOC 0x4FBF, run time
10000 h: a monitor whose state of charge is not synchronised yet).
Disagreements: aiobmsble always reports the current as negative (its sign
term is ``-(1 ** flag)``); here the direction word gives the sign. A SOC
above 100 (the BM X before synchronisation) drops SOC and remaining charge
instead of failing, and 10000 h run time means no estimate.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, uuid16
from ..modbus import crc_ok, read_request
from ..models import Sample

DEVICE_IDS = (0x22, 0x0B, 0x08, 0x38)
READ = 0x03
START, COUNT = 0x0400, 8
NO_ESTIMATE_HOURS = 10000
DISCHARGING = 1

FIELDS = (
    Field("cycle_charge", 0, 2, kind="int"),
    Field("battery_level", 2, 2, kind="int"),
    Field("hours", 4, 2, kind="int"),
    Field("minutes", 6, 2, kind="int"),
    Field("direction", 8, 2, kind="int"),
    Field("current", 10, 2, 0.01),
    Field("voltage", 12, 2, 0.1),
)


class LiPowerDriver(Driver):
    """LiPower BMS / Ective BM X: one Modbus read per poll."""

    family = "lipower"
    title = "LiPower BMS (Ective)"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE1)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"service_uuid": uuid16(0xAF30), "connectable": True},
    )
    required_keys = ("voltage", "current")

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        self.device_index = 0
        self._asked = self._answered = False
        self._known = False  # an id answered once: the device keeps it

    def requests(self) -> list[bytes]:
        # the last poll went unanswered while the id is not known yet: try the next id
        # (once known, a silent poll is a glitch or a dropped link, not a wrong id)
        if self._asked and not self._answered and not self._known:
            self.device_index = (self.device_index + 1) % len(DEVICE_IDS)
        self._asked, self._answered = True, False
        return [read_request(DEVICE_IDS[self.device_index], READ, START, COUNT)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if buffer[pos] not in DEVICE_IDS or buffer[pos + 1 : pos + 2] not in (b"", b"\x03"):
                pos += 1  # stale bytes: resynchronise on the next <id> 03
                continue
            if len(buffer) - pos < 3:
                break
            end = pos + 3 + buffer[pos + 2] + 2
            if end > len(buffer):
                break
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[0] == request[0]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            # an answer, even a damaged one, tells which id the device has
            self.device_index = DEVICE_IDS.index(frame[0])
            self._answered = self._known = True
            if not crc_ok(frame):
                raise self.error(f"bad CRC in the response of device 0x{frame[0]:02X}")
            out = self._status(frame[3:-2])
        return out  # type: ignore[return-value]

    def _status(self, data: bytes) -> dict[str, Any]:
        values = read_fields(self.family, data, FIELDS)
        direction = values.pop("direction")
        if direction > DISCHARGING:
            raise self.error(f"current direction word {direction} is neither 0 nor 1")
        if direction == DISCHARGING:
            values["current"] = 0.0 - values["current"]
        hours, minutes = values.pop("hours"), values.pop("minutes")
        if minutes >= 60:
            raise self.error(f"runtime minutes {minutes} is 60 or more")
        if values["battery_level"] > 100:  # a BM X monitor not synchronised yet
            del values["battery_level"], values["cycle_charge"]
        else:
            values["cycle_charge"] = float(values["cycle_charge"])
        if values["current"] < 0 and hours < NO_ESTIMATE_HOURS:
            values["runtime"] = hours * 3600 + minutes * 60
        return values
