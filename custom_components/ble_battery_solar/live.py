"""Live data: what a streaming device pushes between polls, decoded at a bounded rate.

Devices such as JK (after its cell-info request) and Topband keep sending
status frames on the link that the cache holds open between polls. The link
hands those notifications here (Link.stream_listener); the newest whole frame
that a poll would accept is decoded and pushed to the entities at most once per
`min_interval` seconds, and never sooner than `min_interval` after a poll. No
connect is ever made for it: without a cached link there is nothing to hear.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .link import MAX_BUFFERED_BYTES
from .protocol import Driver, FrameError, Sample


class LiveUpdates:
    """Rate-limited decoding of one device's stream between polls."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, driver: Driver, min_interval: float,
        push: Callable[[Sample], None],
    ) -> None:
        self._loop = loop
        self._driver = driver
        self.min_interval = min_interval
        self._push = push
        self._buffer = b""
        self._pending: bytes | None = None  # newest whole frame not pushed yet
        self._timer: asyncio.TimerHandle | None = None
        self.last_push = -float("inf")  # loop time of the latest fresh data (push or poll)
        self.pushes = 0
        self.rejected = 0  # streamed frames that failed to decode (never shown)

    def feed(self, data: bytes) -> None:
        """A notification that arrived between polls."""
        if self.min_interval <= 0:
            return
        # bounded: a device flooding the link costs no more than one poll's buffer
        self._buffer = (self._buffer + data)[-MAX_BUFFERED_BYTES:]
        try:
            frames, self._buffer = self._driver.split(self._buffer)
        except FrameError:
            self._buffer = b""
            self.rejected += 1
            return
        fresh = [f for f in frames if self._driver.answers(None, f)]
        if not fresh:
            return
        self._pending = fresh[-1]
        wait = self.last_push + self.min_interval - self._loop.time()
        if wait <= 0:
            self._flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        self._timer = None
        frame, self._pending = self._pending, None
        if frame is None:
            return
        try:
            sample = self._driver.decode([frame], live=True)
        except FrameError:
            self.rejected += 1
            return
        self.last_push = self._loop.time()
        self.pushes += 1
        self._push(sample)

    def polled(self) -> None:
        """A poll just delivered fresh data: the next push waits a whole interval."""
        self.last_push = self._loop.time()
        self._pending = None
        self._buffer = b""
        self._cancel_timer()

    def stop(self) -> None:
        """Forget pending data and cancel the timer (unload, or live updates switched off)."""
        self._pending = None
        self._buffer = b""
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
