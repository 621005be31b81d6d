"""Decoded alarms of a device: which conditions are active, their events and repairs issues.

The driver's alarm table (protocol/alarms.py) names the bits of its problem_code.
After every fresh reading the tracker knows the active conditions and the highest
severity of each; a condition that starts or ends becomes a `ble_battery_solar_alarm`
event, and one that needs the owner's action (a short circuit, a failed MOSFET or
sensor, a locked output ...) a repairs issue until a reading shows it gone.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .protocol import CONDITIONS, NEEDS_ACTION, Driver, Sample, active_alarms, unnamed_bits

ALARM_PREFIX = "alarm_"  # device trigger type and entity key of a condition: alarm_<condition>


def alarm_conditions(driver: Driver) -> list[str]:
    """The conditions a device's protocol decodes from its problem_code, in display order."""
    named = {condition for condition, _severity in driver.alarm_table().values()}
    return [c for c in CONDITIONS if c in named]


def issue_id(condition: str, entry_id: str) -> str:
    """The repairs issue of a condition on one device."""
    return f"{ALARM_PREFIX}{condition}_{entry_id}"


class AlarmTracker:
    """The active alarm conditions of one device, kept from its latest fresh reading."""

    def __init__(self, hass: HomeAssistant, driver: Driver, entry_id: str, name: str) -> None:
        self.hass = hass
        self.table = driver.alarm_table()
        self.conditions = alarm_conditions(driver)
        self.entry_id = entry_id
        self.name = name
        self.active: dict[str, str] | None = None  # None: the reading carried no problem_code
        self.unnamed = 0  # set bits the table does not name
        self._issues: set[str] = set()

    def update(self, sample: Sample) -> list[dict[str, Any]]:
        """Take a fresh reading; the data of one event per condition that started or ended."""
        if not self.table:
            return []
        code = sample.get("problem_code")
        if code is None:
            self.active = None
            return []
        before = self.active or {}
        now: dict[str, str] = dict(active_alarms(self.table, code))
        self.active, self.unnamed = now, unnamed_bits(self.table, code)
        events = [
            {"condition": c, "severity": now[c], "active": True}
            for c in now if c not in before
        ] + [
            {"condition": c, "severity": before[c], "active": False}
            for c in before if c not in now
        ]
        for condition in NEEDS_ACTION:
            if condition in now:
                self._raise(condition, now[condition])
            else:
                self._clear(condition)
        return events

    @property
    def highest(self) -> str | None:
        """The highest severity among the active conditions (None: none active)."""
        order = ("warning", "protection", "fault")
        severities = (self.active or {}).values()
        return max(severities, key=order.index) if severities else None

    def _raise(self, condition: str, severity: str) -> None:
        if condition in self._issues:
            return  # raised once per streak: no registry write per reading
        self._issues.add(condition)
        ir.async_create_issue(
            self.hass, DOMAIN, issue_id(condition, self.entry_id), is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR if severity == "fault" else ir.IssueSeverity.WARNING,
            translation_key=f"{ALARM_PREFIX}{condition}",
            translation_placeholders={"name": self.name},
        )

    def _clear(self, condition: str) -> None:
        if condition in self._issues:
            self._issues.discard(condition)
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(condition, self.entry_id))

    def clear(self) -> None:
        """Remove the device's alarm issues (entry unloaded), also ones a previous run left."""
        for condition in NEEDS_ACTION:
            self._issues.add(condition)
            self._clear(condition)
