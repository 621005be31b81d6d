"""A virtual Bluetooth proxy: a habluetooth remote scanner plus a bleak client backend.

The scanner is registered through Home Assistant's bluetooth API with a number
of connection slots, like an ESPHome Bluetooth proxy, and advertises its
simulated devices periodically with a per-proxy RSSI; connections go through
habluetooth's client wrapper (which routes to the best proxy with a free slot)
and bleak-retry-connector unchanged, and reach the simulated devices
in-process. Every client opened and closed is counted, per proxy and device.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, fields
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
GATT_TIMEOUT = 30.0  # seconds an ESPHome proxy waits for a GATT read
# How often a proxy notices that a connected device went out of range: a link
# without radio contact ends at its supervision timeout (a few seconds in BLE).
SUPERVISION_CHECK = 1.0


@dataclass
class Latency:
    """Radio timings in seconds, all divided by `speed` (0 in unit tests).

    Every request costs one `round_trip`: a read, a write with response, and a
    write without response until the first notification of its answer arrives.
    `stream_period` overrides how often streaming devices push (None: the
    device's own period); `chunk_interval` spaces the notifications of one
    frame like a BLE connection interval does.
    """

    connect: float = 1.5
    round_trip: float = 0.06
    speed: float = 1.0
    stream_period: float | None = None
    chunk_interval: float = 0.0

    @classmethod
    def instant(cls) -> Latency:
        """No latency; streaming devices push every 20 ms."""
        return cls(connect=0.0, round_trip=0.0, stream_period=0.02)

    @classmethod
    def accelerated(cls, speed: float) -> Latency:
        """Realistic timings played `speed` times faster (soak runs)."""
        return cls(speed=speed)

    def scaled(self, seconds: float) -> float:
        """A duration after the speed factor."""
        return seconds / self.speed if self.speed > 0 else 0.0


@dataclass
class ProxyFaults:
    """Faults of a whole proxy (see also VirtualProxy.stop/restart/hold_slots)."""

    refuse_connect: bool = False  # every connect through this proxy fails
    connect_delay: float = 0.0  # extra seconds for every connect through this proxy

    def clear(self) -> None:
        """Switch every fault off."""
        for f in fields(self):
            setattr(self, f.name, f.default)


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
        self.online = False
        self.faults = ProxyFaults()
        self.foreign_slots = 0  # slots held by connections of other integrations
        # accounting
        self.opened = 0
        self.closed = 0
        self.peak = 0
        self.slot_violations = 0
        self.rejected_no_slot = 0
        self.dropped = 0  # links ended by the device or the proxy (not by their owner)
        self.restarts = 0
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
        self._supervision_timer: asyncio.TimerHandle | None = None
        self._restart_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<VirtualProxy {self.name} {self.source} {len(self.links)}/{self.slots} links>"

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Register the scanner with Home Assistant and start advertising the devices."""
        from homeassistant.components import bluetooth

        if self.online:
            return
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
        self.online = True
        self.report_allocations()
        self.advertise()
        self._supervise()

    def stop(self) -> None:
        """Go offline: drop every link (owners must still disconnect) and unregister."""
        if self._restart_timer is not None:
            self._restart_timer.cancel()
            self._restart_timer = None
        if self._adv_timer is not None:
            self._adv_timer.cancel()
            self._adv_timer = None
        if self._supervision_timer is not None:
            self._supervision_timer.cancel()
            self._supervision_timer = None
        self.online = False
        for client in list(self.links.values()):
            client.peripheral_dropped()
        if self._unregister is not None:
            self._unregister()
            self._unregister = None
        self.scanner = None

    def restart(self, after: float = 0.0) -> None:
        """Reboot: go offline now and come back after `after` seconds (0: at once)."""
        self.stop()
        self.restarts += 1
        if after <= 0:
            self.start()
        else:
            self._restart_timer = self.hass.loop.call_later(after, self._come_back)

    def _come_back(self) -> None:
        self._restart_timer = None
        self.start()

    def add(self, device: SimDevice, rssi: int | None = None) -> SimDevice:
        """Put a device in range of this proxy (at `rssi`, default the device's own)."""
        self.devices[device.address] = device
        self.rssi[device.address] = rssi if rssi is not None else device.rssi
        if self.scanner is not None:
            self._advertise_one(device)
        return device

    def remove(self, device: SimDevice) -> None:
        """Take a device out of this proxy's range (its link, if any, drops)."""
        self.devices.pop(device.address, None)
        if (client := self.links.get(device.address)) is not None:
            client.peripheral_dropped()

    def drop_unreachable(self) -> int:
        """End the links of devices that are out of range (their owners must still
        disconnect); returns how many ended."""
        gone = [
            client for address, client in list(self.links.items())
            if (device := self.devices.get(address)) is None or device.faults.out_of_range
        ]
        for client in gone:
            client.peripheral_dropped()
        return len(gone)

    def _supervise(self) -> None:
        self._supervision_timer = None
        self.drop_unreachable()
        if self.online:
            period = self.latency.scaled(SUPERVISION_CHECK) or SUPERVISION_CHECK
            self._supervision_timer = self.hass.loop.call_later(period, self._supervise)

    def set_rssi(self, device: SimDevice, rssi: int) -> None:
        """Change the signal strength this proxy hears a device with, and advertise it."""
        self.rssi[device.address] = rssi
        self._advertise_one(device)

    def advertise(self) -> None:
        """Send one advertisement of every device in range, then repeat periodically."""
        self._adv_timer = None
        for device in list(self.devices.values()):
            self._advertise_one(device)
        if self.advertise_every > 0 and self.online:
            self._adv_timer = self.hass.loop.call_later(self.advertise_every, self.advertise)

    def _advertise_one(self, device: SimDevice) -> None:
        if self.scanner is None or device.faults.out_of_range:
            return
        adv = device.advertisement()
        self.scanner._async_on_advertisement(
            device.address,
            self.rssi.get(device.address, device.rssi),
            adv["local_name"],
            list(adv["service_uuids"]),
            dict(adv["service_data"]),
            dict(adv["manufacturer_data"]),
            None,
            {"source": self.source},
            monotonic_time_coarse(),
        )

    # --- slots ------------------------------------------------------------------------

    def hold_slots(self, count: int) -> None:
        """Let `count` connections of other integrations occupy slots (0 frees them)."""
        self.foreign_slots = count
        self.report_allocations()

    def in_use(self) -> int:
        """Slots taken: our links, connects in flight and foreign connections."""
        return len(self.links) + self.connecting + self.foreign_slots

    def can_connect(self) -> bool:
        """Whether a connect through this proxy may start now."""
        return self.online and self.in_use() < self.slots

    def allocations(self) -> Allocations:
        """Slot allocations, as ESPHome proxies report them."""
        return Allocations(
            adapter=self.source,
            slots=self.slots,
            free=max(0, self.slots - self.in_use()),
            allocated=list(self.links),
        )

    def report_allocations(self) -> None:
        """Tell habluetooth's manager the current allocations."""
        if self.online:
            get_manager().async_on_allocation_changed(self.allocations())

    # --- accounting -------------------------------------------------------------------

    @property
    def leaked(self) -> int:
        """Clients that connected but were never `disconnect()`ed by their owner."""
        return self.opened - self.closed

    def stats(self) -> dict[str, Any]:
        """Counters as plain data (benchmarks, logs)."""
        return {
            "name": self.name, "source": self.source, "slots": self.slots,
            "online": self.online, "opened": self.opened, "closed": self.closed,
            "leaked": self.leaked, "peak": self.peak, "links": len(self.links),
            "slot_violations": self.slot_violations, "rejected_no_slot": self.rejected_no_slot,
            "dropped": self.dropped, "restarts": self.restarts,
            "opened_by_device": dict(self.opened_by_device),
            "closed_by_device": dict(self.closed_by_device),
        }


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
        return None

    async def unpair(self) -> None:
        return None

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
