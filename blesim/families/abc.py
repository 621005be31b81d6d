"""ABC-BMS / SOK battery (service 0xFFE0, notify 0xFFE1, write 0xFFE2; advertises 0xFFF0).

Answers ``EE <cmd> 00 00 00 <crc8>`` with 20-byte frames
``CC <type> <17 bytes> <crc8>``: C0 → F1 model; C1 → F0, F2; C2 → F0, F3 and
one F4 per four cells; C4 → F9 protection flags. Little-endian.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import u
from ..model import BatteryModel


def crc8_maxim(data: bytes) -> int:
    """CRC-8/MAXIM, bit by bit."""
    crc = 0
    for byte in data:
        for bit in range(8):
            mix = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
    return crc


def frame(kind: int, data: bytes) -> bytes:
    """A response frame with its 17 data bytes (zero-padded) and CRC."""
    body = bytes((0xCC, kind)) + data.ljust(17, b"\0")
    return body + bytes((crc8_maxim(body),))


class AbcDevice(SimDevice):
    """SOK 12 V 100 Ah LiFePO4 battery with an ABC-BMS."""

    family = "abc"
    local_name = "SOK-AA02120"
    service_uuids = (uuid16(0xFFE0), uuid16(0xFFF0))
    gatt = {uuid16(0xFFE0): {uuid16(0xFFE1): NOTIFY, uuid16(0xFFE2): WRITE}}
    notify_uuid = uuid16(0xFFE1)

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, temperatures=[21.0])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFE2) or len(data) != 6 or data[0] != 0xEE:
            return []
        m = self.model
        m.step()
        main = frame(0xF0, u(m.voltage * 1000, 3, "little") + u(m.current * 1000, 3, "little", signed=True)
                     + u(m.capacity_ah * 1000, 3, "little") + u(m.remaining_ah * 1000, 3, "little")
                     + u(m.cycles, 2, "little") + u(m.soc * 100, 1))
        cmd = data[1]
        if cmd == 0xC0:
            return [frame(0xF1, b"SOK-BMS\r")]
        if cmd == 0xC1:
            probes = m.temperatures[:7]
            fets = bytes((m.soc < 1.0, m.soc > 0.0, len(probes)))
            return [main, frame(0xF2, fets + b"".join(u(t, 2, "little", signed=True) for t in probes))]
        if cmd == 0xC2:
            cells = m.cell_voltages
            out = [main, frame(0xF3, bytes((0x17, 0x03, 0x12, 0, 0x64, 0, 0, 0, m.balancing)))]
            for start in range(0, len(cells), 4):
                entries = b"".join(bytes((start + i + 1,)) + u(v * 1000, 3, "little")
                                   for i, v in enumerate(cells[start : start + 4]))
                out.append(frame(0xF4, entries))
            return out
        if cmd == 0xC4:
            return [frame(0xF9, b"")]
        return []
