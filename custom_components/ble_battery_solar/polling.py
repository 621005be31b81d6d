"""One poll through the connection cache, with recovery from one-off faults.

PollRecovery, mixed into the ConnectionManager, runs a poll over the cached link
(`session()`) and turns every failure into a LinkError whose kind says why. A bad,
missing or incomplete answer is asked for again on the same link (Link.poll, at most
POLL_RETRIES times), and a link the device or proxy dropped mid-poll is reconnected
once, both within the poll's time budget (its update interval, from its start): a
one-off glitch never fails the poll, a fault that persists does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from bleak.exc import BleakError

from .link import LINK_LOST, MALFORMED, POLL_RETRIES, TIMEOUT, Link, LinkError
from .protocol import Driver, FrameError, Sample

if TYPE_CHECKING:
    from .stats import DeviceStats

_LOGGER = logging.getLogger(__name__)

MAX_KEPT_FRAMES = 16  # notifications of the latest poll kept for diagnostics


def _tried(message: str, link: Link) -> str:
    """The error message, saying how often the answer was asked for when more than once."""
    return f"{message} (asked {link.attempts} times)" if link.attempts > 1 else message


class PollRecovery:
    """Polls through the cache; retries on the same link, reconnects once within a poll."""

    POLL_RETRIES = POLL_RETRIES  # same-link retries of a bad answer within a poll
    POLL_RECONNECTS = 1  # reconnects within a poll after the link was lost mid-poll
    _stopping: bool

    if TYPE_CHECKING:

        def device_stats(self, address: str) -> DeviceStats:
            """Provided by the cache."""

        def session(
            self, address: str, driver: Driver, *, keep_alive: float,
            interval: float | None = None, pair: bool = False,
        ) -> contextlib.AbstractAsyncContextManager[Link]:
            """Provided by the cache."""

    async def poll(
        self, address: str, driver: Driver, *, keep_alive: float, interval: float | None = None,
        pair: bool = False,
    ) -> Sample:
        """Connect or reuse, run one poll, and translate every failure into LinkError.

        The poll's time budget is its interval (from its start). Within it a bad
        answer is asked for again on the same link (Link.poll), and a link that the
        device or proxy dropped mid-poll is reconnected once: a one-off glitch never
        fails the poll; a fault that persists does. `pair`: pair when the device refuses
        an unbonded central (link.py).
        """
        stats = self.device_stats(address)
        stats.poll_wait = 0.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + interval if interval else None
        reconnects = 0
        while True:
            try:
                sample = await self._poll_once(
                    address, driver, keep_alive=keep_alive, interval=interval, deadline=deadline,
                    pair=pair,
                )
            except LinkError as err:
                if (
                    err.link_was_lost
                    # a glitch of a healthy device; one that keeps failing waits its turn
                    and stats.failure_streak == 0
                    and reconnects < self.POLL_RECONNECTS
                    and not self._stopping
                    and (deadline is None or deadline - loop.time() >= driver.response_timeout)
                ):
                    reconnects += 1
                    stats.reconnects += 1
                    _LOGGER.debug("%s: link lost mid-poll, reconnecting: %s", address, err)
                    continue
                stats.failures[err.kind] += 1
                stats.failure_streak += 1
                stats.last_error = f"{err.kind}: {err}"
                raise
            stats.failure_streak = 0
            return sample

    async def _poll_once(
        self, address: str, driver: Driver, *, keep_alive: float, interval: float | None,
        deadline: float | None, pair: bool,
    ) -> Sample:
        stats = self.device_stats(address)
        async with self.session(
            address, driver, keep_alive=keep_alive, interval=interval, pair=pair
        ) as link:
            try:
                sample = await link.poll(retries=self.POLL_RETRIES, deadline=deadline)
                stats.last_frames = [f.hex() for f in link.received[-MAX_KEPT_FRAMES:]]
                return sample
            except FrameError as err:
                stats.last_frames = [f.hex() for f in link.received[-MAX_KEPT_FRAMES:]]
                raise LinkError(_tried(str(err), link), kind=MALFORMED) from err
            except LinkError as err:
                if link.attempts > 1:
                    err.args = (_tried(str(err), link),)
                err.link_was_lost = not link.connected
                raise
            except (BleakError, EOFError, BrokenPipeError) as err:
                lost = LinkError(
                    f"link lost during poll: {str(err) or type(err).__name__}", kind=LINK_LOST
                )
                lost.link_was_lost = not link.connected
                raise lost from err
            except TimeoutError as err:
                raise LinkError("GATT operation timed out", kind=TIMEOUT) from err
