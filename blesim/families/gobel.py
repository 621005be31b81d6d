"""Gobel Power BMS: Modbus slave 0x01, status block 0x0000 x 59, device information 0x00AA x 35."""

from __future__ import annotations

from ..framing import u
from .modbus import ModbusDevice, words

SERVICE = "00002760-08c2-11e1-9073-0e8ac72e1001"
WRITE_UUID = "00002760-08c2-11e1-9073-0e8ac72e0001"
NOTIFY_UUID = "00002760-08c2-11e1-9073-0e8ac72e0002"


class GobelDevice(ModbusDevice):
    """Gobel Power LiFePO4 pack; advertises only its name (BMS- and its serial number)."""

    family = "gobel"
    local_name = "BMS-4056911A1100032P"
    gatt = {SERVICE: {WRITE_UUID: ("write", "write-without-response"), NOTIFY_UUID: ("notify",)}}
    notify_uuid = NOTIFY_UUID
    write_uuid = WRITE_UUID
    slave_ids = (0x01,)

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        m = self.model
        cells = m.cell_voltages[:32]
        temps = m.temperatures[:8]
        data = bytearray(118)
        data[0:2] = u(m.current * 100, 2, signed=True)
        data[2:4] = u(m.voltage * 100, 2)
        data[4:6] = u(m.soc * 100, 2)
        data[6:8] = u(m.health, 2)
        data[8:10] = u(m.remaining_ah * 100, 2)
        data[10:12] = u(m.capacity_ah * 100, 2)
        data[12:14] = u(m.capacity_ah * 100, 2)
        data[14:16] = u(m.cycles, 2)
        data[28:30] = u((0x4000 if m.soc < 1.0 else 0) | (0x8000 if m.soc > 0.0 else 0), 2)
        data[30:32] = u(len(cells), 2)
        for i, v in enumerate(cells):
            data[32 + 2 * i : 34 + 2 * i] = u(v * 1000, 2)
        data[92:94] = u(len(temps), 2)
        for i, t in enumerate(temps):
            data[94 + 2 * i : 96 + 2 * i] = u(t * 10, 2, signed=True)
        data[114:116] = u((temps[0] + 2) * 10, 2, signed=True)
        info = (b"P4S200A-40569-1.02".ljust(20, b"\x00") + b"4056911A1100032P".ljust(20)
                + b"GP-LA12-31420250618".ljust(30, b"\x00"))
        return words(bytes(data), 0x0000) | words(info, 0x00AA)
