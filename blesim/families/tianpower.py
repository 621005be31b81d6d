"""TianPower BMS (service 0xFF00, notify 0xFF01, write 0xFF02).

Each request ``55 04 <cmd> AA`` is answered by one 20-byte frame
``55 14 <cmd> <16 data bytes> AA`` (big-endian, no checksum).
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import u
from ..model import BatteryModel


class TianPowerDevice(SimDevice):
    """TianPower 8S BMS."""

    family = "tianpower"
    local_name = "TP_123456"
    gatt = {uuid16(0xFF00): {uuid16(0xFF01): NOTIFY, uuid16(0xFF02): WRITE}}
    notify_uuid = uuid16(0xFF01)

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=8, capacity_ah=200.0, temperatures=[21.5, 22.0])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFF02) or len(data) != 4 or data[:2] != b"\x55\x04":
            return []
        if data[3] != 0xAA:
            return []
        block = self.block(data[2])
        return [] if block is None else [b"\x55\x14" + bytes((data[2],)) + block + b"\xaa"]

    def block(self, cmd: int) -> bytes | None:
        """The 16 data bytes of a block, None for an unknown command."""
        self.model.step()
        m = self.model
        d = bytearray(16)
        if cmd in (0x81, 0x82):
            text = b"TP-SIM-1.0" if cmd == 0x81 else b"TP-HW-2"
            d[: len(text)] = text
        elif cmd == 0x83:
            d[0:2] = u(m.soc * 100, 2)
            d[2:4] = u(m.voltage * 100, 2)
            d[6:8] = u(m.ambient * 10, 2, signed=True)
            d[8:10] = u((m.temperatures[0] + 3) * 10, 2, signed=True)
            d[10:12] = u(m.current * 100, 2, signed=True)
            d[14:16] = u(m.health, 2)
        elif cmd == 0x84:
            d[0] = m.cells
            d[1] = len(m.temperatures)
            d[2:4] = u(m.capacity_ah * 100, 2)
            d[4:6] = u(m.remaining_ah * 100, 2)
            d[6:8] = u(m.cycles, 2)
        elif cmd == 0x85:
            d[1] = 0x01 * (m.soc > 0.0) | 0x02 * (m.soc < 1.0)
            d[10:12] = u(0x0001 if m.balancing else 0, 2)
        elif cmd == 0x87:
            for i, t in enumerate(m.temperatures[:8]):
                d[2 * i : 2 * i + 2] = u(t * 10, 2, signed=True)
        elif cmd in (0x88, 0x89, 0x8A):
            first = 8 * (cmd - 0x88)
            for i, v in enumerate(m.cell_voltages[first : first + 8]):
                d[2 * i : 2 * i + 2] = u(v * 1000, 2)
        else:
            return None
        return bytes(d)

    def corrupt_frame(self, frame: bytes) -> bytes:
        return frame[:-1] + b"\x00"  # no checksum in this protocol: break the tail byte
