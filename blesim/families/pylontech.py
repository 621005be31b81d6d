"""Pylontech RT battery: Modbus slave 0x01, status block 0x1016 x 13, serial number 0x2000 x 8."""

from __future__ import annotations

from ..devices import uuid16
from ..framing import u
from .modbus import ModbusDevice, words

SERVICE = "00010203-0405-0607-0809-0a0b0c0d1910"
NOTIFY_UUID = "00010203-0405-0607-0809-0a0b0c0d2b10"
WRITE_UUID = "00010203-0405-0607-0809-0a0b0c0d2b11"


class PylontechDevice(ModbusDevice):
    """Pylontech RT12100: advertises HID and the Battery Service, speaks Modbus on a Telink service."""

    family = "pylontech"
    local_name = "RT12100-710003"
    service_uuids = (uuid16(0x1812), uuid16(0x180F))
    gatt = {
        SERVICE: {NOTIFY_UUID: ("notify",), WRITE_UUID: ("write", "write-without-response")},
        uuid16(0x180F): {uuid16(0x2A19): ("read", "notify")},
    }
    notify_uuid = NOTIFY_UUID
    write_uuid = WRITE_UUID
    slave_ids = (0x01,)

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        m = self.model
        cells = m.cell_voltages
        temps = m.temperatures
        data = (
            u(m.voltage * 100, 2)
            + u(m.current * 10, 2, signed=True)
            + u(max(cells) * 1000, 2)
            + u(min(cells) * 1000, 2)
            + u(max(temps) * 10, 2, signed=True)
            + u(min(temps) * 10, 2, signed=True)
            + u(m.soc * 100, 2)
            + u(m.health, 2)
            + u(abs(m.voltage * m.current), 2)
            + u(0, 2)
            + u(m.cycles * m.capacity_ah * m.voltage / 100, 2)  # lifetime energy, 0.1 kWh
            + u(m.capacity_ah * 10, 2)  # current limit, 0.1 A
            + u(m.capacity_ah * 10, 2)
        )
        serial = self.name.rpartition("-")[2].encode().ljust(16, b"\x00")[:16]
        return words(data, 0x1016) | words(serial, 0x2000)

    def on_read(self, char_uuid: str) -> bytes:
        return bytes((round(self.model.soc * 100),)) if char_uuid == uuid16(0x2A19) else b""
