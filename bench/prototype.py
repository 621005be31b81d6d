"""A prototype eviction policy for ConnectionManager, measured by bench_scale (not shipped).

The shipped manager evicts the least-recently-used idle link when a source has no free slot.
Devices poll periodically, so with more devices than slots on a proxy the least recently
used link is exactly the one whose device polls next: LRU evicts every link just before it
would have been reused, and every poll connects (a classic LRU failure on cyclic access).

The prototype evicts instead the idle link whose device's next poll is furthest away
(Belady's rule, computable because the next poll is last use + update interval). On a
cyclic pattern of N devices over k slots this keeps k - 1 links warm, so about
(k - 1) / (N - 1) of the polls reuse a link instead of 0.

It subclasses the shipped manager and only overrides `_eviction_candidate`; the bench puts
an instance into hass.data before the entries are set up. The proposed change to
connection.py is the same few lines, with the update interval passed in by the coordinator
(`manager.poll(address, driver, keep_alive=..., interval=...)`) instead of looked up here.
"""

from __future__ import annotations

import asyncio

from homeassistant.core import HomeAssistant

from custom_components.ble_battery_solar import DATA_MANAGER
from custom_components.ble_battery_solar.connection import ConnectionManager, Link
from custom_components.ble_battery_solar.const import DEFAULT_UPDATE_INTERVAL, DOMAIN


class FurthestNextPollManager(ConnectionManager):
    """ConnectionManager that evicts the idle link whose device polls last."""

    def _interval(self, address: str) -> float:
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, address)
        coordinator = getattr(entry, "runtime_data", None) if entry is not None else None
        interval = getattr(coordinator, "update_interval", None)
        return interval.total_seconds() if interval is not None else DEFAULT_UPDATE_INTERVAL

    def _eviction_candidate(self, sources: list[str]) -> Link | None:
        idle = [
            link for link in self._links.values()
            if link.source in sources and not link.in_use
            and not self._locks.get(link.address, asyncio.Lock()).locked()
        ]
        return max(
            idle, key=lambda link: link.last_use + self._interval(link.address), default=None
        )


def install(hass: HomeAssistant) -> FurthestNextPollManager:
    """Make the prototype the manager of this HA instance (before any entry is set up)."""
    manager = FurthestNextPollManager(hass)
    hass.data[DATA_MANAGER] = manager
    return manager
