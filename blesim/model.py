"""Time-varying physical models behind the simulated devices.

`BatteryModel` is a battery pack whose state of charge follows its current,
whose cells drift apart slowly and whose temperature rises with load;
`SolarModel` is a PV array on a day curve charging such a battery through a
charge controller, accumulating today's yield. Both advance on a clock that
defaults to the running event loop's clock, so Home Assistant's frozen test
clock (and `freezer.tick`) drives them; `time_scale` makes simulated time pass
faster for accelerated soak runs.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# LiFePO4 open-circuit voltage per cell by state of charge (0..1), linearly interpolated.
LFP_OCV: tuple[tuple[float, float], ...] = (
    (0.00, 2.80), (0.05, 3.10), (0.10, 3.20), (0.20, 3.25), (0.40, 3.28),
    (0.60, 3.30), (0.80, 3.32), (0.90, 3.34), (0.97, 3.40), (1.00, 3.45),
)
CELL_RESISTANCE = 0.002  # ohm per cell: the IR drop under load
DRIFT_STEP = 0.0002  # V per sqrt(hour) of random walk of each cell's offset
MAX_DRIFT = 0.03  # V: a balancer keeps cells within this spread


def loop_clock() -> float:
    """The running event loop's clock (HA's frozen clock in tests), else time.monotonic."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def ocv(soc: float) -> float:
    """Open-circuit voltage of one LiFePO4 cell at a state of charge."""
    soc = min(1.0, max(0.0, soc))
    for (s0, v0), (s1, v1) in itertools.pairwise(LFP_OCV):
        if soc <= s1:
            return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)
    return LFP_OCV[-1][1]


@dataclass
class BatteryModel:
    """A battery pack whose charge follows its current over (simulated) time.

    `current` is in A, positive when charging; set it (or `current_fn`, a
    function of the model's elapsed hours) to script a load profile.
    """

    cells: int = 4
    capacity_ah: float = 100.0
    soc: float = 0.8
    current: float = -2.5
    temperatures: list[float] = field(default_factory=lambda: [24.5, 25.1])
    cycles: int = 12
    clock: Callable[[], float] = loop_clock
    time_scale: float = 1.0
    seed: int = 1
    current_fn: Callable[[float], float] | None = None
    health: float = 98.0
    ambient: float = 24.5  # air around the pack (sensors other than the cells')
    # a failing cell: cell number (from 1) -> volts added to it (no balancer corrects it)
    cell_faults: dict[int, float] = field(default_factory=dict)
    # the BMS's MOSFET software switches: off blocks that direction of current
    charge_switch: bool = True
    discharge_switch: bool = True
    _blocked_current: float = 0.0  # the load a switched-off MOSFET holds back
    _last: float | None = None
    _elapsed_h: float = 0.0
    _discharged_ah: float = 0.0
    _offsets: list[float] = field(default_factory=list)
    _rng: random.Random = field(default_factory=random.Random)
    _base_temperatures: list[float] = field(default_factory=list)
    _heat: float = 0.0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._base_temperatures = list(self.temperatures)
        self._offsets = [self._rng.uniform(-0.004, 0.004) for _ in range(self.cells)]

    def reseed(self, seed: int) -> None:
        """Give the cells another (reproducible) set of manufacturing differences."""
        self.seed = seed
        self.__post_init__()

    def step(self) -> None:
        """Advance the model to the clock's current time."""
        now = self.clock()
        if self._last is None or now <= self._last:
            self._last = now if self._last is None else self._last
            return
        dt_h = (now - self._last) / 3600 * self.time_scale
        self._last = now
        self.advance(dt_h)

    def advance(self, hours: float) -> None:
        """Move the model `hours` of simulated time forward."""
        self._elapsed_h += hours
        if self.current_fn is not None:
            self.current = self.current_fn(self._elapsed_h)
        self.current = self._gated(self.current)
        charge = self.current * hours
        self.soc = min(1.0, max(0.0, self.soc + charge / self.capacity_ah))
        if self.soc in (0.0, 1.0):
            self.current = 0.0 if self.current_fn is None else self.current
        if charge < 0:
            self._discharged_ah -= charge
            while self._discharged_ah >= self.capacity_ah:
                self._discharged_ah -= self.capacity_ah
                self.cycles += 1
        sigma = DRIFT_STEP * math.sqrt(hours)
        self._offsets = [
            max(-MAX_DRIFT, min(MAX_DRIFT, o + self._rng.gauss(0.0, sigma))) for o in self._offsets
        ]
        # the pack warms towards 0.02 K per ampere with a time constant of half an hour
        self._heat += (0.02 * abs(self.current) - self._heat) * (1 - math.exp(-hours / 0.5))
        self.temperatures = [round(t + self._heat, 1) for t in self._base_temperatures]

    def _gated(self, current: float) -> float:
        """The current that flows: none in a direction whose MOSFET is switched off."""
        if (current > 0 and not self.charge_switch) or (current < 0 and not self.discharge_switch):
            return 0.0
        return current

    def set_switches(self, *, charge: bool | None = None, discharge: bool | None = None) -> None:
        """Switch the charge or discharge MOSFET; the load comes back when switched on again."""
        self.step()
        if charge is not None:
            self.charge_switch = charge
        if discharge is not None:
            self.discharge_switch = discharge
        if self.current and self._gated(self.current) == 0.0:
            self._blocked_current, self.current = self.current, 0.0
        elif not self.current and self._gated(self._blocked_current):
            self.current, self._blocked_current = self._blocked_current, 0.0

    @property
    def charge_mosfet(self) -> bool:
        """Whether the charge MOSFET conducts: switched on and the pack not full."""
        return self.charge_switch and self.soc < 1.0

    @property
    def discharge_mosfet(self) -> bool:
        """Whether the discharge MOSFET conducts: switched on and the pack not empty."""
        return self.discharge_switch and self.soc > 0.0

    @property
    def cell_voltages(self) -> list[float]:
        """Cell voltages (V): open-circuit voltage, IR drop and each cell's drift."""
        base = ocv(self.soc) + self.current * CELL_RESISTANCE
        return [round(base + o + self.cell_faults.get(i + 1, 0.0), 3)
                for i, o in enumerate(self._offsets)]

    @property
    def voltage(self) -> float:
        """Pack voltage (V), the sum of the cells."""
        return round(sum(self.cell_voltages), 2)

    @property
    def remaining_ah(self) -> float:
        """Charge left (Ah)."""
        return self.soc * self.capacity_ah

    @property
    def delta(self) -> float:
        """Spread between the highest and lowest cell (V)."""
        cells = self.cell_voltages
        return round(max(cells) - min(cells), 3)

    @property
    def balancing(self) -> bool:
        """Whether the balancer would be active (charging and cells spread)."""
        return self.current > 0 and self.delta > 0.01


def wall_clock() -> float:
    """Seconds since the epoch (frozen by the `freezer` fixture in tests)."""
    return time.time()


@dataclass
class SolarModel:
    """A PV array on a day curve charging `battery` through a charge controller.

    PV power follows a half sine between `sunrise` and `sunset` (hours of the
    day, UTC plus `utc_offset`); the battery current is what the controller
    delivers minus the load. `energy_today` (Wh) accumulates and restarts at
    local midnight; `energy_total` never restarts.
    """

    battery: BatteryModel = field(default_factory=lambda: BatteryModel(cells=4, soc=0.6))
    peak_w: float = 400.0
    sunrise: float = 6.0
    sunset: float = 20.0
    utc_offset: float = 0.0
    load_w: float = 36.0
    efficiency: float = 0.96
    wall: Callable[[], float] = wall_clock
    clock: Callable[[], float] = loop_clock
    time_scale: float = 1.0
    controller_temperature: float = 31.0
    energy_today: float = 0.0
    energy_total: float = 125_000.0
    pv_power: float = 0.0
    _last: float | None = None
    _day: int | None = None

    def hour_of_day(self) -> float:
        """Local hour of the day (0..24) on the wall clock."""
        return ((self.wall() / 3600 + self.utc_offset) % 24 + 24) % 24

    def irradiance(self) -> float:
        """0..1 share of peak PV power at this hour."""
        hour = self.hour_of_day()
        if not self.sunrise < hour < self.sunset:
            return 0.0
        return math.sin(math.pi * (hour - self.sunrise) / (self.sunset - self.sunrise))

    def step(self) -> None:
        """Advance PV, battery and yield to the current time."""
        day = int((self.wall() / 3600 + self.utc_offset) // 24)
        if self._day is not None and day != self._day:
            self.energy_today = 0.0
        self._day = day
        self.pv_power = round(self.peak_w * self.irradiance(), 1)
        battery = self.battery
        if battery.soc >= 1.0:
            self.pv_power = min(self.pv_power, self.load_w / self.efficiency)  # floating
        charge_w = self.pv_power * self.efficiency - self.load_w
        battery.current = round(charge_w / max(battery.voltage, 1.0), 2)
        now = self.clock()
        if self._last is not None and now > self._last:
            hours = (now - self._last) / 3600 * self.time_scale
            self.energy_today += self.pv_power * hours
            self.energy_total += self.pv_power * hours
            battery.advance(hours)
        self._last = now
        battery._last = now

    @property
    def pv_voltage(self) -> float:
        """Array voltage (V): near open-circuit at dawn, MPP voltage in daylight."""
        irr = self.irradiance()
        return round(0.0 if irr <= 0 else 17.5 + 3.0 * (1 - irr), 1)

    @property
    def pv_current(self) -> float:
        """Array current (A)."""
        voltage = self.pv_voltage
        return round(self.pv_power / voltage, 2) if voltage else 0.0

    @property
    def charge_current(self) -> float:
        """Current (A) the controller delivers into the battery from the array."""
        return max(0.0, self.pv_power * self.efficiency / max(self.battery.voltage, 1.0))

    @property
    def load_current(self) -> float:
        """Load current (A) at the battery voltage."""
        return round(self.load_w / max(self.battery.voltage, 1.0), 2)

    @property
    def charging_state(self) -> str:
        """Rover charging state name."""
        if self.pv_power <= 0:
            return "deactivated"
        if self.battery.soc >= 0.999:
            return "floating"
        if self.battery.soc >= 0.95:
            return "boost"
        return "mppt"
