"""One live GATT link: the connected client, its notifications and one poll over it.

A Link sends a driver's requests, collects the notifications that answer them
and decodes the response. It knows nothing about the cache around it (locks,
idle timers, slots): connection.py owns that. Failures leave as LinkError with
a kind that says why, or as the bleak/FrameError exception the cache
translates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic

from .protocol import Driver, Sample

# Failure kinds, also the translation keys of the coordinator's errors.
NOT_FOUND = "device_not_found"
NO_SLOT = "no_free_slot"
CONNECT_FAILED = "connect_failed"
TIMEOUT = "response_timeout"
MALFORMED = "malformed_response"
LINK_LOST = "link_lost"


class LinkError(Exception):
    """A poll failed; `kind` says why (one of the failure kinds above)."""

    kind: str = CONNECT_FAILED

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


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

    def mark_lost(self) -> None:
        """The peripheral or proxy dropped the link: wake a poll waiting for data."""
        self.lost = True
        self._arrived.set()

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
