"""LiveUpdates on its own: bounded buffering and work, rate limit, frames split over notifications."""

from __future__ import annotations

from collections.abc import Callable

from blesim import make_device
from custom_components.ble_battery_solar.live import STREAM_BUFFER, LiveUpdates
from custom_components.ble_battery_solar.protocol import Sample, get_driver


class Handle:
    """A timer of FakeLoop."""

    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due, self.callback, self.cancelled = due, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """A loop clock the test moves by hand; call_later timers run when it passes them."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[Handle] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        self.timers.append(handle := Handle(self.now + delay, callback))
        return handle

    def run_until(self, when: float) -> None:
        self.now = when
        for handle in list(self.timers):
            if handle.due <= when and not handle.cancelled:
                self.timers.remove(handle)
                handle.callback()


def topband_frames(count: int) -> list[bytes]:
    device = make_device("topband", "5E:51:00:00:01:40")
    return [device.stream_frames()[0] for _ in range(count)]


def test_garbage_flood_stays_bounded_and_shows_nothing() -> None:
    loop = FakeLoop()
    pushed: list[Sample] = []
    live = LiveUpdates(loop, get_driver("topband")(), 5.0, pushed.append)  # type: ignore[arg-type]
    for _ in range(2000):
        live.feed(b"\x5e" + b"Z" * 500)
        assert len(live._buffer) <= STREAM_BUFFER
    assert len(loop.timers) == 1  # one decode attempt waits, not one per notification
    loop.run_until(200.0)
    assert pushed == []
    assert live.rejected == 1


def test_rate_limited_push_of_the_newest_frame_in_chunks() -> None:
    loop = FakeLoop()
    pushed: list[Sample] = []
    live = LiveUpdates(loop, get_driver("topband")(), 5.0, pushed.append)  # type: ignore[arg-type]
    live.polled()
    for second, frame in enumerate(topband_frames(12), start=1):
        loop.run_until(100.0 + second)
        for start in range(0, len(frame), 20):  # 20-byte notifications
            live.feed(frame[start : start + 20])
    loop.run_until(113.0)
    assert len(pushed) == 2  # at 105 and 110, never in between
    assert live.pushes == 2
    live.stop()
    assert all(handle.cancelled for handle in loop.timers)


def test_off_means_no_push() -> None:
    loop = FakeLoop()
    pushed: list[Sample] = []
    live = LiveUpdates(loop, get_driver("topband")(), 0.0, pushed.append)  # type: ignore[arg-type]
    for frame in topband_frames(3):
        live.feed(frame)
    assert pushed == []
