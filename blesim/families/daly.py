"""Daly smart BMS (service 0xFFF0, notify 0xFFF1, write 0xFFF2), Modbus-style slave 0xD2.

Registers 0x0000-0x004F status (cells, NTCs, voltage, current, SOC, counts,
MOSFETs, alarms), 0x003E-0x0046 MOSFET temperature block.

Variant "p81" is an ESS-DL / 100Balance board: it ignores 0xD2, is asked at
address 0x81 and answers from 0x51 with the P81 register map (0x0000-0x003F
cells, temperatures and totals, 0x0041-0x007E capacity, cycles, MOSFETs).
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, uuid16
from ..framing import crc16_modbus, u
from .modbus import ModbusDevice, with_crc, words

P81_REQUEST, P81_SLAVE = 0x81, 0x51


class DalyDevice(ModbusDevice):
    """Daly BMS: answers reads of its 80 status registers (62 + 9 or 80 at once)."""

    family = "daly"
    local_name = "DL-40160901534C"
    service_uuids = (uuid16(0xFFF0),)
    manufacturer_data = {0x0102: bytes.fromhex("04")}
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF1): NOTIFY, uuid16(0xFFF2): WRITE}}
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF2)
    mosfet_temperature = 31.0

    @property
    def slave_ids(self) -> tuple[int, ...]:  # type: ignore[override]
        return (P81_SLAVE,) if self.variant == "p81" else (0xD2,)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if self.variant != "p81":
            return self._control_or_read(char_uuid, data)
        if len(data) != 8 or data[0] != P81_REQUEST or with_crc(data[:6]) != data:
            return []
        # asked at 0x81, the board answers as slave 0x51 (the RS485 convention)
        return super().on_write(char_uuid, with_crc(bytes((P81_SLAVE,)) + data[1:6]))

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if self.variant == "p81":
            return self._p81_registers()
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
        data[116:124] = u(self.problem_code & (1 << 64) - 1, 8)  # fault bitmap 0x3A-0x3D
        # the MOSFET temperature block overlays registers 0x3E-0x46 (register 0x42)
        data[132:134] = u(self.mosfet_temperature + 40, 2)
        return words(bytes(data), 0)

    def _p81_registers(self) -> dict[int, int]:
        m = self.model
        cells = bytearray(128)
        for i, v in enumerate(m.cell_voltages[:48]):
            cells[2 * i : 2 * i + 2] = u(v * 1000, 2)
        for i, t in enumerate(m.temperatures[:8]):
            cells[96 + 2 * i : 98 + 2 * i] = u(t + 40, 2)
        cells[112:114] = u(m.voltage * 10, 2)
        cells[114:116] = u(m.current * 10 + 30000, 2)
        cells[116:118] = u(m.soc * 1000, 2)
        cells[120:122] = u(len(m.cell_voltages), 2)
        cells[122:124] = u(len(m.temperatures), 2)
        status = bytearray(124)
        status[20:22] = u(m.remaining_ah * 10, 2)
        status[22:24] = u(m.cycles, 2)
        status[24:26] = u(m.balancing, 2)
        status[34:36] = u(m.soc < 1.0, 2)
        status[36:38] = u(m.soc > 0.0, 2)
        status[50:52] = u(self.mosfet_temperature + 40, 2)
        status[52:54] = u(m.ambient + 40, 2)
        return {**words(bytes(cells), 0), **words(bytes(status), 0x41)}

    def _control_or_read(self, char_uuid: str, data: bytes) -> list[bytes]:
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
