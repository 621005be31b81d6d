"""Epoch Pro battery (service 0xFFE0, write 0xFFE1, notify 0xFFE4; service data 0x3333).

Answers ``FA F3 16 <start> <device> <count> <CRC>`` for the system block
(device 1, 0x7654 x 0x37) and the pack block (device 1, 0x75F8 x 0x52) with
``FA F3 16 <device> <byte count> <data> <CRC16/Modbus LE>``: one pack.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import crc16_modbus, u
from ..model import BatteryModel


class EpochProDevice(SimDevice):
    """Epoch Pro 48 V system with one 16-cell pack."""

    family = "epoch_pro"
    local_name = "EpochGC2-0184"
    service_uuids = (uuid16(0xFFE0),)
    # the real module also sends company 0xFFFF data, which HA's kegtron claims: left out
    gatt = {uuid16(0xFFE0): {uuid16(0xFFE1): WRITE, uuid16(0xFFE4): NOTIFY}}
    notify_uuid = uuid16(0xFFE4)

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=16, temperatures=[26.0, 27.0, 27.0, 26.0])

    def advertisement(self) -> dict[str, object]:
        return {**super().advertisement(), "service_data": {uuid16(0x3333): bytes.fromhex("343536")}}

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFE1) or len(data) != 10 or data[:3] != b"\xfa\xf3\x16":
            return []
        if crc16_modbus(data[:8]) != int.from_bytes(data[8:], "little"):
            return []
        start, device, count = int.from_bytes(data[3:5], "big"), data[5], int.from_bytes(data[6:8], "big")
        m = self.model
        m.step()
        block = bytearray(2 * count)
        if (start, device, count) == (0x7654, 1, 0x37):
            block[8:10] = u(m.soc * 100, 2)
            block[10:12] = u(m.health, 2)
            block[14:16] = u(m.voltage * 100, 2)
            block[16:18] = u(m.current, 2, signed=True)
            block[18:20] = u(m.temperatures[0] * 10, 2, signed=True)
            block[42:44] = u(1, 2)
        elif (start, device, count) == (0x75F8, 1, 0x52):
            block[16:18] = u(m.cycles, 2)
            block[46:48] = u(m.voltage * 100, 2)
            block[48:50] = u(m.current * 100, 2, signed=True)
            block[50] = m.cells
            block[51] = len(m.temperatures)
            block[66:68] = u(m.soc * 1000, 2)
            for i, v in enumerate(m.cell_voltages):
                block[72 + 2 * i : 74 + 2 * i] = u(v * 1000, 2)
            for i, t in enumerate(m.temperatures):
                block[104 + 2 * i : 106 + 2 * i] = u(t, 2, signed=True)
        else:
            return []
        body = b"\xfa\xf3\x16" + bytes((device, len(block))) + bytes(block)
        return [body + crc16_modbus(body).to_bytes(2, "little")]
