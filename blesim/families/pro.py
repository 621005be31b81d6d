"""Pro BMS smart shunt / Foxwell BT630 / Leagend CM100 (service 0xFFF0, notify 0xFFF4, write 0xFFF3).

Answers the handshake command (function 0x04) with a type-0x03 frame, ignores
functions 0x40 and 0x42, and answers the trigger (function 0x43) with a 50-byte
type-0x04 data frame.
"""

from __future__ import annotations

import time

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import u
from ..model import BatteryModel

INIT = bytes.fromhex("55aa0a0101558004077f648e682b")
TRIGGER = bytes.fromhex("55aa0901015580430000120084")
INIT_ANSWER = bytes.fromhex("55aa080380aa01040000002c52")


class ProDevice(SimDevice):
    """A BT630 shunt on a 12 V battery."""

    family = "pro"
    local_name = "Pro BMS"
    service_uuids = (uuid16(0xFFF0),)
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF4): NOTIFY, uuid16(0xFFF3): WRITE}}
    notify_uuid = uuid16(0xFFF4)
    mtu = 23

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, capacity_ah=128.0, soc=0.51, current=-2.454)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFF3):
            return []
        if data == INIT:
            return [INIT_ANSWER]
        if data != TRIGGER:
            return []
        m = self.model
        m.step()
        temp = m.temperatures[0]
        frame = bytearray(50)
        frame[0:8] = bytes.fromhex("55aa2d0480aa0170")
        frame[8:10] = u(m.voltage * 100, 2, "little")
        frame[12:14] = u(abs(m.current) * 1000, 2, "little")
        frame[15] = 0x80 if m.current < 0 else 0
        frame[16:18] = u(abs(temp) * 10, 2, "little")
        frame[18] = 1 if temp < 0 else 0
        frame[20:24] = u(m.remaining_ah * 100, 4, "little")
        frame[24] = round(m.soc * 100)
        frame[32:36] = u(abs(m.voltage * m.current) * 100, 4, "little")
        frame[40:44] = u(time.time(), 4, "little")
        return [bytes(frame)]

    def corrupt_frame(self, frame: bytes) -> bytes:
        # no checksum: a damaged frame shows in its fixed marker
        return frame[:7] + bytes((frame[7] ^ 0x5A,)) + frame[8:]
