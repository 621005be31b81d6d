"""AG Automotive battery: the E&J device (ej.py) behind AG's own service UUIDs."""

from __future__ import annotations

from ..devices import NOTIFY, WRITE
from .ej import RX, EjDevice

SERVICE = "00008000-0000-1000-8000-57616c6b697a"
AG_WRITE = "00008001-0000-1000-8000-57616c6b697a"
AG_NOTIFY = "00008002-0000-1000-8000-57616c6b697a"


class AgDevice(EjDevice):
    """AG Power Lithium 12 V battery; advertises its name and E&J's company id only."""

    family = "ag"
    local_name = "AG100L21021805"
    service_uuids = ()
    manufacturer_data = {21320: bytes.fromhex("84280836070d6400")}
    gatt = {SERVICE: {AG_WRITE: WRITE, AG_NOTIFY: NOTIFY}}
    notify_uuid = AG_NOTIFY

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        return super().on_write(RX if char_uuid == AG_WRITE else "", data)
