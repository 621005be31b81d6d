"""Renogy Smart Shunt 300: streams 110-byte live-data frames (``42 57 01 19``) on 0xC411.

No requests; one frame a second in 20-byte notifications, with a history frame
(``42 57 01 0B``) now and then that a reader must skip. No checksum: a corrupt
frame is one whose voltage bytes are garbage.
"""

from __future__ import annotations

from ..devices import NOTIFY, SimDevice, uuid16
from ..framing import u

HEADER = bytes.fromhex("42570119")
HISTORY = bytes.fromhex("4257010b")


class RenogyShuntDevice(SimDevice):
    """Renogy Smart Shunt 300 on a 12 V battery with a starter battery."""

    family = "renogy_shunt"
    local_name = "RTMShunt300A1B2"
    gatt = {uuid16(0xC400): {uuid16(0xC411): NOTIFY}}
    notify_uuid = uuid16(0xC411)
    mtu = 23
    stream_period = 1.0
    starter_voltage = 12.61
    _count = 0

    def stream_frames(self) -> list[bytes]:
        self.model.step()
        m = self.model
        frame = bytearray(110)
        frame[0:4] = HEADER
        frame[21:24] = u(m.current * 1000, 3, signed=True)
        frame[25:28] = u(m.voltage * 1000, 3)
        frame[30:32] = u(self.starter_voltage * 1000, 2)
        frame[34:36] = u(m.soc * 1000, 2)
        frame[66:68] = u(m.temperatures[0] * 10, 2, signed=True)
        self._count += 1
        if self._count % 5 == 0:  # a history record between live frames
            return [HISTORY + bytes(30), bytes(frame)]
        return [bytes(frame)]

    def corrupt_frame(self, frame: bytes) -> bytes:
        if not frame.startswith(HEADER):
            return frame
        return frame[:25] + b"\xff\xff\xff" + frame[28:]
