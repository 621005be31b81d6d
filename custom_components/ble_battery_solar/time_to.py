"""Time to full and time to empty, from a smoothed current.

Dividing the charge left by the current of one reading jumps with every load
step (a kettle, a pump starting). The current is smoothed exponentially over
recent readings (time constant SMOOTHING seconds, so the result does not depend
on the update interval); a change of direction (charging ↔ discharging) starts
afresh rather than crawling through zero. While the pack is idle (smoothed
current below IDLE_C of its capacity per hour, at least IDLE_MIN_A) both are
unknown: neither 0 nor infinity is true.
"""

from __future__ import annotations

import math

from .protocol import Sample

SMOOTHING = 120.0  # seconds: time constant of the current's exponential smoothing
IDLE_C = 0.002  # a current below this share of the capacity per hour counts as idle
IDLE_MIN_A = 0.1


def _charge_and_capacity(sample: Sample) -> tuple[float | None, float | None]:
    """Charge left and full capacity (Ah), from what the device reports."""
    charge = sample.get("cycle_charge")
    design = sample.get("design_capacity")
    level = sample.get("battery_level")
    if charge is None and design and level is not None:
        charge = design * level / 100
    if not design and charge is not None and level:
        design = charge * 100 / level
    return charge, design or None


class TimeToEstimator:
    """Smooths a pack's current and estimates the time to full and to empty (seconds)."""

    def __init__(self) -> None:
        self.current: float | None = None  # smoothed (A, > 0 charging)
        self._last: float | None = None
        self.time_to_full: float | None = None
        self.time_to_empty: float | None = None

    def reset(self) -> None:
        """Forget the smoothing (e.g. after a gap in the readings)."""
        self.current = self._last = None
        self.time_to_full = self.time_to_empty = None

    def update(self, sample: Sample, now: float, max_gap: float) -> None:
        """Take a fresh reading (`now`: monotonic seconds)."""
        current = sample.get("current")
        if current is None:
            self.reset()
            return
        if self.current is None or self._last is None or now - self._last > max_gap or (
            current * self.current < 0
        ):
            self.current = float(current)
        else:
            weight = 1.0 - math.exp(-max(now - self._last, 0.0) / SMOOTHING)
            self.current += weight * (current - self.current)
        self._last = now
        self.time_to_full = self.time_to_empty = None
        charge, capacity = _charge_and_capacity(sample)
        if charge is None or capacity is None:
            return
        if abs(self.current) < max(IDLE_MIN_A, IDLE_C * capacity):
            return
        if self.current > 0:
            self.time_to_full = round(max(capacity - charge, 0.0) / self.current * 3600)
        else:
            self.time_to_empty = round(max(charge, 0.0) / -self.current * 3600)
