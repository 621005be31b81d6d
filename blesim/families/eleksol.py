"""Eleksol battery: the JBD device (jbd.py) behind service 0xFF06, at a JBD module address."""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, uuid16
from .jbd import JbdDevice


class EleksolDevice(JbdDevice):
    """Eleksol 12 V LiFePO4 battery with a JBD BMS."""

    family = "eleksol"
    local_name = "12150EG00040"
    default_address = "A5:C2:37:4E:00:01"  # discovery needs the JBD module's prefix
    service_uuids = (uuid16(0xFF06),)
    manufacturer_data = {2163: bytes.fromhex("6237c2a5")}
    gatt = {uuid16(0xFF06): {uuid16(0xFF07): NOTIFY, uuid16(0xFF08): WRITE}}
    notify_uuid = uuid16(0xFF07)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        return super().on_write(uuid16(0xFF02) if char_uuid == uuid16(0xFF08) else "", data)
