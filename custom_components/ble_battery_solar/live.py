"""Live data: what a streaming device pushes between polls, decoded at a bounded rate.

Devices such as JK (after its cell-info request) and Topband keep sending
status frames on the link that the cache holds open between polls. The link
hands those notifications here (Link.stream_listener); they are only buffered
until the rate allows a push, then the newest whole frame that a poll would
accept is decoded and pushed to the entities: at most once per `min_interval`
seconds, never sooner than `min_interval` after a poll, and the stream is split
into frames at most once a second however fast it comes. No
connect is ever made for it: without a cached link there is nothing to hear.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .protocol import Driver, FrameError, Sample

# Bytes of stream kept between decodes: room for several frames of any streaming family
# (JK 300 bytes, Topband 121), small enough that a garbage flood costs little CPU.
STREAM_BUFFER = 2048
MIN_ATTEMPT_GAP = 1.0  # s between decode attempts that found nothing to push, at least


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
        self._last_attempt = -float("inf")  # loop time of the latest decode attempt
        self._timer: asyncio.TimerHandle | None = None
        self.last_push = -float("inf")  # loop time of the latest fresh data (push or poll)
        self.pushes = 0
        self.rejected = 0  # streamed frames that failed to decode (never shown)

    def feed(self, data: bytes) -> None:
        """A notification that arrived between polls: kept, decoded when the rate allows."""
        if self.min_interval <= 0:
            return
        # bounded: a device flooding the link costs no more than STREAM_BUFFER bytes
        self._buffer = (self._buffer + data)[-STREAM_BUFFER:]
        if self._timer is None:
            due = max(self.last_push + self.min_interval, self._last_attempt + MIN_ATTEMPT_GAP)
            self._timer = self._loop.call_later(max(0.0, due - self._loop.time()), self._flush)

    def _flush(self) -> None:
        """Decode the newest whole frame received and push it (at most one split per attempt)."""
        self._timer = None
        self._last_attempt = self._loop.time()
        buffer, self._buffer = self._buffer, b""
        try:
            frames, self._buffer = self._driver.split(buffer)  # keeps a frame still arriving
        except FrameError:
            self.rejected += 1
            return
        fresh = [f for f in frames if self._driver.answers(None, f)]
        if not fresh:
            return
        try:
            sample = self._driver.decode([fresh[-1]], live=True)
        except FrameError:
            self.rejected += 1
            return
        self.last_push = self._loop.time()
        self.pushes += 1
        self._push(sample)

    def polled(self) -> None:
        """A poll just delivered fresh data: the next push waits a whole interval."""
        self.last_push = self._loop.time()
        self._buffer = b""
        self._cancel_timer()

    def stop(self) -> None:
        """Forget buffered data and cancel the timer (unload, or live updates switched off)."""
        self._buffer = b""
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
