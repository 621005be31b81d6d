"""Energy integrated from measured power, for the Energy dashboard."""

from __future__ import annotations

from dataclasses import dataclass

# Power is not integrated across a gap longer than this many update intervals:
# an outage must not be filled in with a guess.
MAX_GAP_INTERVALS = 3.0


@dataclass(slots=True)
class EnergyIntegrator:
    """Charge and discharge energy (Wh) from successive power samples (trapezoid rule)."""

    charge_wh: float = 0.0
    discharge_wh: float = 0.0
    pv_wh: float = 0.0
    _last_time: float | None = None
    _last_power: float | None = None
    _last_pv: float | None = None

    def add(self, now: float, power: float | None, pv_power: float | None,
            max_gap: float) -> None:
        """Account for the time since the previous sample; `now` is in seconds."""
        last = self._last_time
        if last is not None and 0 < now - last <= max_gap:
            hours = (now - last) / 3600
            if power is not None and self._last_power is not None:
                self._integrate_battery(self._last_power, power, hours)
            if pv_power is not None and self._last_pv is not None:
                self.pv_wh += max(0.0, (self._last_pv + pv_power) / 2) * hours
        self._last_time = now
        self._last_power = power
        self._last_pv = pv_power

    def _integrate_battery(self, p0: float, p1: float, hours: float) -> None:
        if (p0 >= 0) == (p1 >= 0):
            energy = (p0 + p1) / 2 * hours
            if energy >= 0:
                self.charge_wh += energy
            else:
                self.discharge_wh -= energy
            return
        # The sign changed: split the interval where the line crosses zero.
        cross = p0 / (p0 - p1)
        first, second = p0 / 2 * hours * cross, p1 / 2 * hours * (1 - cross)
        for energy in (first, second):
            if energy >= 0:
                self.charge_wh += energy
            else:
                self.discharge_wh -= energy

    def break_chain(self) -> None:
        """Forget the previous sample (after a failed poll or a pause)."""
        self._last_time = self._last_power = self._last_pv = None
