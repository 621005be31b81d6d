"""A virtual Bluetooth proxy: a habluetooth remote scanner plus a bleak client backend.

The scanner is registered through Home Assistant's bluetooth API with a number
of connection slots, like an ESPHome Bluetooth proxy; connections go through
habluetooth's client wrapper and bleak-retry-connector unchanged, and reach
simulated devices in-process. Every client opened and closed is counted.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak_retry_connector.bluez import Allocations
from bluetooth_data_tools import monotonic_time_coarse
from habluetooth import BaseHaRemoteScanner, HaBluetoothConnector, get_manager

from .devices import SimDevice

_proxy_ids = itertools.count(1)


@dataclass
class Latency:
    """Radio timings in seconds (0 in unit tests)."""

    connect: float = 1.5
    round_trip: float = 0.06

    @classmethod
    def instant(cls) -> Latency:
        return cls(connect=0.0, round_trip=0.0)


class VirtualScanner(BaseHaRemoteScanner):
    """The proxy's scanner as Home Assistant sees it."""

    proxy: VirtualProxy

    def get_allocations(self) -> Allocations | None:
        return self.proxy.allocations()


class VirtualProxy:
    """An ESPHome-like Bluetooth proxy with `slots` connection slots."""

    def __init__(self, hass: Any, *, name: str | None = None, source: str | None = None,
                 slots: int = 3, latency: Latency | None = None,
                 advertise_every: float = 5.0) -> None:
        n = next(_proxy_ids)
        self.hass = hass
        self.name = name or f"blesim-proxy-{n}"
        self.source = source or f"B1:E5:11:00:00:{n:02X}"
        self.slots = slots
        self.latency = latency or Latency()
        self.advertise_every = advertise_every
        self.devices: dict[str, SimDevice] = {}
        self.rssi: dict[str, int] = {}
        self.online = True
        # accounting
        self.opened = 0
        self.closed = 0
        self.peak = 0
        self.slot_violations = 0
        self.rejected_no_slot = 0
        self.links: dict[str, VirtualClient] = {}  # address -> physically connected client
        self.connecting = 0
        self.opened_by_device: dict[str, int] = {}
        self.closed_by_device: dict[str, int] = {}
        self.client_class: type[VirtualClient] = type(
            f"VirtualClient_{n}", (VirtualClient,), {"proxy": self}
        )
        self.scanner: VirtualScanner | None = None
        self._unregister: Callable[[], None] | None = None
        self._adv_timer: asyncio.TimerHandle | None = None

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Register the scanner with Home Assistant and start advertising the devices."""
        from homeassistant.components import bluetooth

        connector = HaBluetoothConnector(
            client=self.client_class, source=self.source, can_connect=self.can_connect
        )
        scanner = VirtualScanner(self.source, self.name, connector, True)
        scanner.proxy = self
        self.scanner = scanner
        unsetup = scanner.async_setup()
        unregister = bluetooth.async_register_scanner(
            self.hass, scanner, connection_slots=self.slots
        )

        def stop() -> None:
            unregister()
            unsetup()

        self._unregister = stop
        self.report_allocations()
        self.advertise()

    def stop(self) -> None:
        """Go offline: drop every link and unregister the scanner."""
        if self._adv_timer is not None:
            self._adv_timer.cancel()
            self._adv_timer = None
        for client in list(self.links.values()):
            client.peripheral_dropped()
        if self._unregister is not None:
            self._unregister()
            self._unregister = None

    def add(self, device: SimDevice, rssi: int | None = None) -> SimDevice:
        """Put a device in range of this proxy."""
        self.devices[device.address] = device
        self.rssi[device.address] = rssi if rssi is not None else device.rssi
        if self.scanner is not None:
            self._advertise_one(device)
        return device

    def advertise(self) -> None:
        """Send one advertisement of every device in range, then repeat periodically."""
        for device in self.devices.values():
            self._advertise_one(device)
        if self.advertise_every > 0:
            self._adv_timer = self.hass.loop.call_later(self.advertise_every, self.advertise)

    def _advertise_one(self, device: SimDevice) -> None:
        if self.scanner is None or device.faults.out_of_range:
            return
        self.scanner._async_on_advertisement(
            device.address,
            self.rssi.get(device.address, device.rssi),
            device.name,
            list(device.service_uuids),
            {},
            dict(device.manufacturer_data),
            None,
            {"source": self.source},
            monotonic_time_coarse(),
        )

    # --- slots ------------------------------------------------------------------------

    def can_connect(self) -> bool:
        return self.online and len(self.links) + self.connecting < self.slots

    def allocations(self) -> Allocations:
        return Allocations(
            adapter=self.source,
            slots=self.slots,
            free=max(0, self.slots - len(self.links) - self.connecting),
            allocated=list(self.links),
        )

    def report_allocations(self) -> None:
        get_manager().async_on_allocation_changed(self.allocations())

    # --- accounting -------------------------------------------------------------------

    @property
    def leaked(self) -> int:
        """Clients that connected but were never `disconnect()`ed by their owner."""
        return self.opened - self.closed


class VirtualClient(BaseBleakClient):
    """bleak backend talking to the proxy's simulated devices."""

    proxy: ClassVar[VirtualProxy]

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, **kwargs)
        self._connected = False
        self._opened = False
        self._closed = False
        self._callbacks: dict[str, NotifyCallback] = {}
        self._device: SimDevice | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- connection -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._device.name if self._device else self.address

    @property
    def mtu_size(self) -> int:
        return self._device.mtu if self._device else 23

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        proxy = self.proxy
        device = proxy.devices.get(self.address)
        if not proxy.online:
            raise BleakError(f"{proxy.name} is offline")
        if device is None or device.faults.out_of_range:
            raise BleakError(f"Device with address {self.address} was not found")
        if len(proxy.links) + proxy.connecting >= proxy.slots:
            proxy.rejected_no_slot += 1
            raise BleakError(f"{proxy.name}: no free connection slot")
        proxy.connecting += 1
        proxy.report_allocations()
        try:
            delay = proxy.latency.connect + device.faults.connect_delay
            if delay:
                await asyncio.sleep(delay)
            if device.faults.refuse_connect:
                raise BleakError("ESP_GATT_CONN_FAIL_ESTABLISH")
            if device.faults.held_by_phone or device.centrals:
                raise BleakError("ESP_GATT_CONN_FAIL_ESTABLISH (device accepts one central)")
        finally:
            proxy.connecting -= 1
        services = _services(device)
        self._device = device
        self._connected = True
        self._opened = True
        proxy.links[self.address] = self
        device.centrals.add(self)
        if len(proxy.links) > proxy.slots:
            proxy.slot_violations += 1
        proxy.opened += 1
        proxy.opened_by_device[self.address] = proxy.opened_by_device.get(self.address, 0) + 1
        proxy.peak = max(proxy.peak, len(proxy.links))
        self.services = services
        proxy.report_allocations()

    def _release_slot(self) -> None:
        proxy = self.proxy
        if proxy.links.get(self.address) is self:
            del proxy.links[self.address]
            proxy.report_allocations()
        if self._device is not None:
            self._device.centrals.discard(self)
        self._connected = False
        for task in self._tasks:
            task.cancel()

    async def disconnect(self) -> None:
        """Close the link; the owner's side of the accounting (closed += 1) happens once."""
        was_connected = self._connected
        self._release_slot()
        if self._opened and not self._closed:
            self._closed = True
            self.proxy.closed += 1
            self.proxy.closed_by_device[self.address] = (
                self.proxy.closed_by_device.get(self.address, 0) + 1
            )
        if was_connected and self._disconnected_callback is not None:
            self._disconnected_callback()

    def peripheral_dropped(self) -> None:
        """The device or proxy ended the link; the owner must still call disconnect()."""
        if not self._connected:
            return
        self._release_slot()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    # --- GATT -------------------------------------------------------------------------

    def _require(self) -> SimDevice:
        if not self._connected or self._device is None:
            raise BleakError("Not connected")
        return self._device

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any
                             ) -> bytearray:
        device = self._require()
        if self.proxy.latency.round_trip:
            await asyncio.sleep(self.proxy.latency.round_trip)
        self._require()
        if device.faults.no_answer:
            await asyncio.sleep(3600)
        return bytearray(device.on_read(characteristic.uuid))

    async def read_gatt_descriptor(self, descriptor: Any, **kwargs: Any) -> bytearray:
        raise BleakError("descriptors are not simulated")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any,
                              response: bool) -> None:
        device = self._require()
        frames = device.respond(characteristic.uuid, bytes(data))
        if not frames or device.notify_uuid is None:
            return
        chunk = max(1, device.mtu - 3)
        chunks = [f[i : i + chunk] for f in frames for i in range(0, len(f), chunk)]
        task = asyncio.get_running_loop().create_task(self._deliver(device, chunks))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, device: SimDevice, chunks: list[bytes]) -> None:
        rtt = self.proxy.latency.round_trip
        await asyncio.sleep(rtt / 2 if rtt else 0)
        for index, chunk in enumerate(chunks):
            if not self._connected:
                return
            if device.faults.drop_mid_response and index == 1:
                self.peripheral_dropped()
                return
            if (cb := self._callbacks.get(device.notify_uuid or "")) is not None:
                cb(bytearray(chunk))
            await asyncio.sleep(0)

    async def write_gatt_descriptor(self, descriptor: Any, data: Any) -> None:
        raise BleakError("descriptors are not simulated")

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        self._require()
        self._callbacks[characteristic.uuid] = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._callbacks.pop(characteristic.uuid, None)


def _services(device: SimDevice) -> BleakGATTServiceCollection:
    collection = BleakGATTServiceCollection()
    handle = itertools.count(1)
    for service_uuid, chars in device.gatt.items():
        service = BleakGATTService(None, next(handle), service_uuid)
        collection.add_service(service)
        for char_uuid, props in chars.items():
            char = BleakGATTCharacteristic(
                None, next(handle), char_uuid, list(props),  # type: ignore[arg-type]
                lambda: device.mtu - 3, service,
            )
            collection.add_characteristic(char)
    return collection
