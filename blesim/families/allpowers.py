"""Allpowers portable power station (service 0xFFF0, notify 0xFFF1, no requests).

Streams a 15-byte status frame once a second (``A5 65 B1 01 01 00 00``,
output flags, SOC, input and output power in W, minutes left), after a
settings frame, like an R1500.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import u
from ..model import BatteryModel

SETTINGS = bytes.fromhex("a565b1000106030201ab00")


class AllpowersDevice(SimDevice):
    """An Allpowers R1500 powering a load through its AC output."""

    family = "allpowers"
    local_name = "AP R600 V2.0"
    service_uuids = (uuid16(0xFFF0),)
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF1): NOTIFY, uuid16(0xFFF2): WRITE}}
    notify_uuid = uuid16(0xFFF1)
    mtu = 23
    stream_period = 1.0

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=16, capacity_ah=30.0, soc=0.72, current=-2.5)

    def stream_frames(self) -> list[bytes]:
        m = self.model
        m.step()
        power = m.voltage * m.current
        minutes = round(m.remaining_ah / -m.current * 60) if m.current < 0 else 0xFFFF
        status = (bytes.fromhex("a565b101010000") + bytes((0x03, round(m.soc * 100)))
                  + u(max(power, 0), 2) + u(max(-power, 0), 2) + u(minutes, 2))
        return [SETTINGS, status]

    def corrupt_frame(self, frame: bytes) -> bytes:
        # no checksum: damage shows in the fixed header bytes
        return frame[:5] + bytes((frame[5] ^ 0x5A,)) + frame[6:]
