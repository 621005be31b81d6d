"""Saihang BMS (Anenji): Modbus behind an ``A5 A5`` start; service 0xFFFA, notify 0xFFFC, write 0xFFFB.

Answers ``A5 A5 <slave> 03 0000 0048 <CRC>`` with the 144-byte status block in one notification.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import crc16_modbus, u


def frame(body: bytes) -> bytes:
    """``A5 A5`` + body + CRC16/Modbus (little-endian) of the body."""
    return b"\xa5\xa5" + body + crc16_modbus(body).to_bytes(2, "little")


class SaihangDevice(SimDevice):
    """Anenji SH24100 pack with a Saihang BMS."""

    family = "saihang"
    local_name = "SH24100-H-00069"
    service_uuids = (uuid16(0xFFFA),)
    manufacturer_data = {0x0069: bytes.fromhex("202251a2")}
    gatt = {uuid16(0xFFFA): {uuid16(0xFFFC): ("read", *NOTIFY), uuid16(0xFFFB): WRITE}}
    notify_uuid = uuid16(0xFFFC)
    mtu = 247

    def status(self) -> bytes:
        """The 72 registers from 0x0000."""
        m = self.model
        cells = m.cell_voltages[:20]
        probes = m.temperatures[:10]
        data = bytearray(b"\xff" * 144)
        data[0:4] = u(m.current * 100, 4, signed=True)
        data[4:8] = u(m.voltage * 100, 4)
        data[8:10] = u(m.soc * 100, 2)
        data[10:12] = u(m.health, 2)
        data[12:16] = u(m.remaining_ah * 100, 4)
        data[16:20] = u(m.capacity_ah * 100, 4)
        data[20:24] = u(m.capacity_ah * 100, 4)
        data[24:26] = u(m.cycles, 2)
        data[26:28] = b"\xff\xff"  # active low: no alarm
        data[28:32] = bytes((0, 1, 0, 0))
        data[32:34] = u(0x0200 * (m.soc < 1.0) | 0x0400 * (m.soc > 0.0), 2)
        data[34:36] = bytes(2)
        data[36:38] = u(1 if m.balancing else 0, 2)
        data[38:40] = u(len(cells), 2)
        for i, v in enumerate(cells):
            data[40 + 2 * i : 42 + 2 * i] = u(v * 1000, 2)
        data[80:82] = u(len(probes), 2)
        for i, t in enumerate(probes):
            data[82 + 2 * i : 84 + 2 * i] = u(t * 10 + 2730, 2)
        data[102:104] = u((probes[0] + 2) * 10 + 2730, 2)
        data[104:106] = u(m.ambient * 10 + 2730, 2)
        data[106:] = bytes(38)
        return bytes(data)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFFB) or len(data) != 10 or data[:2] != b"\xa5\xa5":
            return []
        if crc16_modbus(data[2:8]) != int.from_bytes(data[8:], "little"):
            return []
        slave, function = data[2], data[3]
        if function != 0x03:
            return [frame(bytes((slave, function | 0x80, 0x01)))]
        start, count = int.from_bytes(data[4:6], "big"), int.from_bytes(data[6:8], "big")
        if start != 0 or not 0 < count <= 72:
            return [frame(bytes((slave, 0x83, 0x02)))]
        self.model.step()
        block = self.status()[: 2 * count]
        return [frame(bytes((slave, 0x03, len(block))) + block)]
