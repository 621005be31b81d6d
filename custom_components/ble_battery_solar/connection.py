"""ConnectionManager: the intelligent connection cache shared by every configured device.

One instance per Home Assistant instance (shared by every config entry: slots
are a shared resource, so fairness and eviction need one owner). A device is
polled over one GATT link (link.py) that is kept open and reused between
polls, closed after an idle window, dropped on any error, and shared fairly
across the few connection slots of adapters and Bluetooth proxies (slots.py).

Contract:
- `async with manager.session(address, driver, keep_alive=..., interval=...) as link`
  gives a connected Link, reusing the cached client while it is alive (also one a
  driver of the same family and variant left, such as the setup's probe); `poll()`
  (polling.py) runs one poll through it, recovers from one-off faults within the
  poll and turns every failure into LinkError (kind = why); `abort()` cancels a
  connect in flight (unload).
- One operation per device at a time (per-address lock); no lock ever spans
  several devices, so a slow connect to one device never delays another.
- Idle window per device (`keep_alive` seconds after a poll; 0 = connect per
  poll); an expired link is closed at once.
- Every client that leaves the cache is `await`ed `disconnect()` (bounded by
  DISCONNECT_TIMEOUT), on every path: errors, disconnect callbacks, idle
  expiry, eviction, unload and Home Assistant stop. No client is dropped
  unawaited; a client whose connect failed half-way is disconnected too.
- Before connecting through a source without a free slot, our own idle link
  on that source whose device polls again last is evicted (slots.py).
- A device that no connectable adapter or proxy hears right now fails at
  once as "not found"; `async_call_when_reachable` tells when one does.
- Counters per device (`device_stats`, DeviceStats) and over all devices
  (`totals()`, `open_links`, `peak_open`, `failed_disconnects`) are what
  diagnostics and the repairs issues read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import bleak
from bleak import BleakClient
from bleak_retry_connector import establish_connection
from homeassistant.components import bluetooth
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback

from . import dbus_monitor
from .link import (
    CONNECT_FAILED,
    LINK_LOST,
    MALFORMED,
    NO_SLOT,
    NOT_FOUND,
    TIMEOUT,
    Link,
    LinkError,
)
from .polling import PollRecovery
from .protocol import Driver
from .slots import SlotPolicy, connect_error
from .stats import DeviceStats

__all__ = [
    "CONNECT_FAILED", "LINK_LOST", "MALFORMED", "NOT_FOUND", "NO_SLOT", "TIMEOUT",
    "ConnectionManager", "DeviceStats", "Link", "LinkError",
]

_LOGGER = logging.getLogger(__name__)


DISCONNECT_TIMEOUT = 5.0
CONNECT_ATTEMPTS = 3


class ConnectionManager(PollRecovery, SlotPolicy):
    """The cache of live links, one per device address, shared by all config entries."""


    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self._links: dict[str, Link] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._idle_timers: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # address -> the task running its connect and poll, to abort on unload
        self._operations: dict[str, asyncio.Task[Any]] = {}
        self.stats: dict[str, DeviceStats] = {}
        self.peak_open = 0
        self.failed_disconnects = 0
        self._stopping = False
        self._unsub_stop: CALLBACK_TYPE | None = hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._async_on_stop
        )
        self._init_slots()
        # address -> who gets what the device streams between polls (live data)
        self._stream_listeners: dict[str, Callable[[bytes], None]] = {}

    # --- public API ---------------------------------------------------------------

    def device_stats(self, address: str) -> DeviceStats:
        """Counters of a device (created on first use)."""
        return self.stats.setdefault(address, DeviceStats())

    @property
    def open_links(self) -> int:
        """Number of cached links."""
        return len(self._links)

    def is_open(self, address: str) -> bool:
        """Whether a link to the device is cached."""
        return address in self._links

    def totals(self) -> dict[str, Any]:
        """Counters over all devices, for diagnostics."""
        total: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for stats in self.stats.values():
            total.update(
                connects=stats.connects, reuses=stats.reuses,
                disconnects=stats.disconnects, evictions=stats.evictions,
                retries=stats.retries, reconnects=stats.reconnects,
                dropped_notifications=stats.dropped_notifications,
            )
            failures.update(stats.failures)
        return {
            **dict(total),
            "failures": dict(failures),
            "open_links": self.open_links,
            "peak_open_links": self.peak_open,
            "failed_disconnects": self.failed_disconnects,
        }

    @contextlib.asynccontextmanager
    async def session(
        self, address: str, driver: Driver, *, keep_alive: float, interval: float | None = None,
        pair: bool = False,
    ) -> AsyncIterator[Link]:
        """A connected link to the device, reused when cached; one operation at a time.

        Any exception inside the block drops the link (awaiting its disconnect).
        With keep_alive == 0 the link is closed when the block ends. `interval`
        (seconds until the device's next poll) guides which idle link to evict.
        `pair`: pair when the device refuses an unbonded central (link.py).
        """
        if self._stopping:
            raise LinkError("Home Assistant is stopping", kind=CONNECT_FAILED)
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            self._cancel_idle_timer(address)
            link = self._links.get(address)
            stats = self.device_stats(address)
            if link is not None and link.connected and type(link.driver) is type(driver) and (
                link.driver.variant == driver.variant
            ):
                link.driver = driver  # the same protocol: e.g. the setup's probe link, adopted
            elif link is not None:
                await self._drop(address, "stale link")
                link = None
            # The connect and the operation can be aborted (unload); closing cannot.
            if (task := asyncio.current_task()) is not None:
                self._operations[address] = task
            try:
                if link is None:
                    link = await self._connect(address, driver)
                else:
                    stats.reuses += 1
                link.in_use = True
                link.interval = interval
                link.may_pair = pair
                try:
                    yield link
                except BaseException as err:
                    kind = err.kind if isinstance(err, LinkError) else type(err).__name__
                    await self._drop(address, f"error during operation: {kind}")
                    raise
                finally:
                    link.in_use = False
                    link.last_use = time.monotonic()
                    self._slot_freed.set()
            finally:
                self._operations.pop(address, None)
            if keep_alive <= 0 or self._stopping:
                await self._drop(address, "released after poll")
            elif self._links.get(address) is link:
                victim = self._contention_victim(link)
                if victim is not None:
                    self.device_stats(victim.address).evictions += 1
                if victim is link:
                    await self._drop(address, "closed after its poll: contended source")
                    return
                self._idle_timers[address] = self.hass.loop.call_later(
                    keep_alive, self._idle_expired, address, link
                )
                if victim is not None:
                    self._spawn_close(victim.address, "freeing a slot on a contended source")

    def set_stream_listener(self, address: str, listener: Callable[[bytes], None] | None) -> None:
        """Give what the device pushes between polls to `listener` (None: drop it again).

        Applies to the cached link and to every later link of the device; no connect.
        """
        if listener is None:
            self._stream_listeners.pop(address, None)
        else:
            self._stream_listeners[address] = listener
        if (link := self._links.get(address)) is not None:
            link.stream_listener = listener

    async def abort(self, address: str) -> None:
        """Cancel the device's connect or poll in flight at once, then close its link (unload).

        The cancelled operation still awaits the disconnect of any client it created.
        """
        task = self._operations.get(address)
        if task is not None and task is not asyncio.current_task() and not task.done():
            _LOGGER.debug("%s: cancelling the operation in flight", address)
            task.cancel(f"{address}: unloading")
        await self.release(address)

    async def release(self, address: str) -> None:
        """Close the device's link now (unload, options change, 'release' button)."""
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            self._cancel_idle_timer(address)
            await self._drop(address, "released")

    async def async_shutdown(self) -> None:
        """Close every link, wait for every pending disconnect and unregister every callback
        (HA stop, or the last configured device unloaded)."""
        self._stopping = True
        self._stop_slots()
        if self._unsub_stop is not None:
            self._unsub_stop()
            self._unsub_stop = None
        for address in list(self._idle_timers):
            self._cancel_idle_timer(address)
        await asyncio.gather(
            *(self._drop(address, "shutdown") for address in list(self._links)),
            return_exceptions=True,
        )
        # wait for every disconnect still running (a finished one may still sit in the set
        # until its done callback runs: never spin on those)
        while pending := [task for task in self._closing if not task.done()]:
            await asyncio.wait(pending)
        self._closing.clear()

    # --- connecting -----------------------------------------------------------------

    async def _connect(self, address: str, driver: Driver) -> Link:
        stats = self.device_stats(address)
        ble_device = bluetooth.async_ble_device_from_address(self.hass, address, connectable=True)
        if ble_device is None:
            raise LinkError(
                f"{address} is not in range of any connectable adapter or proxy", kind=NOT_FOUND
            )
        sources = self._reachable_sources(address)
        await self._make_room(address, sources)
        created: list[BleakClient] = []

        def client_factory(*args: Any, **kwargs: Any) -> BleakClient:
            # Looked up at call time: HA swaps in habluetooth's wrapper, which
            # routes through the best adapter or proxy with a free slot.
            client = bleak.BleakClient(*args, **kwargs)
            created.append(client)
            return client

        link_ref: list[Link] = []

        def on_disconnect(_client: BleakClient) -> None:
            if link_ref:
                self._on_link_lost(link_ref[0])

        started = time.monotonic()
        self._connecting[address] = sources
        try:
            client: BleakClient = await establish_connection(
                client_factory,  # type: ignore[arg-type]
                ble_device,
                address,
                disconnected_callback=on_disconnect,
                max_attempts=CONNECT_ATTEMPTS,
                ble_device_callback=lambda: (
                    bluetooth.async_ble_device_from_address(self.hass, address, connectable=True)
                    or ble_device
                ),
            )
        except BaseException as err:
            # The client establish_connection made is not returned on failure:
            # release it anyway, its backend may hold a bus connection or a slot.
            for orphan in created:
                await self._disconnect_client(address, orphan)
            raise connect_error(address, err) from err
        finally:
            self._connecting.pop(address, None)
            self._slot_freed.set()
        link = Link(address, client, driver, stats)
        link.stream_listener = self._stream_listeners.get(address)
        link_ref.append(link)
        link.source = self._source_of(address, client)
        stats.note_connect(time.monotonic())
        stats.source = link.source
        stats.last_connect_seconds = round(time.monotonic() - started, 3)
        self._links[address] = link
        self.peak_open = max(self.peak_open, len(self._links))
        if not client.is_connected:  # dropped between connect and caching
            self._on_link_lost(link)
            raise LinkError("link dropped right after connecting", kind=LINK_LOST)
        return link

    # --- closing --------------------------------------------------------------------

    def _cancel_idle_timer(self, address: str) -> None:
        if (timer := self._idle_timers.pop(address, None)) is not None:
            timer.cancel()

    @callback
    def _idle_expired(self, address: str, link: Link) -> None:
        self._idle_timers.pop(address, None)
        if self._links.get(address) is link and not link.in_use:
            self._spawn_close(address, "idle window expired")

    @callback
    def _on_link_lost(self, link: Link) -> None:
        """Disconnect callback: the peripheral or proxy dropped the link."""
        link.mark_lost()  # wakes a poll waiting for notifications
        if self._links.get(link.address) is link and not link.in_use:
            self._cancel_idle_timer(link.address)
            self._spawn_close(link.address, "link lost")
        # In use: the running operation fails and its session drops the link.

    def _spawn_close(self, address: str, reason: str) -> None:
        task = self.hass.async_create_background_task(
            self._drop(address, reason), f"ble_battery_solar close {address}"
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _drop(self, address: str, reason: str) -> None:
        """Remove the device's link from the cache and await its disconnect."""
        link = self._links.pop(address, None)
        if link is None:
            return
        _LOGGER.debug("%s: closing link (%s)", address, reason)
        self.device_stats(address).disconnects += 1
        # Awaited in a task of its own, so it ends even when this close is cancelled.
        disconnect = asyncio.ensure_future(self._disconnect_client(address, link.client, link))
        self._closing.add(disconnect)
        disconnect.add_done_callback(self._closing.discard)
        # Our release is done once the link goes down: bleak-esphome's disconnect() then
        # waits up to 5 s for the proxy to report a free slot, which another client may
        # have taken at once. That rest runs on in the background. A link that was down
        # already waits for the whole disconnect (no request may overtake a reconnect).
        down = None if link.lost else asyncio.ensure_future(link.down.wait())
        self._releasing[address] = link
        try:
            await asyncio.wait(
                [f for f in (disconnect, down) if f is not None],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            if down is not None:
                down.cancel()
            if self._releasing.get(address) is link:
                del self._releasing[address]
        self._slot_freed.set()

    async def _disconnect_client(
        self, address: str, client: BleakClient, link: Link | None = None
    ) -> None:
        try:
            async with asyncio.timeout(DISCONNECT_TIMEOUT):
                await client.disconnect()
        except asyncio.CancelledError:
            dbus_monitor.release_bus_if_needed(client)
            raise
        except Exception as err:
            # bleak 3.0's BlueZ backend raises out of disconnect() before closing its
            # D-Bus connection: close it here, or it leaks one of the 256.
            dbus_monitor.release_bus_if_needed(client)
            text = str(err) or type(err).__name__
            if link is not None and link.lost:
                # Already down (a proxy that lost its API connection freed every slot
                # it held, or our release went through): nothing is left to release.
                _LOGGER.debug("%s: disconnect after the link ended: %s", address, text)
                return
            self.failed_disconnects += 1
            _LOGGER.warning("%s: disconnect failed: %s", address, text)

    async def _async_on_stop(self, _event: Event) -> None:
        self._unsub_stop = None
        await self.async_shutdown()
