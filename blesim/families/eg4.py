"""EG4 LL battery (service 0x1000, write 0x1001, notify 0x1002): Modbus slave 0x01, 39 registers."""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, uuid16
from ..framing import u
from .modbus import ModbusDevice, words


class Eg4Device(ModbusDevice):
    """EG4 LL battery: registers 0x0000-0x0026 hold the whole status."""

    family = "eg4"
    local_name = "Z122002264"
    service_uuids = (uuid16(0x1000),)
    manufacturer_data = {0x6F80: bytes.fromhex("b0155e71")}
    gatt = {uuid16(0x1000): {uuid16(0x1001): WRITE, uuid16(0x1002): NOTIFY}}
    notify_uuid = uuid16(0x1002)
    write_uuid = uuid16(0x1001)
    slave_ids = (0x01,)

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        m = self.model
        cells = m.cell_voltages[:16]
        data = bytearray(78)
        data[0:2] = u(m.voltage * 100, 2)
        data[2:4] = u(m.current * 10, 2, signed=True)
        for i, v in enumerate(cells):
            data[4 + 2 * i : 6 + 2 * i] = u(v * 1000, 2)
        data[36:38] = u(m.temperatures[0] + 3, 2, signed=True)  # PCB
        data[42:44] = u(m.remaining_ah * 10, 2)
        data[46:48] = u(m.health, 2)
        data[48:50] = u(m.soc * 100, 2)
        data[58:62] = u(m.cycles, 4)
        for i in range(6):
            data[66 + i : 67 + i] = u(m.temperatures[i % len(m.temperatures)], 1, signed=True)
        data[72:74] = u(len(cells), 2)
        data[74:76] = u(m.capacity_ah * 10, 2)
        data[76:78] = u(0x0003 if m.balancing else 0, 2)
        return words(bytes(data), 0)
