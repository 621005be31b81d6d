"""An accelerated, event-driven clock on top of Home Assistant's frozen test clock.

With pytest-homeassistant-custom-component's `freezer`, `time.monotonic`, `time.time`,
`datetime.now` and the event loop's own `loop.time()` are frozen; timers (asyncio.sleep,
asyncio.timeout, `call_later`, the coordinators' refresh timers, blesim's latency sleeps,
bleak-retry-connector's backoff) only become due when the frozen time moves.

`SimClock` moves it the way a discrete-event simulator does: let every ready callback run,
find the earliest pending timer, jump the frozen time straight to it, and repeat. Nothing
that is due is ever skipped and nothing runs early, so an hour with 50 devices costs only
the CPU time of the work actually done in that hour. The event loop itself runs the due
timers (as in production), so no HA helper has to be special-cased.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from homeassistant.core import HomeAssistant

# Ready-queue rounds allowed at one instant before the clock gives up (a livelock guard).
SETTLE_LIMIT = 100_000
_US = 1e-6


class SimClockError(AssertionError):
    """The simulation could not make progress (livelock, or a deadline passed)."""


class SimClock:
    """Drives HA's frozen clock from one due timer to the next."""

    def __init__(self, hass: HomeAssistant, freezer: Any) -> None:
        self.hass = hass
        self.loop = hass.loop
        self.freezer = freezer
        self.jumps = 0  # how many times the frozen time was moved
        # Executor jobs (platform imports, file I/O) finish in real time: the clock must not
        # race ahead while one is pending, or a 10 ms import would last minutes of sim time.
        self._executor_jobs: set[asyncio.Future[Any]] = set()
        self._original_run_in_executor = self.loop.run_in_executor
        self.loop.run_in_executor = self._run_in_executor  # type: ignore[method-assign]

    def _run_in_executor(self, executor: Any, func: Callable[..., Any], *args: Any) -> Any:
        future = self._original_run_in_executor(executor, func, *args)
        self._executor_jobs.add(future)
        future.add_done_callback(self._executor_jobs.discard)
        return future

    def close(self) -> None:
        """Stop watching executor jobs."""
        self.loop.run_in_executor = self._original_run_in_executor  # type: ignore[method-assign]

    def now(self) -> float:
        """The simulated monotonic time (the event loop's clock)."""
        return self.loop.time()

    async def settle(self) -> None:
        """Let every callback that is ready at the current instant run, and every executor
        job started meanwhile finish (in real time: the simulated clock does not move)."""
        loop: Any = self.loop
        for _ in range(SETTLE_LIMIT):
            await asyncio.sleep(0)
            if loop._ready:
                continue
            if self._executor_jobs:
                await asyncio.wait(set(self._executor_jobs))
                continue
            return
        raise SimClockError(f"still busy after {SETTLE_LIMIT} rounds at t={self.now():.3f}")

    def next_due(self) -> float | None:
        """When the earliest live timer of the loop is due, if any."""
        loop: Any = self.loop
        return min(
            (handle._when for handle in loop._scheduled if not handle._cancelled), default=None
        )

    def _jump(self, seconds: float) -> None:
        """Move the frozen clock forward by at least `seconds` (µs resolution, +1 µs)."""
        micros = max(0, math.ceil(seconds / _US)) + 1
        self.freezer.tick(timedelta(microseconds=micros))
        self.jumps += 1

    async def run_until(
        self, target: float, *, on_jump: Callable[[float], None] | None = None
    ) -> None:
        """Run the simulation until the loop time `target`."""
        while True:
            await self.settle()
            now = self.now()
            due = self.next_due()
            if due is None or due > target:
                break
            self._jump(due - now)
            if on_jump is not None:
                on_jump(self.now())
        if target > self.now():
            self._jump(target - self.now())
        await self.settle()

    async def run_for(
        self, seconds: float, *, on_jump: Callable[[float], None] | None = None
    ) -> None:
        """Run the simulation for `seconds` of simulated time."""
        await self.run_until(self.now() + seconds, on_jump=on_jump)

    async def run_until_done[T](self, awaitable: Awaitable[T], limit: float = 600.0) -> T:
        """Run the simulation until an awaitable finishes (within `limit` simulated seconds)."""
        task = asyncio.ensure_future(awaitable)
        deadline = self.now() + limit
        while not task.done():
            await self.settle()
            if task.done():
                break
            due = self.next_due()
            if due is None or due > deadline:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise SimClockError(f"still running after {limit} simulated seconds")
            self._jump(due - self.now())
        return task.result()
