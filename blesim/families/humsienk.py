"""Humsienk BMS / ECO-WORTHY "ECOxxxx" (service 0x0001, write 0x0002, notify 0x0003).

Answers ``AA <cmd> 00 <sum16 LE>`` with ``AA <cmd> <len> <data> <sum16 LE>``:
0x00 handshake, 0x11 model, 0x20 status, 0x21 battery info, 0x22 cells,
0xF5 version; little-endian values.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import sum16, u
from ..model import BatteryModel


def frame(cmd: int, data: bytes) -> bytes:
    """A Humsienk frame."""
    body = bytes((cmd, len(data))) + data
    return b"\xaa" + body + u(sum16(body), 2, "little")


class HumsienkDevice(SimDevice):
    """An ECO-WORTHY 12 V 150 Ah battery with a Humsienk BMS."""

    family = "humsienk"
    local_name = "ECOE934"
    service_uuids = (uuid16(0xFF00), uuid16(0x0001))
    manufacturer_data = {0x0515: bytes.fromhex("d5000000")}
    gatt = {uuid16(0x0001): {uuid16(0x0002): WRITE, uuid16(0x0003): NOTIFY}}
    notify_uuid = uuid16(0x0003)

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, capacity_ah=150.0, soc=0.42, current=-1.15,
                            temperatures=[26.0, 26.0, 26.5, 26.0])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0x0002) or len(data) != 5 or data[0] != 0xAA:
            return []
        if sum16(data[1:3]) != int.from_bytes(data[3:5], "little"):
            return []
        m = self.model
        m.step()
        cmd = data[1]
        if cmd == 0x00:
            return [frame(0x00, b"")]
        if cmd == 0x11:
            return [frame(0x11, b"BMC-04S001")]
        if cmd == 0xF5:
            return [frame(0xF5, b"V02" + bytes(9))]
        if cmd == 0x20:
            status = 0x80 * (m.soc < 1.0) | 0x800000 * (m.soc > 0.0)
            balancing = 0b0101 if m.balancing else 0
            return [frame(0x20, bytes(4) + u(status, 4, "little") + u(balancing, 3, "little")
                          + bytes(4))]
        if cmd == 0x21:
            temps = [*m.temperatures[:4], m.temperatures[0] + 4, m.ambient]
            payload = (
                u(m.voltage * 1000, 4, "little")
                + u(m.current * 1000, 4, "little", signed=True)
                + bytes((round(m.soc * 100), round(m.health)))
                + u(m.remaining_ah * 1000, 4, "little")
                + u(m.capacity_ah * 1000, 4, "little")
                + u(m.cycles, 2, "little")
                + b"".join(u(t, 1, signed=True) for t in temps)
            )
            return [frame(0x21, payload)]
        if cmd == 0x22:
            cells = [round(v * 1000) for v in m.cell_voltages] + [0] * 24
            return [frame(0x22, b"".join(u(c, 2, "little") for c in cells[:24]))]
        return []

    def corrupt_frame(self, frame: bytes) -> bytes:
        # the checksum's low byte (the default would hit the length byte of a 5-byte frame)
        return frame[:-2] + bytes((frame[-2] ^ 0x5A,)) + frame[-1:]
