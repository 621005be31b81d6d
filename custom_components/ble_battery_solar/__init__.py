"""The BLE Battery & Solar integration: setup and unload of a configured device."""

from __future__ import annotations

import logging

from homeassistant.components import bluetooth
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.util.hass_dict import HassKey

from .bank import BatteryBank, is_bank
from .connection import ConnectionManager
from .const import CONF_ALLOW_CONTROL, CONF_FAMILY, CONF_VARIANT, DOMAIN
from .coordinator import BleBatterySolarCoordinator
from .dbus_monitor import DBusConnectionMonitor
from .options import configured_packs, driver_variant, validate_options
from .pack_entities import async_remove_packs_beyond
from .protocol import FAMILIES

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR, Platform.BUTTON, Platform.SENSOR, Platform.SWITCH,
]

type BleBatterySolarConfigEntry = ConfigEntry[BleBatterySolarCoordinator]

DATA_MANAGER: HassKey[ConnectionManager] = HassKey(f"{DOMAIN}_manager")
DATA_DBUS_MONITOR: HassKey[DBusConnectionMonitor] = HassKey(f"{DOMAIN}_dbus_monitor")


def get_manager(hass: HomeAssistant) -> ConnectionManager:
    """The ConnectionManager of this Home Assistant instance (created on first use)."""
    if (manager := hass.data.get(DATA_MANAGER)) is None:
        manager = hass.data[DATA_MANAGER] = ConnectionManager(hass)
    return manager


async def async_setup_entry(hass: HomeAssistant, entry: BleBatterySolarConfigEntry) -> bool:
    """Set up one device: first poll, then its entities (or a battery bank of packs)."""
    if is_bank(entry):
        return await _async_setup_bank(hass, entry)
    if entry.data.get(CONF_FAMILY) not in FAMILIES:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="unknown_family",
            translation_placeholders={"family": str(entry.data.get(CONF_FAMILY))},
        )
    options, corrections = validate_options(entry.options)
    if corrections:
        _LOGGER.warning(
            "%s: corrected stored options that the options form would have rejected: %s",
            entry.title, "; ".join(corrections),
        )
        hass.config_entries.async_update_entry(entry, options=options)
    coordinator = BleBatterySolarCoordinator(hass, entry, get_manager(hass))
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    if DATA_DBUS_MONITOR not in hass.data:
        monitor = hass.data[DATA_DBUS_MONITOR] = DBusConnectionMonitor()
        await monitor.async_start(hass)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    entry.async_on_unload(
        bluetooth.async_register_callback(
            hass,
            coordinator.async_on_advertisement,
            bluetooth.BluetoothCallbackMatcher(address=coordinator.address, connectable=True),
            bluetooth.BluetoothScanningMode.PASSIVE,
        )
    )
    return True


async def _async_setup_bank(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """A battery bank: follows its packs, has sensors only."""
    bank = BatteryBank(hass, entry)
    bank.attach()
    entry.runtime_data = bank
    entry.async_on_unload(bank.detach)
    await hass.config_entries.async_forward_entry_setups(entry, [Platform.SENSOR])
    return True


async def _async_options_updated(hass: HomeAssistant, entry: BleBatterySolarConfigEntry) -> None:
    coordinator = entry.runtime_data
    if coordinator.allow_control != (entry.options.get(CONF_ALLOW_CONTROL) is True):
        # switch entities come or go: set the device up again
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    variant = driver_variant(coordinator.family, entry.data.get(CONF_VARIANT), entry.options)
    if variant == coordinator.driver.variant:
        await coordinator.async_apply_options()
        return
    # Another pack count polls other batteries: the devices of packs no longer polled
    # go, and a reload builds the driver and the entities for the new count.
    async_remove_packs_beyond(
        hass, entry, configured_packs(entry.data.get(CONF_VARIANT), entry.options)
    )
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: BleBatterySolarConfigEntry) -> bool:
    """Unload the entities and close the device's link."""
    if is_bank(entry):
        return await hass.config_entries.async_unload_platforms(entry, [Platform.SENSOR])
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        entry.runtime_data.async_shutdown_extras()
        # a connect in flight (it may hang for a minute) is cancelled, not waited for
        await entry.runtime_data.manager.abort(entry.runtime_data.address)
        others = [
            e for e in hass.config_entries.async_entries(DOMAIN)
            if e.entry_id != entry.entry_id
            and not is_bank(e)
            and e.state in (ConfigEntryState.LOADED, ConfigEntryState.SETUP_IN_PROGRESS)
        ]
        if not others:
            # The last device is gone: no callbacks of ours stay registered with HA's
            # bluetooth manager or bus (a device added later creates a new manager).
            if (manager := hass.data.pop(DATA_MANAGER, None)) is not None:
                await manager.async_shutdown()
            if (monitor := hass.data.pop(DATA_DBUS_MONITOR, None)) is not None:
                await monitor.async_stop()
    return unloaded
