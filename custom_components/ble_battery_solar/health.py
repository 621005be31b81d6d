"""Repairs issues raised when a device keeps failing, finds no free slot, churns links, or
must be paired and is not.

Every create or delete in HA's issue registry rewrites `.storage/repairs.issue_registry`,
so issues change state with hysteresis and their texts never change while they are
raised: a device on the edge of a threshold does not toggle an issue on every poll.
"""

from __future__ import annotations

from datetime import timedelta

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util

from .connection import NO_SLOT, DeviceStats
from .const import DOMAIN
from .pairing import PAIRING_KINDS

FAILING_AFTER = 3600.0  # seconds of consecutive failures before a repairs issue
NO_SLOT_AFTER = 3  # consecutive "no free slot" failures before a repairs issue
NO_SLOT_CLEAR_AFTER = 1800.0  # seconds without a "no free slot" failure before it clears
CHURN_CONNECTS_PER_HOUR = 30  # more connects per hour than this with a keep window > interval
CHURN_CLEAR_PER_HOUR = 15  # ... and the issue clears at this many or fewer
ISSUE_KINDS = ("device_failing", "no_free_slot", "connection_churn", "pairing_needed")


class DeviceHealth:
    """Tracks one device's failures and raises or clears its repairs issues."""

    def __init__(self, hass: HomeAssistant, entry_id: str, name: str) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self.name = name
        self.failing_since: float | None = None
        self.no_slot_streak = 0
        self.last_no_slot: float | None = None
        self.raised: set[str] = set()
        self._read_yet = False

    def _raise(self, kind: str, **placeholders: str) -> None:
        if kind in self.raised:
            return  # its text stays as raised: no registry write per poll
        self.raised.add(kind)
        ir.async_create_issue(
            self.hass, DOMAIN, f"{kind}_{self.entry_id}", is_fixable=False,
            is_persistent=False, severity=ir.IssueSeverity.WARNING, translation_key=kind,
            translation_placeholders={"name": self.name, **placeholders},
        )

    def _clear(self, kind: str) -> None:
        if kind in self.raised:
            self.raised.discard(kind)
            ir.async_delete_issue(self.hass, DOMAIN, f"{kind}_{self.entry_id}")

    def failed(self, now: float, kind: str, error: str) -> None:
        """A poll failed with a LinkError of `kind` (`now`: monotonic seconds)."""
        if self.failing_since is None:
            self.failing_since = now
        if kind == NO_SLOT:
            self.no_slot_streak += 1
            self.last_no_slot = now
        else:
            self.no_slot_streak = 0
        if now - self.failing_since >= FAILING_AFTER:
            since = dt_util.now() - timedelta(seconds=now - self.failing_since)
            self._raise("device_failing", since=since.strftime("%Y-%m-%d %H:%M"), error=error)
        if self.no_slot_streak >= NO_SLOT_AFTER:
            self._raise("no_free_slot")
        if kind in PAIRING_KINDS:
            # waiting does not cure it: the owner must turn pairing on or pair elsewhere
            self._raise("pairing_needed", error=error)

    def succeeded(
        self, now: float, stats: DeviceStats, keep_alive: float, interval: float
    ) -> None:
        """A poll succeeded: clear the failing issue; check slot trouble and connect churn."""
        if not self._read_yet:  # issues a failed setup attempt (another instance) raised
            self._read_yet = True
            self.raised.update(("device_failing", "pairing_needed"))
        self.failing_since = None
        self.no_slot_streak = 0
        self._clear("device_failing")
        self._clear("pairing_needed")
        if self.last_no_slot is None or now - self.last_no_slot >= NO_SLOT_CLEAR_AFTER:
            self._clear("no_free_slot")
        churn = len(stats.connect_times)
        if keep_alive <= interval or churn <= CHURN_CLEAR_PER_HOUR:
            self._clear("connection_churn")
        elif churn > CHURN_CONNECTS_PER_HOUR:
            self._raise("connection_churn", connects=str(churn))

    def clear(self) -> None:
        """Remove every issue of the device (entry unloaded)."""
        for kind in ISSUE_KINDS:
            self.raised.add(kind)  # also removes issues a previous run left behind
            self._clear(kind)
