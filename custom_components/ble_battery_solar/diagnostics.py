"""Diagnostics: entry, last sample and the connection statistics, redacted.

Addresses, names and serial numbers are redacted; the raw notifications of the
latest poll keep their bytes except those that identify the device
(frame_redaction). An error is reported as current only while reads fail.
"""

from __future__ import annotations

import re
from typing import Any, cast

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_ADDRESS
from homeassistant.core import HomeAssistant

from . import DATA_DBUS_MONITOR, BleBatterySolarConfigEntry
from .bank import CONF_MEMBERS, BatteryBank, is_bank
from .frame_redaction import redact_hex_frames
from .protocol.base import Driver

TO_REDACT = {CONF_ADDRESS, "title", "unique_id", "serial_number", "discovery_keys"}
# A frame quoted in free text (an error message): 16 bytes or more of hex.
HEX_RUN = re.compile(r"\b(?:[0-9a-fA-F]{2}){16,}\b")


def _scrub(value: Any, secrets: list[str], driver: Driver) -> Any:
    """Replace the device's address and name, and mask frames, inside free text."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "**REDACTED**")
        return HEX_RUN.sub(lambda m: redact_hex_frames(driver, [m.group()])[0], value)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets, driver) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets, driver) for v in value]
    return value


def _connection(stats: dict[str, Any], reading: bool) -> dict[str, Any]:
    """A device's connection statistics: source redacted, no stale error, frames apart."""
    stats = async_redact_data(stats, {"source"})  # the adapter or proxy is the user's hardware
    stats.pop("last_frames", None)  # masked on their own, after the free text
    if reading:
        # the error belongs to a failure streak that a successful read has ended
        stats["error_before_last_success"] = stats.pop("last_error", None)
        stats["last_error"] = None
    return stats


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BleBatterySolarConfigEntry
) -> dict[str, Any]:
    """Everything useful in a bug report, without addresses, names or serials."""
    if is_bank(entry):  # a battery bank reads nothing itself
        bank: BatteryBank = entry.runtime_data  # type: ignore[assignment]
        return {"bank": {"packs": len(entry.data.get(CONF_MEMBERS, [])),
                         "reading": bank.samples() is not None}}
    coordinator = entry.runtime_data
    manager = coordinator.manager
    secrets = [s for s in (coordinator.address, entry.title) if s]
    reading = coordinator.last_update_success
    stats = manager.device_stats(coordinator.address)
    # HA's coordinator keeps its last exception after a successful update
    failure = coordinator.last_exception if not reading else None
    data: dict[str, Any] = {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "family": coordinator.family,
        "last_update_success": reading,
        "last_exception": str(failure) if failure else None,
        "data": async_redact_data(dict(coordinator.data or {}), TO_REDACT),
        "keep_alive": coordinator.keep_alive,
        "link_open": manager.is_open(coordinator.address),
        "connection": _connection(stats.as_dict(), reading),
        "connection_totals": manager.totals(),
        "rssi": coordinator.rssi,
        "dbus_connections": (
            monitor.as_dict() if (monitor := hass.data.get(DATA_DBUS_MONITOR)) else None
        ),
    }
    data = cast(dict[str, Any], _scrub(data, secrets, coordinator.driver))
    data["connection"]["last_frames"] = redact_hex_frames(coordinator.driver, stats.last_frames)
    data["live_updates"] = {
        "interval": coordinator.live.min_interval,
        "pushes": coordinator.live.pushes,
        "rejected_frames": coordinator.live.rejected,
    }
    data["control_allowed"] = coordinator.allow_control
    return data
