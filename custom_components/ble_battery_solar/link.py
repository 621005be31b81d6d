"""One live GATT link: the connected client, its notifications and one poll over it.

A Link sends a driver's requests, collects the notifications that answer them
and decodes the response. It knows nothing about the cache around it (locks,
idle timers, slots): connection.py owns that. Failures leave as LinkError with
a kind that says why, or as the bleak/FrameError exception the cache
translates. A device that refuses an unbonded central is paired on the link
(when its entry allows it) and the refused operation asked again (pairing.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from .pairing import (
    PAIR_TIMEOUT,
    PAIRING_FAILED,
    PAIRING_REQUIRED,
    PAIRING_UNSUPPORTED,
    needs_pairing,
)
from .protocol import Driver, FrameError, Sample

if TYPE_CHECKING:
    from .stats import DeviceStats

_LOGGER = logging.getLogger(__name__)

POLL_RETRIES = 2  # same-link retries of a malformed, missing or incomplete response
MIN_RETRY_TIME = 1.0  # s of the poll's budget a retry needs at least
GATT_TIMEOUT = 10.0  # s a GATT write or notification subscription may take
MAX_BUFFERED_BYTES = 32 * 1024  # notification bytes a link keeps during one poll

# Failure kinds, also the translation keys of the coordinator's errors.
NOT_FOUND = "device_not_found"
NO_SLOT = "no_free_slot"
CONNECT_FAILED = "connect_failed"
TIMEOUT = "response_timeout"
MALFORMED = "malformed_response"
LINK_LOST = "link_lost"


class LinkError(Exception):
    """A poll failed; `kind` says why (one of the failure kinds above).

    `same_link_retry`: the link is fine, the answer was not (missing or
    incomplete): asking again on the same link may succeed. `link_was_lost`:
    the device or proxy dropped the link during the poll (a new link may succeed).
    """

    kind: str = CONNECT_FAILED

    def __init__(
        self, message: str, *, kind: str | None = None, same_link_retry: bool = False
    ) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind
        self.same_link_retry = same_link_retry
        self.link_was_lost = False


_HEX_RUN = re.compile(r"request [0-9a-fA-F]{8,}")


def owner_text(address: str, err: Exception) -> str:
    """A failure as owners and the log read it: the entity and the coordinator's name
    already carry the address, and request bytes belong in diagnostics, not in a WARNING."""
    escaped = re.escape(address)
    # bleak-retry-connector's "<name> - <address>[ - <name>][ -> <path or proxy>]: "
    # (its name is our address; a proxy's source is a MAC with colons of its own)
    text = re.sub(rf"{escaped} - .*?: (?=Failed )", "", str(err))
    text = re.sub(rf"^could not connect to {escaped}: (?=Failed )", "", text)
    text = text.replace(f"Device with address {address}", "The device")
    return _HEX_RUN.sub("a request", text.replace(address, "the device"))


class Link:
    """One connected GATT client and the driver that speaks its protocol."""

    def __init__(
        self, address: str, client: BleakClient, driver: Driver, stats: DeviceStats | None = None
    ) -> None:
        self.address = address
        self.stats = stats
        self.attempts = 0  # attempts of the latest poll (1 = no retry)
        self.client = client
        self.driver = driver
        self.source: str | None = None
        self.last_use = time.monotonic()
        self.interval: float | None = None  # the device's update interval, if it polls
        self.in_use = False
        self.lost = False
        self.may_pair = False  # pair when the device refuses an unbonded central
        self.paired = False  # pair() succeeded on this link
        self._subscribed = False
        self._notifications: list[bytes] = []
        self._buffered = 0  # bytes in _notifications
        self._collecting = False  # a poll is waiting for notifications
        self._arrived = asyncio.Event()
        self.down = asyncio.Event()  # set once the client reported the link down
        self.received: list[bytes] = []  # notifications of the latest poll, for diagnostics
        # gets what a streaming device pushes between polls (live data); None: dropped
        self.stream_listener: Callable[[bytes], None] | None = None

    @property
    def connected(self) -> bool:
        """Whether the client still reports a live link."""
        return not self.lost and self.client.is_connected

    def mark_lost(self) -> None:
        """The link went down (dropped, or our own disconnect): wake a poll waiting for data."""
        self.lost = True
        self._arrived.set()
        self.down.set()

    def _on_notify(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        """Keep what a running poll can use; drop (and count) everything else.

        Between polls no request is waiting, so nothing is kept: a device (or anything
        posing as one) that floods the link costs no memory. During a poll at most
        MAX_BUFFERED_BYTES are kept; a flood beyond that spoils the attempt, which
        then times out and is asked again.
        """
        if not self._collecting and self.stream_listener is not None:
            self.stream_listener(bytes(data))
            return
        if not self._collecting or self._buffered + len(data) > MAX_BUFFERED_BYTES:
            if self.stats is not None:
                self.stats.dropped_notifications += 1
                self.stats.dropped_bytes += len(data)
            return
        self._notifications.append(bytes(data))
        self._buffered += len(data)
        self._arrived.set()

    def _start_collecting(self) -> None:
        self._notifications = []
        self._buffered = 0
        self.received = self._notifications
        self._collecting = True

    async def _bounded[T](self, what: str, operation: Awaitable[T]) -> T:
        """A GATT operation that fails as a timeout when it does not complete in time.

        A device or proxy that accepts a write or a subscription and never confirms
        it would otherwise hold the device (and its lock) forever.
        """
        try:
            async with asyncio.timeout(GATT_TIMEOUT):
                return await operation
        except TimeoutError:
            raise LinkError(
                f"{what} did not complete within {GATT_TIMEOUT:.0f} s", kind=TIMEOUT
            ) from None

    async def pair(self) -> None:
        """Pair (bond) with the device over this link, through HA's bleak client.

        Raises LinkError: PAIRING_UNSUPPORTED when the adapter or proxy cannot pair
        (NotImplementedError), PAIRING_FAILED when pairing fails, is refused or does
        not end within PAIR_TIMEOUT.
        """
        try:
            async with asyncio.timeout(PAIR_TIMEOUT):
                # bleak 3 returns None and raises on failure; older backends return a bool
                result: object = await cast(Any, self.client).pair()
        except NotImplementedError as err:
            raise LinkError(
                f"the Bluetooth adapter or proxy that reaches the device cannot pair: {err}",
                kind=PAIRING_UNSUPPORTED,
            ) from err
        except TimeoutError as err:
            raise LinkError(
                f"pairing did not complete within {PAIR_TIMEOUT:.0f} s", kind=PAIRING_FAILED
            ) from err
        except (BleakError, EOFError, BrokenPipeError) as err:
            raise LinkError(
                f"pairing failed: {str(err) or type(err).__name__}", kind=PAIRING_FAILED
            ) from err
        if result is False:
            raise LinkError("pairing failed: the adapter or proxy said no", kind=PAIRING_FAILED)
        self.paired = True
        if self.stats is not None:
            self.stats.pairings += 1
        _LOGGER.debug("%s: paired", self.address)

    async def _secured[T](self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run a GATT operation; when the device refuses it for lack of a bond, pair (if
        allowed) and run it once more."""
        try:
            return await operation()
        except BleakError as err:
            if not needs_pairing(err):
                raise
            if self.paired:
                raise LinkError(
                    f"the device still refuses after pairing: {err}", kind=PAIRING_FAILED
                ) from err
            if not self.may_pair:
                raise LinkError(
                    "the device answers only a paired (bonded) central and pairing is off "
                    f"for it: {err}",
                    kind=PAIRING_REQUIRED,
                ) from err
        await self.pair()
        return await self._secured(operation)

    async def _ensure_subscribed(self) -> None:
        if self._subscribed or self.driver.notify_uuid is None:
            return
        for uuid in (self.driver.notify_uuid, *self.driver.extra_notify_uuids):
            await self._secured(functools.partial(self._subscribe, uuid))
        self._subscribed = True

    async def _subscribe(self, uuid: str) -> None:
        await self._bounded(
            "enabling notifications", self.client.start_notify(uuid, self._on_notify)
        )

    async def _write(self, request: bytes) -> None:
        driver = self.driver
        assert driver.write_uuid is not None
        uuid = driver.write_uuid
        await self._secured(lambda: self._bounded(
            "a GATT write",
            self.client.write_gatt_char(uuid, request, response=driver.write_with_response),
        ))

    async def _read(self, uuid: str, wait: float) -> bytes:
        async def read() -> bytes:
            async with asyncio.timeout(wait):
                return bytes(await self.client.read_gatt_char(uuid))

        return await self._secured(read)

    async def poll(self, *, retries: int = POLL_RETRIES, deadline: float | None = None) -> Sample:
        """Run one poll of the driver's requests and decode the response.

        A malformed, missing or incomplete response is asked for again on this link,
        at most `retries` times and only while the poll's time budget (`deadline`, loop
        time) leaves room: a one-off glitch costs a round trip, not the link. The
        last failure is raised when the fault persists.
        """
        loop = asyncio.get_running_loop()
        self.attempts = 0
        while True:
            self.attempts += 1
            timeout = self.driver.response_timeout
            if deadline is not None and self.attempts > 1:
                timeout = min(timeout, deadline - loop.time())
            try:
                return await self._poll_once(timeout)
            except (FrameError, LinkError) as err:
                if isinstance(err, LinkError) and not err.same_link_retry:
                    raise
                if (
                    self.attempts > retries
                    or not self.connected
                    or (deadline is not None and deadline - loop.time() < MIN_RETRY_TIME)
                ):
                    raise
                if self.stats is not None:
                    self.stats.retries += 1
                _LOGGER.debug("%s: asking again on the same link: %s", self.address, err)

    async def _poll_once(self, wait: float) -> Sample:
        driver = self.driver
        if driver.read_uuid is not None:
            try:
                data = await self._read(driver.read_uuid, wait)
            except TimeoutError:
                raise LinkError(
                    f"no answer to a read within {wait:.0f} s",
                    kind=TIMEOUT,
                    same_link_retry=True,
                ) from None
            self.received = [data]
            return driver.decode([data])
        requests: Sequence[bytes | None] = driver.requests() or [None]
        self._start_collecting()
        try:
            # A streaming device's first frame may arrive with the subscription's reply.
            await self._ensure_subscribed()
            if requests[0] is not None:
                self._start_collecting()  # stale stream data: only answers count
            for index, request in enumerate(requests):
                # The first answer counts from the subscription on: a stream's first
                # frame may have come with it.
                start = len(self._notifications) if index else 0
                if request is not None:
                    await self._write(request)
                await self._wait_for_response(request, start, wait)
        finally:
            self._collecting = False
        return driver.decode(self.received, live=True)

    async def _wait_for_response(self, request: bytes | None, start: int, wait: float) -> None:
        driver = self.driver
        try:
            async with asyncio.timeout(wait):
                while not driver.response_complete(request, self._notifications[start:]):
                    if self.lost:
                        raise LinkError("link lost while waiting for a response", kind=LINK_LOST)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            what = f"request {request.hex()}" if request else "streamed data"
            raise LinkError(
                f"no complete response to {what} within {wait:.0f} s",
                kind=TIMEOUT,
                same_link_retry=True,
            ) from None

    async def write_control(self, request: bytes, *, wait: float) -> bool | None:
        """Write one control frame; the driver's verdict on the reply (None: none in `wait` s).

        A protocol without acknowledgements gets None at once: the read-back poll decides.
        """
        driver = self.driver
        assert driver.write_uuid is not None
        self._start_collecting()
        try:
            await self._ensure_subscribed()
            self._start_collecting()  # stream data that came with the subscription
            await self._write(request)
            if not driver.control_acknowledged:
                return None
            try:
                async with asyncio.timeout(wait):
                    while (verdict := driver.control_reply(request, self._notifications)) is None:
                        if self.lost:
                            raise LinkError("link lost while waiting for a reply", kind=LINK_LOST)
                        self._arrived.clear()
                        await self._arrived.wait()
            except TimeoutError:
                return None
            return verdict
        finally:
            self._collecting = False
