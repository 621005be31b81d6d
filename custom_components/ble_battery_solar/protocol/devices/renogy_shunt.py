"""Renogy Smart Shunt 300 (advertised ``RTMShunt300…``): a battery monitor that streams.

No request: once notifications are enabled on 0xC411 the shunt pushes frames by
itself. A live-data frame is 110 bytes starting ``42 57 01 19`` (byte 1 = 0x57 is
what cyrils/renogy-bt checks as "read success"; IAmTheMitchell/renogy-ble checks
the four-byte header and skips frames of other subtypes such as ``42 57 01 0B``
history, and a ``61 D2 xx xx`` prefix some captures carry). Big-endian:

- bytes 21-23 current, signed, 0.001 A (+ = charging)
- bytes 25-27 battery voltage 0.001 V
- bytes 30-31 starter battery voltage 0.001 V
- bytes 34-35 state of charge 0.1 %
- bytes 66-67 battery temperature 0.1 degC

The frame carries no checksum that either source knows of, so the values are
the integrity check: a battery voltage outside 6-80 V or a current beyond 500 A
(renogy-ble's limits) fails the decode naming the field. A temperature outside
-40...100 degC is dropped, as renogy-ble does (a shunt without its probe). Both
sources decode the same offsets; neither publishes a whole captured frame.
Neither names the service holding 0xC411: 0xC400 is assumed (only the
characteristic is used for polling). No source names an alarm or fault field of
the frame, so the shunt reports no `problem_code`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import (
    NEED_MORE,
    Driver,
    Field,
    Matcher,
    read_fields,
    read_int,
    uuid16,
)
from custom_components.ble_battery_solar.protocol.models import Sample

HEADER = bytes.fromhex("42570119")
FRAME_LENGTH = 110
FIELDS = (
    Field("current", 21, 3, 0.001, signed=True),
    Field("voltage", 25, 3, 0.001),
    Field("starter_voltage", 30, 2, 0.001),
    Field("battery_level", 34, 2, 0.1),
)
TEMPERATURE = 66
VOLTAGE_RANGE = (6.0, 80.0)
MAX_CURRENT = 500.0
TEMPERATURE_RANGE = (-40.0, 100.0)


class RenogyShuntDriver(Driver):
    """Renogy Smart Shunt 300 streaming its live-data frames."""

    family = "renogy_shunt"
    title = "Renogy Smart Shunt"
    service_uuid = uuid16(0xC400)
    notify_uuid = uuid16(0xC411)
    matchers: ClassVar[tuple[Matcher, ...]] = ({"local_name": "RTMShunt*", "connectable": True},)
    required_keys = ("voltage", "current")
    checksummed = False

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        head = buffer[pos : pos + len(HEADER)]
        if not HEADER.startswith(head):
            return None
        return FRAME_LENGTH if len(head) == len(HEADER) else NEED_MORE

    def decode_frames(self, frames: list[bytes]) -> Sample:
        frame = frames[-1]  # the newest reading
        out: dict[str, Any] = read_fields(self.family, frame, FIELDS)
        low, high = VOLTAGE_RANGE
        if not low <= out["voltage"] <= high:
            raise self.error(f"voltage {out['voltage']} V is outside {low:g}-{high:g} V")
        if abs(out["current"]) > MAX_CURRENT:
            raise self.error(f"current {out['current']} A is beyond {MAX_CURRENT:g} A")
        temperature = read_int(frame, TEMPERATURE, 2, signed=True) / 10
        if TEMPERATURE_RANGE[0] <= temperature <= TEMPERATURE_RANGE[1]:
            out["temperatures"] = [temperature]
        return out  # type: ignore[return-value]
