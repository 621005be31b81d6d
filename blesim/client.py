"""blesim's bleak backend: a `BaseBleakClient` that talks to the simulated devices.

`VirtualProxy` subclasses it per proxy (its `proxy` class attribute), and
habluetooth's client wrapper connects through it as through any other
backend. It implements bleak 3.x's client API: connect and disconnect,
services, reads, writes, notifications, `mtu_size`, the disconnected callback,
and `pair()`/`unpair()` for devices that require bonding: until the proxy has
bonded with such a device, its characteristics refuse every operation the way
BlueZ reports ATT error 0x05 or 0x0F (``org.bluez.Error.NotPermitted: Not paired``).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any, ClassVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDBusError, BleakError

from .devices import SimDevice

if TYPE_CHECKING:
    from .proxy import VirtualProxy

GATT_TIMEOUT = 30.0  # seconds an ESPHome proxy waits for a GATT read


class VirtualClient(BaseBleakClient):
    """bleak 3.x backend talking to the proxy's simulated devices."""

    proxy: ClassVar[VirtualProxy]

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, **kwargs)
        self._connected = False
        self._opened = False
        self._closed = False
        self._callbacks: dict[str, NotifyCallback] = {}
        self._device: SimDevice | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stream_task: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()

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
        if proxy.in_use() >= proxy.slots:
            proxy.rejected_no_slot += 1
            raise BleakError(f"{proxy.name}: no free connection slot")
        proxy.connecting += 1
        proxy.report_allocations()
        try:
            delay = proxy.latency.scaled(
                proxy.latency.connect + device.faults.connect_delay + proxy.faults.connect_delay
            )
            if delay:
                await asyncio.sleep(delay)
            if not proxy.online:
                raise BleakError(f"{proxy.name} went offline while connecting")
            if device.faults.refuse_connect or proxy.faults.refuse_connect:
                raise BleakError("ESP_GATT_CONN_FAIL_ESTABLISH")
            if device.faults.out_of_range:
                raise BleakError(f"Device with address {self.address} was not found")
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
        device.connects += 1
        device.on_connect()
        if len(proxy.links) + proxy.foreign_slots > proxy.slots:
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
        if self._device is not None and self in self._device.centrals:
            self._device.centrals.discard(self)
            self._device.disconnects += 1
            self._device.on_disconnect()
        self._connected = False
        self._callbacks.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

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
        self.proxy.dropped += 1
        self._release_slot()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (bond) with the device, as BlueZ's Device1.Pair does; raises on failure."""
        proxy = self.proxy
        if not proxy.pairing:
            raise NotImplementedError(f"{proxy.name} cannot pair")
        device = self._require()
        await self._round_trip()
        device = self._require()
        if not device.pair(proxy.source):
            raise BleakDBusError("org.bluez.Error.AuthenticationFailed", ["Authentication Failed"])

    async def unpair(self) -> None:
        """Remove the bond, as BlueZ's RemoveDevice does (which also ends the link)."""
        if not self.proxy.pairing:
            raise NotImplementedError(f"{self.proxy.name} cannot unpair")
        if (device := self.proxy.devices.get(self.address)) is not None:
            device.unpair(self.proxy.source)
        self.peripheral_dropped()

    def _refuse_unless_bonded(self, device: SimDevice) -> None:
        """A device that requires bonding refuses a central without a bond, as BlueZ reports
        ATT errors 0x05 and 0x0F."""
        if device.refusal(self.proxy.source) is not None:
            raise BleakDBusError("org.bluez.Error.NotPermitted", ["Not paired"])

    # --- GATT -------------------------------------------------------------------------

    def _require(self) -> SimDevice:
        if not self._connected or self._device is None:
            raise BleakError("Not connected")
        if self._device.faults.out_of_range:
            self.peripheral_dropped()
            raise BleakError("Disconnected: the device went out of range")
        return self._device

    async def _round_trip(self) -> None:
        if rtt := self.proxy.latency.scaled(self.proxy.latency.round_trip):
            await asyncio.sleep(rtt)

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any
                             ) -> bytearray:
        device = self._require()
        if "read" not in characteristic.properties:
            raise BleakError(f"characteristic {characteristic.uuid} is not readable")
        await self._round_trip()
        self._require()
        self._refuse_unless_bonded(device)
        if device.faults.no_answer:
            # like ESPHome's proxy client: the read request times out on the proxy
            await asyncio.sleep(self.proxy.latency.scaled(GATT_TIMEOUT) or GATT_TIMEOUT)
            raise TimeoutError(f"Timeout waiting for the read of {characteristic.uuid}")
        if device.faults.hang_read:
            await asyncio.Event().wait()  # like a peripheral that never answers the ATT read
        if device.take_drop():
            self.peripheral_dropped()
            raise BleakError("Disconnected during read")
        return bytearray(device.read(characteristic.uuid))

    async def read_gatt_descriptor(self, descriptor: Any, **kwargs: Any) -> bytearray:
        raise BleakError("descriptors are not simulated")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any,
                              response: bool) -> None:
        device = self._require()
        needed = "write" if response else "write-without-response"
        if needed not in characteristic.properties:
            raise BleakError(f"characteristic {characteristic.uuid} does not support {needed}")
        if device.faults.hang_write:
            await asyncio.Event().wait()  # accepted by the radio, never confirmed
        if response:
            await self._round_trip()
            device = self._require()
            self._refuse_unless_bonded(device)
        elif device.refusal(self.proxy.source) is not None:
            return  # a write command gets no response: the device drops it silently
        frames = device.respond(characteristic.uuid, bytes(data))
        if frames:
            self._send(device, frames, delay=not response)

    def _send(self, device: SimDevice, frames: list[bytes], *, delay: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(device, frames, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, device: SimDevice, frames: list[bytes], delay: bool) -> None:
        """Notify the frames in MTU-sized chunks, one frame after the other."""
        latency = self.proxy.latency
        if delay and (rtt := latency.scaled(latency.round_trip)):
            # the request out and the answer's first notification back: one round trip,
            # as a read or a write with response costs
            await asyncio.sleep(rtt)
        size = max(1, device.mtu - 3)
        chunks = [f[i : i + size] for f in frames for i in range(0, len(f), size)]
        drop_at = min(1, len(chunks) - 1) if device.take_drop() else -1
        async with self._send_lock:
            for index, chunk in enumerate(chunks):
                if not self._connected:
                    return
                if index == drop_at or device.faults.out_of_range:
                    self.peripheral_dropped()
                    return
                if (cb := self._callbacks.get(device.notify_uuid or "")) is not None:
                    cb(bytearray(chunk))
                gap = latency.scaled(latency.chunk_interval)
                await asyncio.sleep(gap)

    async def _stream(self, device: SimDevice) -> None:
        """Push the frames a streaming device sends by itself while notifications are on."""
        latency = self.proxy.latency
        period = latency.stream_period or latency.scaled(device.stream_period or 1.0)
        while self._connected:
            if frames := device.stream():
                await self._deliver(device, frames, delay=False)
            await asyncio.sleep(period)

    async def write_gatt_descriptor(self, descriptor: Any, data: Any) -> None:
        raise BleakError("descriptors are not simulated")

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        device = self._require()
        if not {"notify", "indicate"} & set(characteristic.properties):
            raise BleakError(f"characteristic {characteristic.uuid} cannot notify")
        if device.faults.hang_subscribe:
            await asyncio.Event().wait()  # the CCCD write is never confirmed
        self._refuse_unless_bonded(device)  # the CCCD write is refused
        self._callbacks[characteristic.uuid] = callback
        if (device.stream_period is not None and characteristic.uuid == device.notify_uuid
                and self._stream_task is None):
            self._stream_task = asyncio.get_running_loop().create_task(self._stream(device))

    def push(self, frames: list[bytes]) -> int:
        """The device notifies these payloads unasked, at once (a garbage flood); how many
        reached a subscriber."""
        device = self._device
        if not self._connected or device is None:
            return 0
        if (cb := self._callbacks.get(device.notify_uuid or "")) is None:
            return 0
        for frame in frames:
            cb(bytearray(frame))
        return len(frames)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._callbacks.pop(characteristic.uuid, None)
        if self._stream_task is not None and characteristic.uuid == (
            self._device.notify_uuid if self._device else None
        ):
            self._stream_task.cancel()
            self._stream_task = None


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
