"""D-powercore / Fliteboard BMS (service 0xFFF0, notify 0xFFF4, write 0xFFF3).

Every request is acknowledged with its own page (first byte | 0x80); the
response ``3A 05 03 <cmd> 00 <len> <data> <sum16> 0D 0A`` follows in 20-byte
pages ``<count> <page << 4 | pages> <payload> <filler>``. A device named
``DXB-…`` answers only after the unlock command 0x64 carried the last four
hex digits of its name; ``TBA-…`` boards need no unlock.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import u
from ..model import BatteryModel


def pages(payload: bytes) -> list[bytes]:
    """A response payload split into 20-byte pages."""
    parts = [payload[i : i + 18] for i in range(0, len(payload), 18)]
    return [
        (bytes((len(part), (n + 1) << 4 | len(parts))) + part).ljust(20, b"\x00")
        for n, part in enumerate(parts)
    ]


def response(cmd: int, data: bytes) -> bytes:
    """A response payload with its checksum."""
    body = bytes((0x05, 0x03, cmd, 0x00, len(data))) + data
    return b"\x3a" + body + u(sum(body) & 0xFFFF, 2) + b"\x0d\x0a"


class DpwrcoreDevice(SimDevice):
    """D-powercore BMS answering status (0x60), info (0x61) and cells (0x62)."""

    family = "dpwrcore"
    local_name = "TBA-13500277"
    service_uuids = (uuid16(0xFFF0),)
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF4): NOTIFY, uuid16(0xFFF3): WRITE}}
    notify_uuid = uuid16(0xFFF4)
    unlocked = False

    def default_model(self) -> BatteryModel:
        # a 14S 28 Ah pack like the source's; the BMS reports current in whole amperes
        return BatteryModel(cells=14, capacity_ah=28.0, current=-3.0)

    def on_connect(self) -> None:
        self.unlocked = not self.name.startswith("DXB-")

    def corrupt_frame(self, frame: bytes) -> bytes:
        if frame[0] & 0x80:
            return frame
        # break the checksum (or the end marker): change the page's last payload byte
        last = 1 + frame[0]
        return frame[:last] + bytes((frame[last] ^ 0x01,)) + frame[last + 1 :]

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFF3) or len(data) != 20 or data[0] & 0x80:
            return []
        ack = bytes((data[0] | 0x80,)) + data[1:]
        cmd = data[5]
        if cmd == 0x64:
            self.unlocked = data[8:10] == bytes.fromhex(self.name[-4:])
            return [ack]
        if not self.unlocked:
            return [ack]
        m = self.model
        m.step()
        if cmd == 0x60:
            payload = (u(m.voltage * 10, 2) + u(m.current, 2, signed=True)
                       + u(m.capacity_ah * 1000, 2) + u(m.remaining_ah * 1000, 2)
                       + bytes((round(m.soc * 100), 0)))
        elif cmd == 0x61:
            payload = (u(m.cycles, 2) + u(m.cycles, 2) + u(m.capacity_ah * 1000, 2)
                       + u((m.temperatures[0] + 273.15) * 10, 2) + bytes(4))
        elif cmd == 0x62:
            payload = bytes((m.cells,)) + b"".join(u(v * 1000, 2) for v in m.cell_voltages)
        else:
            return [ack]
        return [ack, *pages(response(cmd, payload))]
