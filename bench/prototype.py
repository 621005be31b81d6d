"""Eviction rules compared by bench_scale, as ConnectionManager subclasses (not shipped).

The manager first evicted the least-recently-used idle link when a source had no free
slot. Devices poll periodically, so with more devices than slots on a proxy the least
recently used link is exactly the one whose device polls next: LRU evicted every link just
before it would have been reused, and every poll connected (a classic LRU failure on
cyclic access). The first version of this module prototyped the alternative, evicting the
idle link whose device polls last (Belady's rule, computable because the next poll is last
use + update interval); the scale benchmark measured it (115 -> 106 connects per
device-hour, 50 devices on 15 slots) and connection.py adopted it (commit a484d85, with
the interval passed in by the coordinator).

`LruManager` restores the old rule so that the benchmark keeps measuring the difference.
The bench puts an instance into hass.data before the entries are set up; it overrides
only `_eviction_candidate`.
"""

from __future__ import annotations

import asyncio

from homeassistant.core import HomeAssistant

from custom_components.ble_battery_solar import DATA_MANAGER
from custom_components.ble_battery_solar.connection import ConnectionManager, Link


class LruManager(ConnectionManager):
    """ConnectionManager that evicts the least recently used idle link (the old rule)."""

    def _eviction_candidate(self, sources: list[str]) -> Link | None:
        idle = [
            link for link in self._links.values()
            if link.source in sources and not link.in_use
            and not self._locks.get(link.address, asyncio.Lock()).locked()
        ]
        return min(idle, key=lambda link: link.last_use, default=None)


def install(hass: HomeAssistant) -> LruManager:
    """Make the LRU manager the manager of this HA instance (before any entry is set up)."""
    manager = LruManager(hass)
    hass.data[DATA_MANAGER] = manager
    return manager
