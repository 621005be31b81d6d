"""Diagnostics: entry, last sample and the connection statistics, redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_ADDRESS
from homeassistant.core import HomeAssistant

from . import BleBatterySolarConfigEntry

TO_REDACT = {CONF_ADDRESS, "title", "unique_id", "serial_number", "source"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BleBatterySolarConfigEntry
) -> dict[str, Any]:
    """Everything useful in a bug report, without addresses, names or serials."""
    coordinator = entry.runtime_data
    manager = coordinator.manager
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "family": coordinator.family,
        "last_update_success": coordinator.last_update_success,
        "last_exception": str(coordinator.last_exception) if coordinator.last_exception else None,
        "data": async_redact_data(dict(coordinator.data or {}), TO_REDACT),
        "keep_alive": coordinator.keep_alive,
        "link_open": manager.is_open(coordinator.address),
        "connection": async_redact_data(manager.device_stats(coordinator.address).as_dict(), TO_REDACT),
        "connection_totals": manager.totals(),
        "rssi": coordinator.rssi,
    }
