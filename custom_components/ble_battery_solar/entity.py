"""Base entity: device info, unique ids, availability tied to fresh data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from homeassistant.core import callback
from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH, DeviceInfo, format_mac
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import BleBatterySolarCoordinator
from .protocol import Driver, Sample

if TYPE_CHECKING:
    from . import BleBatterySolarConfigEntry


def brand_of(driver: Driver) -> str | None:
    """The brand a device of this family carries, not the protocol's name.

    A driver may name it (`brand`); otherwise it is the first word of the family's
    title ("JK / Jikong BMS" → JK). Generic protocols (the Bluetooth Battery Service)
    have no brand.
    """
    if (brand := getattr(driver, "brand", None)) is not None:
        return str(brand)
    if driver.generic:
        return None
    return driver.title.split()[0]


class BleBatterySolarEntity(CoordinatorEntity[BleBatterySolarCoordinator]):
    """An entity of one device; unavailable whenever the last poll failed or lacked its value."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: BleBatterySolarCoordinator, description: EntityDescription
    ) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        address = coordinator.address
        self._attr_unique_id = f"{format_mac(address)}_{description.key}"
        self._attr_device_info = device_info(coordinator)


def device_info(coordinator: BleBatterySolarCoordinator) -> DeviceInfo:
    """The device's info, built once per coordinator and shared by its entities.

    HA only reads it (to register the device when an entity is added); a device
    has 50 or more entities, and a copy each cost memory for nothing.
    """
    if (info := coordinator.device_info) is not None:
        return info
    address = coordinator.address
    data = coordinator.data or {}
    title = coordinator.config_entry.title
    coordinator.device_info = info = DeviceInfo(
        connections={(CONNECTION_BLUETOOTH, address)},
        name=title,
        manufacturer=str(data.get("manufacturer") or "") or brand_of(coordinator.driver),
        # what the device says it is, else its advertised name (never the address)
        model=data.get("model") or (title if title.upper() != address.upper() else None),
        serial_number=data.get("serial_number"),
        sw_version=data.get("sw_version"),
        hw_version=data.get("hw_version"),
    )
    return info


type EntityFactory = Callable[
    [BleBatterySolarCoordinator, EntityDescription], BleBatterySolarEntity
]


@callback
def async_add_as_reported(
    entry: BleBatterySolarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    candidates: Callable[[Sample], Iterable[tuple[EntityDescription, EntityFactory]]],
) -> None:
    """Add an entity for every description the device's data supports, now and as new ones appear.

    `candidates` maps the latest Sample to (description, entity class) pairs; an entity
    is built only for a key not added before.
    """
    coordinator = entry.runtime_data
    known: set[str] = set()

    @callback
    def add_new() -> None:
        new: list[BleBatterySolarEntity] = []
        for description, factory in candidates(coordinator.data or {}):
            if description.key not in known:
                known.add(description.key)
                new.append(factory(coordinator, description))
        if new:
            async_add_entities(new)

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))
