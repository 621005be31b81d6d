"""Opt-in MOSFET switches (charging, discharging) for families with documented writes.

Only with the option "Allow control" on; without it no switch entity exists (ones
left from an earlier setting are removed from the entity registry). A switch
shows the state the BMS reports: every write is read back over the same link.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import BleBatterySolarConfigEntry
from .entity import BleBatterySolarEntity, async_add_as_reported
from .protocol import Sample

PARALLEL_UPDATES = 1  # one write at a time per platform: each one is read back

SWITCHES: tuple[SwitchEntityDescription, ...] = (
    SwitchEntityDescription(key="chrg_mosfet", translation_key="charging_switch"),
    SwitchEntityDescription(key="dischrg_mosfet", translation_key="discharging_switch"),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BleBatterySolarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch for each control the device's family offers and its data reports."""
    coordinator = entry.runtime_data
    if not coordinator.allow_control:
        registry = er.async_get(hass)
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
            if entity.domain == Platform.SWITCH:
                registry.async_remove(entity.entity_id)
        return
    offered = coordinator.driver.control_switches()

    def candidates(data: Sample) -> list[tuple[SwitchEntityDescription, type[BleSwitch]]]:
        return [(d, BleSwitch) for d in SWITCHES if d.key in offered and d.key in data]

    async_add_as_reported(entry, async_add_entities, candidates)


class BleSwitch(BleBatterySolarEntity, SwitchEntity):
    """A MOSFET switch showing the state the BMS reports."""

    @property
    def is_on(self) -> bool | None:
        value = (self.coordinator.data or {}).get(self.entity_description.key)
        return None if value is None else bool(value)

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.coordinator.async_control(self.entity_description.key, True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.coordinator.async_control(self.entity_description.key, False)
