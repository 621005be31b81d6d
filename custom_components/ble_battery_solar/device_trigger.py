"""Device triggers: cell imbalance started or ended, and each decoded alarm condition raised.

Each trigger listens for the integration's own event (`ble_battery_solar_imbalance`,
`ble_battery_solar_alarm`) of one device. A device offers the imbalance triggers when
it reports cell voltages, and one trigger per alarm condition its protocol decodes.
"""

from __future__ import annotations

from typing import Final

import probatio as vol
from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import (
    InvalidDeviceAutomationConfig,
)
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    ATTR_DEVICE_ID,
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType

from .alarms import ALARM_PREFIX, alarm_conditions
from .bank import is_bank
from .cell_health import IMBALANCE_ENDED, IMBALANCE_STARTED
from .const import DOMAIN, EVENT_ALARM, EVENT_IMBALANCE
from .protocol import CONDITIONS

IMBALANCE_TYPES: Final = (IMBALANCE_STARTED, IMBALANCE_ENDED)
TRIGGER_TYPES: Final = frozenset(
    (*IMBALANCE_TYPES, *(f"{ALARM_PREFIX}{c}" for c in CONDITIONS))
)
TRIGGER_SCHEMA: Final = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {vol.Required(CONF_TYPE): vol.In(sorted(TRIGGER_TYPES))}
)


def _types_of(hass: HomeAssistant, device_id: str) -> list[str]:
    """The trigger types a configured device offers."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        raise InvalidDeviceAutomationConfig(f"unknown device {device_id}")
    for entry_id in device.config_entries:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            continue
        if is_bank(entry):
            return []  # a bank has no alarms or cells of its own: its packs have the triggers
        types: list[str] = []
        coordinator = entry.runtime_data if entry.state is ConfigEntryState.LOADED else None
        data = coordinator.data if coordinator is not None else None
        if coordinator is None or (data or {}).get("cell_voltages"):
            types.extend(IMBALANCE_TYPES)
        if coordinator is not None:
            types.extend(f"{ALARM_PREFIX}{c}" for c in alarm_conditions(coordinator.driver))
        return types
    raise InvalidDeviceAutomationConfig(f"device {device_id} is not a {DOMAIN} device")


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, str]]:
    """The triggers of a device: imbalance (if it has cells) and its alarm conditions."""
    return [
        {CONF_PLATFORM: "device", CONF_DOMAIN: DOMAIN, CONF_DEVICE_ID: device_id, CONF_TYPE: t}
        for t in _types_of(hass, device_id)
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen for the device's imbalance or alarm event of the trigger's type."""
    kind: str = config[CONF_TYPE]
    if kind.startswith(ALARM_PREFIX):
        event_type = EVENT_ALARM
        data = {ATTR_DEVICE_ID: config[CONF_DEVICE_ID],
                "condition": kind.removeprefix(ALARM_PREFIX), "active": True}
    else:
        event_type = EVENT_IMBALANCE
        data = {ATTR_DEVICE_ID: config[CONF_DEVICE_ID], CONF_TYPE: kind}
    event_config = event_trigger.TRIGGER_SCHEMA({
        CONF_PLATFORM: CONF_EVENT,
        event_trigger.CONF_EVENT_TYPE: event_type,
        CONF_EVENT_DATA: data,
    })
    return await event_trigger.async_attach_trigger(
        hass, event_config, action, trigger_info, platform_type="device"
    )
