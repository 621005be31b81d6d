"""Battery insight of one device: cell health, time to full/empty, decoded alarms, their events.

The coordinator hands every fresh reading to `observe` (inside the poll) and calls
`publish` once the poll's data is out: insight entities then write their state
and the events of that reading are fired, in that order, so an automation that
reacts to an event sees the entity states of the same reading. Failed polls are
not observed: nothing here is judged on stale data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .alarms import AlarmTracker
from .cell_health import CellStats, ImbalanceMonitor, cell_stats
from .const import (
    CONF_IMBALANCE_MINUTES,
    CONF_IMBALANCE_MV,
    DEFAULT_IMBALANCE_MINUTES,
    DEFAULT_IMBALANCE_MV,
    EVENT_ALARM,
    EVENT_IMBALANCE,
)
from .options import validate_options
from .protocol import Sample
from .time_to import TimeToEstimator

if TYPE_CHECKING:
    from .coordinator import BleBatterySolarCoordinator

GAP_INTERVALS = 3  # readings further apart than this many intervals restart every count


class DeviceInsight:
    """Derived state of one device that needs history: imbalance, smoothed time-to, alarms."""

    def __init__(self, hass: HomeAssistant, coordinator: BleBatterySolarCoordinator) -> None:
        self.hass = hass
        self.coordinator = coordinator
        self.imbalance = ImbalanceMonitor()
        self.time_to = TimeToEstimator()
        entry = coordinator.config_entry
        self.alarms = AlarmTracker(hass, coordinator.driver, entry.entry_id, entry.title)
        self.cells: CellStats | None = None
        self._listeners: list[CALLBACK_TYPE] = []
        self._pending: list[tuple[str, dict[str, Any]]] = []

    # --- fed by the coordinator -------------------------------------------------------

    def observe(self, sample: Sample, now: float, interval: float) -> None:
        """A fresh reading (`now`: monotonic seconds) at an update interval of `interval` s."""
        options, _ = validate_options(self.coordinator.config_entry.options)
        threshold = int(options.get(CONF_IMBALANCE_MV, DEFAULT_IMBALANCE_MV))
        hold = 60.0 * options.get(CONF_IMBALANCE_MINUTES, DEFAULT_IMBALANCE_MINUTES)
        max_gap = max(interval, 1.0) * GAP_INTERVALS
        self.cells = cell_stats(sample)
        change = self.imbalance.update(self.cells, now, threshold, hold, max_gap)
        if change is not None and self.cells is not None:
            self._pending.append((EVENT_IMBALANCE, {
                "type": change, "threshold_mv": threshold, **self.cells.attributes(),
            }))
        self.time_to.update(sample, now, max_gap)
        self._pending.extend((EVENT_ALARM, data) for data in self.alarms.update(sample))

    @callback
    def publish(self, *, write_states: bool = True) -> None:
        """Write the insight entities' states, then fire the events of the latest reading.

        `write_states` False: the coordinator has just written every entity's state
        (its data changed), these included; writing them again would double the work.
        """
        if write_states:
            for update in list(self._listeners):
                update()
        pending, self._pending = self._pending, []
        if not pending:
            return
        identity = self._identity()
        for event_type, data in pending:
            self.hass.bus.async_fire(event_type, {**identity, **data})

    @callback
    def clear(self) -> None:
        """The entry unloads: forget queued events, remove the alarms' repairs issues."""
        self._pending.clear()
        self.alarms.clear()

    # --- for entities -----------------------------------------------------------------

    @callback
    def async_add_listener(self, update: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `update` after every fresh reading; returns the unsubscribe."""
        self._listeners.append(update)

        @callback
        def remove() -> None:
            if update in self._listeners:
                self._listeners.remove(update)

        return remove

    def _identity(self) -> dict[str, Any]:
        """Which device an event is about (device_id is what device triggers match on)."""
        coordinator = self.coordinator
        device = dr.async_get(self.hass).async_get_device_by_connection(
            (dr.CONNECTION_BLUETOOTH, coordinator.address), coordinator.config_entry.entry_id
        )
        return {
            "device_id": device.id if device else None,
            "entry_id": coordinator.config_entry.entry_id,
            "address": coordinator.address,
            "name": coordinator.config_entry.title,
        }
