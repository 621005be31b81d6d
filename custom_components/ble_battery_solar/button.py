"""Buttons for single-connection devices: release for the phone app, reconnect now."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import BleBatterySolarConfigEntry
from .coordinator import BleBatterySolarCoordinator
from .entity import BleBatterySolarEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BleButtonDescription(ButtonEntityDescription):
    """A button that runs a coordinator action."""

    press_fn: Callable[[BleBatterySolarCoordinator], Awaitable[None]]


BUTTONS: tuple[BleButtonDescription, ...] = (
    BleButtonDescription(
        key="release_connection", translation_key="release_connection",
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda c: c.async_release_for_app(),
    ),
    BleButtonDescription(
        key="reconnect", translation_key="reconnect",
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda c: c.async_reconnect_now(),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BleBatterySolarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the connection buttons."""
    async_add_entities(BleButton(entry.runtime_data, d) for d in BUTTONS)


class BleButton(BleBatterySolarEntity, ButtonEntity):
    """A connection control; usable while the device is unavailable too."""

    entity_description: BleButtonDescription

    @property
    def available(self) -> bool:
        return True

    async def async_press(self) -> None:
        await self.entity_description.press_fn(self.coordinator)
