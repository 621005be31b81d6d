"""Daly smart BMS (service 0xFFF0, notify 0xFFF1, write 0xFFF2), Modbus-style slave 0xD2.

Registers 0x0000-0x004F status (cells, NTCs, voltage, current, SOC, counts,
MOSFETs, alarms), 0x003E-0x0046 MOSFET temperature block.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, uuid16
from ..framing import crc16_modbus, u
from .modbus import ModbusDevice, with_crc, words


class DalyDevice(ModbusDevice):
    """Daly BMS: answers reads of its 80 status registers (62 + 9 or 80 at once)."""

    family = "daly"
    local_name = "DL-40160901534C"
    service_uuids = (uuid16(0xFFF0),)
    manufacturer_data = {0x0102: bytes.fromhex("04")}
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF1): NOTIFY, uuid16(0xFFF2): WRITE}}
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF2)
    slave_ids = (0xD2,)
    mosfet_temperature = 31.0

    def registers(self, slave: int, function: int) -> dict[int, int]:
        m = self.model
        cells = m.cell_voltages
        data = bytearray(160)
        for i, v in enumerate(cells[:32]):
            data[2 * i : 2 * i + 2] = u(v * 1000, 2)
        for i, t in enumerate(m.temperatures[:8]):
            data[64 + 2 * i : 66 + 2 * i] = u(t + 40, 2)
        data[80:82] = u(m.voltage * 10, 2)
        data[82:84] = u(m.current * 10 + 30000, 2)
        data[84:86] = u(m.soc * 1000, 2)
        data[96:98] = u(m.remaining_ah * 10, 2)
        data[98:100] = u(len(cells), 2)
        data[100:102] = u(len(m.temperatures), 2)
        data[102:104] = u(m.cycles, 2)
        data[104:106] = u(m.balancing, 2)
        data[106:108] = u(m.charge_mosfet, 2)
        data[108:110] = u(m.discharge_mosfet, 2)
        data[112:114] = u(m.delta * 1000, 2)
        # the MOSFET temperature block overlays registers 0x3E-0x46 (register 0x42)
        data[132:134] = u(self.mosfet_temperature + 40, 2)
        return words(bytes(data), 0)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        # function 0x06 on 0x00A5 / 0x00A6: the charging / discharging MOSFET switch
        if (char_uuid == self.write_uuid and len(data) == 8 and data[0] in self.slave_ids
                and data[1] == 0x06
                and crc16_modbus(data[:6]) == int.from_bytes(data[6:], "little")):
            register, value = int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:6], "big")
            if register not in (0x00A5, 0x00A6):
                return [self.exception(data[0], 0x06, 0x02)]
            if self.faults.ignore_control:
                return []
            if self.faults.refuse_control:
                return [self.exception(data[0], 0x06, 0x04)]
            self.model.set_switches(**{"charge" if register == 0x00A5 else "discharge": value != 0})
            return [with_crc(data[:6])]
        return super().on_write(char_uuid, data)
