"""Repairs issues raised when a device keeps failing, finds no free slot, or churns links."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .connection import NO_SLOT, DeviceStats
from .const import DOMAIN

FAILING_AFTER = 3600.0  # seconds of consecutive failures before a repairs issue
NO_SLOT_AFTER = 3  # consecutive "no free slot" failures before a repairs issue
CHURN_CONNECTS_PER_HOUR = 30  # more connects per hour than this with a keep window > interval


class DeviceHealth:
    """Tracks one device's failures and raises or clears its repairs issues."""

    def __init__(self, hass: HomeAssistant, entry_id: str, name: str) -> None:
        self.hass = hass
        self.entry_id = entry_id
        self.name = name
        self.failing_since: float | None = None
        self.no_slot_streak = 0
        self._last: dict[str, tuple[bool | str, tuple[tuple[str, str], ...]]] = {}

    def _issue(self, kind: str, active: bool, **placeholders: str) -> None:
        issue_id = f"{kind}_{self.entry_id}"
        # Only changes reach the issue registry (each call there saves it to disk);
        # a failing issue's text is refreshed at most when its minutes change.
        key = (active, tuple(sorted(placeholders.items())) if active else ())
        if self._last.get(kind) == key:
            return
        self._last[kind] = key
        if active:
            ir.async_create_issue(
                self.hass, DOMAIN, issue_id, is_fixable=False, is_persistent=False,
                severity=ir.IssueSeverity.WARNING, translation_key=kind,
                translation_placeholders={"name": self.name, **placeholders},
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    def failed(self, now: float, kind: str, error: str) -> None:
        """A poll failed with a LinkError of `kind`."""
        if self.failing_since is None:
            self.failing_since = now
        self.no_slot_streak = self.no_slot_streak + 1 if kind == NO_SLOT else 0
        if now - self.failing_since >= FAILING_AFTER:
            minutes = str(round((now - self.failing_since) / 60))
            self._issue("device_failing", True, minutes=minutes, error=error)
        if self.no_slot_streak >= NO_SLOT_AFTER:
            self._issue("no_free_slot", True)

    def succeeded(self, stats: DeviceStats, keep_alive: float, interval: float) -> None:
        """A poll succeeded: clear failure issues; check connect churn."""
        if self.failing_since is not None or self.no_slot_streak:
            self._issue("device_failing", False)
            self._issue("no_free_slot", False)
        self.failing_since = None
        self.no_slot_streak = 0
        churn = len(stats.connect_times)
        self._issue(
            "connection_churn",
            keep_alive > interval and churn > CHURN_CONNECTS_PER_HOUR,
            connects=str(churn),
        )

    def clear(self) -> None:
        """Remove every issue of the device (entry unloaded)."""
        for kind in ("device_failing", "no_free_slot", "connection_churn"):
            self._last.pop(kind, None)
            self._issue(kind, False)
