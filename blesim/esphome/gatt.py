"""A simulated device's GATT table as an ESP32 proxy reports it: handles, properties, CCCDs.

Handles are assigned in declaration order (service, characteristic, its CCCD)
and stay the same for a device, so a client's per-proxy service cache keeps
matching. Every characteristic that can notify or indicate gets a Client
Characteristic Configuration descriptor (0x2902): bleak-esphome writes it
itself to switch notifications on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aioesphomeapi.api_pb2 import (  # type: ignore[attr-defined]
    BluetoothGATTCharacteristic,
    BluetoothGATTDescriptor,
    BluetoothGATTGetServicesResponse,
    BluetoothGATTService,
)

from ..devices import SimDevice
from .wire import short_uuid, split_uuid

CCCD = 0x2902
# bleak's characteristic property bits (Bluetooth Core, Vol 3, Part G, 3.3.1.1)
PROPERTY_BITS = {
    "broadcast": 0x01, "read": 0x02, "write-without-response": 0x04, "write": 0x08,
    "notify": 0x10, "indicate": 0x20, "authenticated-signed-writes": 0x40,
}


@dataclass
class Characteristic:
    """One characteristic: its handle, UUID, properties and CCCD handle (0: none)."""

    handle: int
    uuid: str
    properties: tuple[str, ...]
    cccd: int = 0


@dataclass
class GattTable:
    """Services, characteristics and descriptors of one device, by handle."""

    services: list[tuple[int, str, list[Characteristic]]] = field(default_factory=list)
    by_handle: dict[int, Characteristic] = field(default_factory=dict)
    by_cccd: dict[int, Characteristic] = field(default_factory=dict)

    @classmethod
    def of(cls, device: SimDevice) -> GattTable:
        """The table for a device's `gatt` declaration."""
        table = cls()
        handle = 0
        for service_uuid, chars in device.gatt.items():
            handle += 1
            service_handle = handle
            entries = []
            for char_uuid, props in chars.items():
                handle += 1
                char = Characteristic(handle, char_uuid, tuple(props))
                if {"notify", "indicate"} & set(props):
                    handle += 1
                    char.cccd = handle
                    table.by_cccd[handle] = char
                table.by_handle[char.handle] = char
                entries.append(char)
            table.services.append((service_handle, service_uuid, entries))
        return table

    def handle_of(self, uuid: str) -> Characteristic | None:
        """The characteristic with this UUID (the first one, as a device declares it)."""
        return next((c for c in self.by_handle.values() if c.uuid == uuid), None)

    def responses(self, address: int) -> list[BluetoothGATTGetServicesResponse]:
        """One services response per service, as ESPHome sends them."""
        out = []
        for service_handle, service_uuid, chars in self.services:
            service = BluetoothGATTService(handle=service_handle)
            _set_uuid(service, service_uuid)
            for char in chars:
                pb = BluetoothGATTCharacteristic(
                    handle=char.handle,
                    properties=sum(PROPERTY_BITS.get(p, 0) for p in char.properties),
                )
                _set_uuid(pb, char.uuid)
                if char.cccd:
                    pb.descriptors.append(BluetoothGATTDescriptor(handle=char.cccd,
                                                                  short_uuid=CCCD))
                service.characteristics.append(pb)
            out.append(BluetoothGATTGetServicesResponse(address=address, services=[service]))
        return out


def _set_uuid(pb: BluetoothGATTService | BluetoothGATTCharacteristic, uuid: str) -> None:
    if (short := short_uuid(uuid)) is not None:
        pb.short_uuid = short
    else:
        pb.uuid.extend(split_uuid(uuid))
