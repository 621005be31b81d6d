"""ConnectionManager: the intelligent connection cache shared by every configured device.

One instance per Home Assistant instance. A device is polled over one GATT
link that is kept open and reused between polls, closed after an idle window,
dropped on any error, and shared fairly across the few connection slots of
adapters and Bluetooth proxies.

Invariants (see DESIGN.md, "ConnectionManager contract"):
- one operation per device at a time (per-address lock); no lock ever spans
  several devices, so a slow connect to one device never delays another;
- every client that leaves the cache is `await`ed `disconnect()` (bounded by
  DISCONNECT_TIMEOUT), on every path: errors, disconnect callbacks, idle
  expiry, eviction, unload and Home Assistant stop;
- before connecting through a source without a free slot, our own idle link
  on that source whose device polls again last is evicted;
- a device that no connectable adapter or proxy hears right now fails at
  once as "not found" (its next advertisement triggers the next read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import bleak
from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError
from bleak_retry_connector import (
    BleakNotFoundError,
    BleakOutOfConnectionSlotsError,
    establish_connection,
)
from habluetooth import (
    HaBluetoothSlotAllocations,
    HaScannerRegistration,
    HaScannerRegistrationEvent,
    get_manager,
)
from homeassistant.components import bluetooth
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback

from .dbus_monitor import release_client_bus
from .protocol import Driver, FrameError, Sample

_LOGGER = logging.getLogger(__name__)

DISCONNECT_TIMEOUT = 5.0
SLOT_WAIT_TIMEOUT = 30.0
CONNECT_ATTEMPTS = 3
MAX_KEPT_FRAMES = 16
CONTENDED_FOR = 600.0  # s a source counts as contended after we evicted a link there
PATH_CHECK_EVERY = 1.0  # s between checks for a path to unreachable devices ...
PATH_CHECK_WINDOW = 60.0  # ... for this long after an adapter or proxy (re)appears
# Failure kinds, also the translation keys of the coordinator's errors.
NOT_FOUND = "device_not_found"
NO_SLOT = "no_free_slot"
CONNECT_FAILED = "connect_failed"
TIMEOUT = "response_timeout"
MALFORMED = "malformed_response"
LINK_LOST = "link_lost"


def _allocations(source: str | None = None) -> list[HaBluetoothSlotAllocations]:
    """Slot allocations that adapters and proxies report to HA's bluetooth manager."""
    return get_manager().async_current_allocations(source) or []


def _next_use(link: Link) -> float:
    """When the link's device will poll again (infinity when it does not poll)."""
    return link.last_use + link.interval if link.interval is not None else float("inf")


class LinkError(Exception):
    """A poll failed; `kind` says why (one of the failure kinds above)."""

    kind: str = CONNECT_FAILED

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


@dataclass(slots=True)
class DeviceStats:
    """Counters of one device's links."""

    connects: int = 0
    reuses: int = 0
    disconnects: int = 0
    evictions: int = 0
    slot_waits: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    last_connect_seconds: float | None = None
    source: str | None = None
    connect_times: list[float] = field(default_factory=list)  # monotonic, last hour
    last_frames: list[str] = field(default_factory=list)  # hex, newest poll

    def note_connect(self, now: float) -> None:
        """Count a connect and keep the last hour's connect times (churn detection)."""
        self.connects += 1
        self.connect_times = [t for t in self.connect_times if now - t < 3600] + [now]

    def as_dict(self) -> dict[str, Any]:
        """Plain-data copy for diagnostics."""
        return {
            "connects": self.connects,
            "reuses": self.reuses,
            "disconnects": self.disconnects,
            "evictions": self.evictions,
            "slot_waits": self.slot_waits,
            "failures": dict(self.failures),
            "last_error": self.last_error,
            "last_connect_seconds": self.last_connect_seconds,
            "connects_last_hour": len(self.connect_times),
            "source": self.source,
            "last_frames": list(self.last_frames),
        }


class Link:
    """One connected GATT client and the driver that speaks its protocol."""

    def __init__(self, address: str, client: BleakClient, driver: Driver) -> None:
        self.address = address
        self.client = client
        self.driver = driver
        self.source: str | None = None
        self.last_use = time.monotonic()
        self.interval: float | None = None  # the device's update interval, if it polls
        self.in_use = False
        self.lost = False
        self._subscribed = False
        self._notifications: list[bytes] = []
        self._arrived = asyncio.Event()
        self.received: list[bytes] = []  # notifications of the latest poll, for diagnostics

    @property
    def connected(self) -> bool:
        """Whether the client still reports a live link."""
        return not self.lost and self.client.is_connected

    def _on_notify(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._notifications.append(bytes(data))
        self._arrived.set()

    async def _ensure_subscribed(self) -> None:
        if self._subscribed or self.driver.notify_uuid is None:
            return
        await self.client.start_notify(self.driver.notify_uuid, self._on_notify)
        self._subscribed = True

    async def poll(self) -> Sample:
        """Run one poll of the driver's requests and decode the response."""
        driver = self.driver
        if driver.read_uuid is not None:
            try:
                async with asyncio.timeout(driver.response_timeout):
                    data = bytes(await self.client.read_gatt_char(driver.read_uuid))
            except TimeoutError:
                raise LinkError(
                    f"no answer to a read within {driver.response_timeout:.0f} s", kind=TIMEOUT
                ) from None
            self.received = [data]
            return driver.decode([data])
        await self._ensure_subscribed()
        self._notifications.clear()  # stale stream data from between polls
        self.received = self._notifications
        requests: Sequence[bytes | None] = driver.requests() or [None]
        for request in requests:
            start = len(self._notifications)
            if request is not None:
                assert driver.write_uuid is not None
                await self.client.write_gatt_char(
                    driver.write_uuid, request, response=driver.write_with_response
                )
            await self._wait_for_response(request, start)
        return driver.decode(self.received, live=True)

    async def _wait_for_response(self, request: bytes | None, start: int) -> None:
        driver = self.driver
        try:
            async with asyncio.timeout(driver.response_timeout):
                while not driver.response_complete(request, self._notifications[start:]):
                    if self.lost:
                        raise LinkError("link lost while waiting for a response", kind=LINK_LOST)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            what = f"request {request.hex()}" if request else "streamed data"
            raise LinkError(
                f"no complete response to {what} within {driver.response_timeout:.0f} s",
                kind=TIMEOUT,
            ) from None


class ConnectionManager:
    """The cache of live links, one per device address, shared by all config entries."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self._links: dict[str, Link] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._idle_timers: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # address -> sources it may connect through, while our connect is in flight
        self._connecting: dict[str, list[str]] = {}
        self._slot_freed = asyncio.Event()
        # source -> until when it counts as contended (we had to evict there for our own)
        self._contended: dict[str, float] = {}
        self.stats: dict[str, DeviceStats] = {}
        self.peak_open = 0
        self.failed_disconnects = 0
        self._stopping = False
        self._unsub_stop: CALLBACK_TYPE | None = hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._async_on_stop
        )
        # Slots freed by anyone (other integrations, a proxy coming back) wake our waiters.
        self._unsub_allocations: CALLBACK_TYPE | None = (
            get_manager().async_register_allocation_callback(self._on_allocations)
        )
        # Devices that no adapter or proxy reached, and whom to tell when one does.
        self._path_waiters: dict[str, CALLBACK_TYPE] = {}
        self._path_check: asyncio.TimerHandle | None = None
        self._path_check_until = 0.0
        self._unsub_scanners: CALLBACK_TYPE | None = (
            get_manager().async_register_scanner_registration_callback(
                self._on_scanner_registration, None
            )
        )

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
        self, address: str, driver: Driver, *, keep_alive: float, interval: float | None = None
    ) -> AsyncIterator[Link]:
        """A connected link to the device, reused when cached; one operation at a time.

        Any exception inside the block drops the link (awaiting its disconnect).
        With keep_alive == 0 the link is closed when the block ends. `interval`
        (seconds until the device's next poll) guides which idle link to evict.
        """
        if self._stopping:
            raise LinkError("Home Assistant is stopping", kind=CONNECT_FAILED)
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            self._cancel_idle_timer(address)
            link = self._links.get(address)
            stats = self.device_stats(address)
            if link is not None and (not link.connected or link.driver is not driver):
                await self._drop(address, "stale link")
                link = None
            if link is None:
                link = await self._connect(address, driver)
            else:
                stats.reuses += 1
            link.in_use = True
            link.interval = interval
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

    async def poll(
        self, address: str, driver: Driver, *, keep_alive: float, interval: float | None = None
    ) -> Sample:
        """Connect or reuse, run one poll, and translate every failure into LinkError."""
        stats = self.device_stats(address)
        try:
            async with self.session(
                address, driver, keep_alive=keep_alive, interval=interval
            ) as link:
                try:
                    sample = await link.poll()
                    stats.last_frames = [f.hex() for f in link.received[-MAX_KEPT_FRAMES:]]
                    return sample
                except FrameError as err:
                    stats.last_frames = [f.hex() for f in link.received[-MAX_KEPT_FRAMES:]]
                    raise LinkError(str(err), kind=MALFORMED) from err
                except (BleakError, EOFError, BrokenPipeError) as err:
                    raise LinkError(
                        f"link lost during poll: {err or type(err).__name__}", kind=LINK_LOST
                    ) from err
                except TimeoutError as err:
                    raise LinkError("GATT operation timed out", kind=TIMEOUT) from err
        except LinkError as err:
            stats.failures[err.kind] += 1
            stats.last_error = f"{err.kind}: {err}"
            raise

    async def release(self, address: str) -> None:
        """Close the device's link now (unload, options change, 'release' button)."""
        lock = self._locks.setdefault(address, asyncio.Lock())
        async with lock:
            self._cancel_idle_timer(address)
            await self._drop(address, "released")

    @callback
    def async_call_when_reachable(self, address: str, action: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `action` once an adapter or proxy that came (back) online hears the device.

        A proxy that restarts brings back the same advertisements HA already has, so
        HA's advertisement callbacks stay silent: after a scanner registers, the
        devices waiting here are looked up on every scanner once a second for a minute.
        Returns a callback that cancels the wait.
        """
        self._path_waiters[address] = action

        @callback
        def cancel() -> None:
            if self._path_waiters.get(address) is action:
                del self._path_waiters[address]

        return cancel

    @callback
    def _on_scanner_registration(self, registration: HaScannerRegistration) -> None:
        if registration.event is HaScannerRegistrationEvent.REMOVED:
            self._slot_freed.set()  # slot waiters re-check which sources are left
        if registration.event is not HaScannerRegistrationEvent.ADDED or self._stopping:
            return
        self._path_check_until = self.hass.loop.time() + PATH_CHECK_WINDOW
        if self._path_check is None:
            self._path_check = self.hass.loop.call_later(PATH_CHECK_EVERY, self._check_paths)

    @callback
    def _check_paths(self) -> None:
        self._path_check = None
        for address, action in list(self._path_waiters.items()):
            if self._candidate_sources(address):
                del self._path_waiters[address]
                action()
        if self._path_waiters and self.hass.loop.time() < self._path_check_until:
            self._path_check = self.hass.loop.call_later(PATH_CHECK_EVERY, self._check_paths)

    @callback
    def _on_allocations(self, _allocations: HaBluetoothSlotAllocations) -> None:
        self._slot_freed.set()

    async def async_shutdown(self) -> None:
        """Close every link and wait for every pending disconnect (HA stop)."""
        self._stopping = True
        for unsub in (self._unsub_allocations, self._unsub_scanners):
            if unsub is not None:
                unsub()
        self._unsub_allocations = self._unsub_scanners = None
        if self._path_check is not None:
            self._path_check.cancel()
            self._path_check = None
        self._path_waiters.clear()
        if self._unsub_stop is not None:
            self._unsub_stop()
            self._unsub_stop = None
        for address in list(self._idle_timers):
            self._cancel_idle_timer(address)
        await asyncio.gather(
            *(self._drop(address, "shutdown") for address in list(self._links)),
            return_exceptions=True,
        )
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

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
            raise self._connect_error(address, err) from err
        finally:
            self._connecting.pop(address, None)
            self._slot_freed.set()
        link = Link(address, client, driver)
        link_ref.append(link)
        link.source = self._source_of(address)
        stats.note_connect(time.monotonic())
        stats.source = link.source
        stats.last_connect_seconds = round(time.monotonic() - started, 3)
        self._links[address] = link
        self.peak_open = max(self.peak_open, len(self._links))
        if not client.is_connected:  # dropped between connect and caching
            self._on_link_lost(link)
            raise LinkError("link dropped right after connecting", kind=LINK_LOST)
        return link

    def _connect_error(self, address: str, err: BaseException) -> BaseException:
        if isinstance(err, LinkError | asyncio.CancelledError) or not isinstance(err, Exception):
            return err
        if isinstance(err, BleakOutOfConnectionSlotsError):
            return LinkError(f"no free connection slot to reach {address}", kind=NO_SLOT)
        if isinstance(err, BleakNotFoundError):
            return LinkError(f"{address} was not found: {err}", kind=NOT_FOUND)
        if isinstance(err, TimeoutError):
            return LinkError(f"connecting to {address} timed out", kind=TIMEOUT)
        return LinkError(f"could not connect to {address}: {err}", kind=CONNECT_FAILED)

    def _source_of(self, address: str) -> str | None:
        """The adapter or proxy whose slot the device's link occupies, if reported."""
        for alloc in _allocations():
            if address in alloc.allocated:
                return alloc.source
        return None

    # --- slot budget ----------------------------------------------------------------

    def _reachable_sources(self, address: str) -> list[str]:
        """The registered adapters and proxies that hear the device; NOT_FOUND if none.

        HA keeps a device's last advertisement for minutes after the adapter or proxy
        that heard it went away; connecting then only runs into bleak-retry-connector's
        out-of-slot backoff (36 s) and reports the wrong cause. Fail at once instead:
        the device's next advertisement, or the return of its proxy, triggers a new read.
        """
        if not (sources := self._candidate_sources(address)):
            raise LinkError(
                f"{address} is not in range of any connectable adapter or proxy right now",
                kind=NOT_FOUND,
            )
        return sources

    def _candidate_sources(self, address: str) -> list[str]:
        return [
            d.scanner.source
            for d in bluetooth.async_scanner_devices_by_address(self.hass, address, True)
        ]

    def _has_free_slot(self, sources: list[str], *, count_connecting: bool = True) -> bool:
        """Whether any source that reaches the device may have a free slot.

        Our own connects still in flight count as taken (their slots are not
        reported yet) unless `count_connecting` is False.
        """
        for source in sources:
            allocs = _allocations(source)
            if not allocs or allocs[0].slots <= 0:
                return True  # unknown limits count as free; the connect will tell
            pending = (
                sum(source in srcs for srcs in self._connecting.values())
                if count_connecting else 0
            )
            if allocs[0].free - pending > 0:
                return True
        return False

    async def _make_room(self, address: str, sources: list[str]) -> None:
        """Evict one of our idle links (or wait for one) when no reachable source has a slot.

        Raises NOT_FOUND when every source that reached the device went away meanwhile.
        """
        stats = self.device_stats(address)
        deadline = time.monotonic() + SLOT_WAIT_TIMEOUT
        waited = False
        while not self._has_free_slot(sources):
            victim = self._eviction_candidate(sources)
            if victim is not None:
                if victim.source is not None:
                    self._contended[victim.source] = time.monotonic() + CONTENDED_FOR
                self.device_stats(victim.address).evictions += 1
                _LOGGER.debug("%s: evicting idle link %s to free a slot", address, victim.address)
                await self._drop(victim.address, f"evicted for {address}")
                continue
            if not self._holds_slot_on(sources) or time.monotonic() >= deadline:
                return  # the connect attempt reports the slot error
            if not waited:
                stats.slot_waits += 1
                waited = True
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await self._slot_freed.wait()
            # A proxy that went away while we waited is no candidate any more.
            sources = self._reachable_sources(address)

    def _contention_victim(self, just_used: Link) -> Link | None:
        """On a source where our devices outnumber the slots, the link to close now.

        There the links rotate anyway: an idle link is evicted before its device
        polls again. Closing one as soon as the source is full, instead of at our next
        connect, costs no extra connect and no data age, makes that connect faster (no
        eviction in its way) and leaves a slot free for other integrations' devices.
        The link just used is a candidate too (its device polls again last, usually).
        """
        source = just_used.source
        if source is None:
            return None
        if self._contended.get(source, 0.0) < time.monotonic():
            self._contended.pop(source, None)
            return None
        # What the source reports: a connect of ours in flight is not ours to make room for.
        if self._has_free_slot([source], count_connecting=False):
            return None
        idle = self._eviction_candidate([source])
        if idle is None or _next_use(just_used) >= _next_use(idle):
            return just_used
        return idle

    def _holds_slot_on(self, sources: list[str]) -> bool:
        """Whether one of our links or connects occupies a slot we could wait for."""
        return any(link.source in sources for link in self._links.values()) or any(
            set(srcs) & set(sources) for srcs in self._connecting.values()
        )

    def _eviction_candidate(self, sources: list[str]) -> Link | None:
        """The idle link on these sources whose device polls again last.

        Not least-recently-used: devices poll in a cycle, so the LRU link is the
        one needed next, and LRU would evict every link just before its reuse.
        Evicting the link whose next poll is furthest away (Belady's rule; the
        next poll is last use + update interval) keeps the others warm. Links
        without a known interval are evicted first.
        """
        idle = [
            link for link in self._links.values()
            if link.source in sources and not link.in_use
            and not self._locks.get(link.address, asyncio.Lock()).locked()
        ]
        return max(idle, key=_next_use, default=None)

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
        link.lost = True
        link._arrived.set()  # wake a poll waiting for notifications
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
        await self._disconnect_client(address, link.client)
        self._slot_freed.set()

    async def _disconnect_client(self, address: str, client: BleakClient) -> None:
        try:
            async with asyncio.timeout(DISCONNECT_TIMEOUT):
                await client.disconnect()
        except asyncio.CancelledError:
            release_client_bus(client)
            raise
        except Exception as err:
            self.failed_disconnects += 1
            _LOGGER.warning("%s: disconnect failed: %s", address, err or type(err).__name__)
            # bleak's BlueZ backend raises out of disconnect() before closing its
            # D-Bus connection: close it here, or it leaks one of the 256.
            release_client_bus(client)

    async def _async_on_stop(self, _event: Event) -> None:
        self._unsub_stop = None
        await self.async_shutdown()
