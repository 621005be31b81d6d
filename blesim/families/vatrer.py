"""Vatrer battery (Nordic UART service): Modbus slave 0x02, three register blocks.

Status 0x0000-0x0013, cells 0x0015-0x0033, temperatures and alarms
0x0034-0x0045; any read inside the map is answered like a real slave.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE
from ..framing import u
from ..model import BatteryModel
from .modbus import ModbusDevice, words

SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


class VatrerDevice(ModbusDevice):
    """Vatrer 51.2 V 100 Ah LiFePO4 battery (16 cells, 4 probes)."""

    family = "vatrer"
    local_name = "250320512100045"
    service_uuids = (SERVICE,)
    gatt = {SERVICE: {RX: WRITE, TX: NOTIFY}}
    notify_uuid = TX
    write_uuid = RX
    slave_ids = (0x02,)

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=16, temperatures=[18.0, 20.0, 19.0, 20.0])

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        m = self.model
        cells = m.cell_voltages[:30]
        status = bytearray(40)
        status[0:2] = u(m.voltage * 100, 2)
        status[2:6] = u(m.current * 100, 4, signed=True)
        status[6:8] = u(m.soc * 100, 2)
        status[8:10] = u(m.remaining_ah * 100, 2)
        status[10:12] = u(m.capacity_ah * 100, 2)
        status[12:14] = u(m.cycles, 2)
        status[14:16] = u(m.health, 2)
        status[22:24] = u(max(cells) * 1000, 2)
        status[24:26] = u(min(cells) * 1000, 2)
        status[26:28] = u((max(cells) - min(cells)) * 1000, 2)
        cell_block = u(len(cells), 2) + b"".join(u(v * 1000, 2) for v in cells)
        probes = m.temperatures[:4]
        temps = bytearray(36)
        temps[0:2] = u(len(probes), 2)
        for i, t in enumerate([*probes, m.ambient, probes[0] + 1]):
            temps[2 + 2 * i : 4 + 2 * i] = u(t, 2, signed=True)
        temps[29] = 0x10 * (m.soc < 1.0) | 0x20 * (m.soc > 0.0)
        temps[32:36] = u(0x3 if m.balancing else 0, 4)
        return words(bytes(status), 0x0000) | words(cell_block.ljust(62, b"\0"), 0x0015) | words(
            bytes(temps), 0x0034
        )
