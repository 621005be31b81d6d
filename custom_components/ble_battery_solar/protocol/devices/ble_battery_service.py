"""Bluetooth SIG Battery Service (0x180F): Battery Level (0x2A19), one uint8 percent.

Phones, mice and headsets advertise 0x180F too, so these devices are never
pushed as discoveries; users pick them in the integration's user step.
"""

from __future__ import annotations

from typing import ClassVar

from ..base import Driver, Matcher, uuid16
from ..models import Sample


class BatteryServiceDriver(Driver):
    """Standard Battery Service: the Battery Level characteristic is read each poll."""

    family = "ble_battery_service"
    title = "Bluetooth Battery Service"
    matchers: ClassVar[tuple[Matcher, ...]] = ({"service_uuid": uuid16(0x180F)},)
    discoverable = False
    generic = True
    service_uuid = uuid16(0x180F)
    read_uuid = uuid16(0x2A19)
    required_keys = ("battery_level",)

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        # Each read or notification is one byte: one whole frame.
        return [buffer[i : i + 1] for i in range(len(buffer))], b""

    def decode_frames(self, frames: list[bytes]) -> Sample:
        for frame in frames:
            if frame[0] > 100:
                raise self.error(f"battery level {frame[0]} is outside 0-100 %")
        return {"battery_level": frames[-1][0]}
