"""Slot policy of the connection cache: sources, eviction, contention, path watch.

Adapters and ESPHome proxies have few connection slots, reported to HA's
bluetooth manager. SlotPolicy decides, for the ConnectionManager that mixes
it in, through which sources a device may connect, which of our idle links
to evict when none has a free slot (Belady's rule), when to close a link
early on a contended source, and when a device that no source heard becomes
reachable again. It owns no links: it reads the cache's `_links` and
`_locks` and closes links through the cache's `_drop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from bleak.exc import BleakError
from bleak_retry_connector import BleakNotFoundError, BleakOutOfConnectionSlotsError
from habluetooth import (
    HaBluetoothSlotAllocations,
    HaScannerRegistration,
    HaScannerRegistrationEvent,
    get_manager,
)
from homeassistant.components import bluetooth
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .link import CONNECT_FAILED, NO_SLOT, NOT_FOUND, TIMEOUT, Link, LinkError

if TYPE_CHECKING:
    from .stats import DeviceStats

_LOGGER = logging.getLogger(__name__)

SLOT_WAIT_TIMEOUT = 30.0  # s a connect waits for a slot that one of our links holds
FOREIGN_SLOT_WAIT = 2.0  # s it waits when other clients hold every slot
CONTENDED_FOR = 600.0  # s a source counts as contended after we evicted a link there
PATH_CHECK_EVERY = 1.0  # s between checks for a path to unreachable devices ...
PATH_CHECK_WINDOW = 60.0  # ... for this long after an adapter or proxy (re)appears


def refused_for_lack_of_slot(err: BaseException) -> bool:
    """Whether an ESPHome proxy refused the connect: `connected=False` with no error code.

    The firmware answers a connect so only when it has no free slot: the free count
    Home Assistant routed by was stale (another client took the slot meanwhile).
    bleak-esphome reports it as a bare "Disconnected"; every other failure of a
    connect carries an error code, or comes from elsewhere with its own text.
    """
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, BleakError) and str(cause) == "Disconnected":
            return True
        cause = cause.__cause__
    return False


def connect_error(address: str, err: BaseException) -> BaseException:
    """The LinkError a failed connect is reported as (its kind says why)."""
    if isinstance(err, LinkError | asyncio.CancelledError) or not isinstance(err, Exception):
        return err
    if isinstance(err, BleakOutOfConnectionSlotsError) or refused_for_lack_of_slot(err):
        return LinkError(f"no free connection slot to reach {address}", kind=NO_SLOT)
    if isinstance(err, BleakNotFoundError):
        return LinkError(f"{address} was not found: {err}", kind=NOT_FOUND)
    if isinstance(err, TimeoutError):
        return LinkError(f"connecting to {address} timed out", kind=TIMEOUT)
    return LinkError(f"could not connect to {address}: {err}", kind=CONNECT_FAILED)


def _allocations(source: str | None = None) -> list[HaBluetoothSlotAllocations]:
    """Slot allocations that adapters and proxies report to HA's bluetooth manager."""
    return get_manager().async_current_allocations(source) or []


def _next_use(link: Link) -> float:
    """When the link's device will poll again (infinity when it does not poll)."""
    return link.last_use + link.interval if link.interval is not None else float("inf")


class SlotPolicy:
    """Where a device may connect, what to evict for it, and when it is reachable again."""

    hass: HomeAssistant
    _links: dict[str, Link]
    _locks: dict[str, asyncio.Lock]
    _stopping: bool

    if TYPE_CHECKING:

        def device_stats(self, address: str) -> DeviceStats:
            """Provided by the cache."""

        async def _drop(self, address: str, reason: str) -> None:
            """Provided by the cache."""

    def _init_slots(self) -> None:
        # address -> sources it may connect through, while our connect is in flight
        self._connecting: dict[str, list[str]] = {}
        # address -> our link being closed: its slot comes back in a moment
        self._releasing: dict[str, Link] = {}
        self._slot_freed = asyncio.Event()
        # source -> until when it counts as contended (we had to evict there for our own)
        self._contended: dict[str, float] = {}
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

    def _stop_slots(self) -> None:
        """Unregister the callbacks and stop the path watch."""
        for unsub in (self._unsub_allocations, self._unsub_scanners):
            if unsub is not None:
                unsub()
        self._unsub_allocations = self._unsub_scanners = None
        if self._path_check is not None:
            self._path_check.cancel()
            self._path_check = None
        self._path_waiters.clear()

    # --- path watch -------------------------------------------------------------------

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

    # --- sources --------------------------------------------------------------------

    def _source_of(self, address: str, client: object = None) -> str | None:
        """The adapter or proxy whose slot the device's link occupies.

        From the slot reports; proxies whose firmware reports only free and limit
        (no allocated addresses) are known from the path HA's client wrapper
        connected through instead.
        """
        for alloc in _allocations():
            if address in alloc.allocated:
                return alloc.source
        scanner = getattr(client, "_connected_scanner", None)
        source = getattr(scanner, "source", None)
        return source if isinstance(source, str) else None

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

        Our own connects still in flight count as taken until the source reports
        their slots (a proxy lists a connecting device as allocated as soon as it
        starts; counting it twice would leave a free slot unused) unless
        `count_connecting` is False.
        """
        for source in sources:
            allocs = _allocations(source)
            if not allocs or allocs[0].slots <= 0:
                return True  # unknown limits count as free; the connect will tell
            pending = (
                sum(
                    source in srcs and address not in allocs[0].allocated
                    for address, srcs in self._connecting.items()
                )
                if count_connecting else 0
            )
            if allocs[0].free - pending > 0:
                return True
        return False

    # --- eviction and contention ------------------------------------------------------

    async def _make_room(self, address: str, sources: list[str]) -> None:
        """Evict one of our idle links (or wait for one) when no reachable source has a slot.

        Raises NOT_FOUND when every source that reached the device went away meanwhile,
        NO_SLOT when other clients hold every slot (or ours did not free up in time).
        """
        stats = self.device_stats(address)
        began = self.hass.loop.time()
        try:
            await self._wait_for_room(address, sources, stats)
        finally:
            stats.poll_wait += self.hass.loop.time() - began

    async def _wait_for_room(self, address: str, sources: list[str], stats: DeviceStats) -> None:
        started = time.monotonic()
        deadline = started + SLOT_WAIT_TIMEOUT
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
            if not self._holds_slot_on(sources):
                # Other clients hold every slot. Connecting would only sit out
                # bleak-retry-connector's out-of-slot backoff (36 s) and fail the same
                # way: wait briefly for one of them to let go, then fail.
                deadline = min(deadline, started + FOREIGN_SLOT_WAIT)
            if time.monotonic() >= deadline:
                raise LinkError(
                    f"no free connection slot to reach {address}: every slot of "
                    f"{', '.join(sources)} is taken",
                    kind=NO_SLOT,
                )
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
        """Whether one of our links, closes or connects occupies a slot we could wait for."""
        return any(
            link.source in sources
            for link in (*self._links.values(), *self._releasing.values())
        ) or any(set(srcs) & set(sources) for srcs in self._connecting.values())

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
