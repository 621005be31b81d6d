"""ECO-WORTHY BW02 / DCHOUSE BMS (service 0xFFF0, notify 0xFFF1, write 0xFFF2).

Each of the two unlock commands is answered with the 0xA1 status and 0xA2
cell frames: prefix, ``03 <count> <data BE>``, CRC16/Modbus little-endian.
Variant "protocol 2" puts the adapter's MAC in front (10-byte prefix) and
reports the current in 0.1 A, like the newer 300 Ah packs.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import crc16_modbus, u

V1_PREFIX = bytes.fromhex("000000650000000000" "1801")


class EcoWorthyDevice(SimDevice):
    """ECO-WORTHY BMS answering its unlock commands with a status and a cell frame."""

    family = "ecoworthy"
    local_name = "ECO-WORTHY 02_B8EF"
    service_uuids = (uuid16(0xFFF0),)
    manufacturer_data = {0xC2B4: bytes.fromhex("e0fab8f0")}
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF1): NOTIFY, uuid16(0xFFF2): WRITE}}
    notify_uuid = uuid16(0xFFF1)

    def _frame(self, kind: int, data: bytes) -> bytes:
        if self.variant == "protocol 2":
            mac = bytes.fromhex(self.address.replace(":", ""))
            head = mac + bytes((kind, 0x00, 0x00, 0x08))
        else:
            head = bytes((kind,)) + V1_PREFIX
        body = head + bytes((0x03, len(data))) + data
        return body + crc16_modbus(body).to_bytes(2, "little")

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFF2) or len(data) != 18 or data[:2] != b"\xff\x08":
            return []
        m = self.model
        m.step()
        step = 10 if self.variant == "protocol 2" else 100
        status = bytearray(68)
        status[0:2] = u(0x18, 2)
        status[2:4] = u(m.soc * 100, 2)
        status[4:6] = u(m.health, 2)
        status[6:8] = u(m.voltage * 100, 2)
        status[8:10] = u(m.current * step, 2, signed=True)
        status[12:14] = u(m.capacity_ah * 100, 2)
        cells = bytearray(b"\xff\xff" * 33 + b"\xfc\x18" * 10)
        cells[0:2] = u(m.cells, 2)
        for i, v in enumerate(m.cell_voltages[:32]):
            cells[2 + 2 * i : 4 + 2 * i] = u(v * 1000, 2)
        cells[66:68] = u(len(m.temperatures), 2)
        for i, t in enumerate(m.temperatures[:9]):
            cells[68 + 2 * i : 70 + 2 * i] = u(t * 10, 2, signed=True)
        return [self._frame(0xA1, bytes(status)), self._frame(0xA2, bytes(cells[:86]))]
