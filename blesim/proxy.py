"""A virtual Bluetooth proxy: a habluetooth remote scanner plus a bleak client backend.

The scanner is registered through Home Assistant's bluetooth API with a number
of connection slots, like an ESPHome Bluetooth proxy, and advertises its
simulated devices periodically with a per-proxy RSSI; connections go through
habluetooth's client wrapper (which routes to the best proxy with a free slot)
and bleak-retry-connector unchanged, and reach the simulated devices
in-process (the backend is `client.VirtualClient`). Every client opened and
closed is counted, per proxy and device.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from bleak_retry_connector.bluez import Allocations
from bluetooth_data_tools import monotonic_time_coarse
from habluetooth import BaseHaRemoteScanner, HaBluetoothConnector, get_manager

from .client import GATT_TIMEOUT, VirtualClient
from .devices import SimDevice

__all__ = ["GATT_TIMEOUT", "Latency", "ProxyFaults", "VirtualClient", "VirtualProxy"]

_proxy_ids = itertools.count(1)
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
                 advertise_every: float = 5.0, pairing: bool = True) -> None:
        n = next(_proxy_ids)
        self.hass = hass
        self.name = name or f"blesim-proxy-{n}"
        self.source = source or f"B1:E5:11:00:00:{n:02X}"
        self.slots = slots
        self.latency = latency or Latency()
        self.advertise_every = advertise_every
        self.pairing = pairing  # False: its backend raises NotImplementedError from pair()
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
