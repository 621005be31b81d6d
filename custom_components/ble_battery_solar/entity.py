"""Base entity: device info, unique ids, availability tied to fresh data."""

from __future__ import annotations

from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH, DeviceInfo, format_mac
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .coordinator import BleBatterySolarCoordinator


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
        data = coordinator.data or {}
        driver = coordinator.driver
        self._attr_device_info = DeviceInfo(
            connections={(CONNECTION_BLUETOOTH, address)},
            name=coordinator.config_entry.title,
            manufacturer=driver.title,
            model=data.get("model"),
            serial_number=data.get("serial_number"),
            sw_version=data.get("sw_version"),
            hw_version=data.get("hw_version"),
        )
