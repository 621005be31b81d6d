"""Diagnostics: entry, last sample and the connection statistics, redacted."""

from __future__ import annotations

from typing import Any, cast

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_ADDRESS
from homeassistant.core import HomeAssistant

from . import DATA_DBUS_MONITOR, BleBatterySolarConfigEntry

TO_REDACT = {CONF_ADDRESS, "title", "unique_id", "serial_number", "discovery_keys"}


def _scrub(value: Any, secrets: list[str]) -> Any:
    """Replace the device's address and name inside free text (error messages)."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "**REDACTED**")
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BleBatterySolarConfigEntry
) -> dict[str, Any]:
    """Everything useful in a bug report, without addresses, names or serials."""
    coordinator = entry.runtime_data
    manager = coordinator.manager
    secrets = [s for s in (coordinator.address, entry.title) if s]
    data: dict[str, Any] = {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "family": coordinator.family,
        "last_update_success": coordinator.last_update_success,
        "last_exception": str(coordinator.last_exception) if coordinator.last_exception else None,
        "data": async_redact_data(dict(coordinator.data or {}), TO_REDACT),
        "keep_alive": coordinator.keep_alive,
        "link_open": manager.is_open(coordinator.address),
        # the adapter or proxy address is the user's hardware: redacted too
        "connection": async_redact_data(
            manager.device_stats(coordinator.address).as_dict(), {"source"}
        ),
        "connection_totals": manager.totals(),
        "rssi": coordinator.rssi,
        "dbus_connections": (
            monitor.as_dict() if (monitor := hass.data.get(DATA_DBUS_MONITOR)) else None
        ),
    }
    return cast(dict[str, Any], _scrub(data, secrets))
