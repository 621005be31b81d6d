"""Decoded alarms of a device: which conditions its protocol names, and which are active."""

from __future__ import annotations

from .protocol import CONDITIONS, Driver

ALARM_PREFIX = "alarm_"  # device trigger type of a condition: alarm_<condition>


def alarm_conditions(driver: Driver) -> list[str]:
    """The conditions a device's protocol decodes from its problem_code, in display order."""
    named = {condition for condition, _severity in driver.alarm_table().values()}
    return [c for c in CONDITIONS if c in named]
