"""Bluetooth SIG Battery Service (0x180F): Battery Level (0x2A19) is read or notified."""

from __future__ import annotations

from ..devices import SimDevice, uuid16

LEVEL = uuid16(0x2A19)


class BatteryServiceDevice(SimDevice):
    """A device with the standard Battery Service: one uint8 percent, read each poll."""

    family = "ble_battery_service"
    local_name = "SIM Battery"
    service_uuids = (uuid16(0x180F),)
    gatt = {uuid16(0x180F): {LEVEL: ("read", "notify")}}

    def on_read(self, char_uuid: str) -> bytes:
        if char_uuid != LEVEL:
            return b""
        self.model.step()
        return bytes([round(self.model.soc * 100)])

    def corrupt_frame(self, frame: bytes) -> bytes:
        return bytes([0xFF])  # 255 % is out of range: the only way a level byte is "corrupt"
