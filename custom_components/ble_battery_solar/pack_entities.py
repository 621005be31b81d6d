"""Per-pack devices and sensors of multi-pack systems (batteries behind one BT module).

A device that reports several packs (Renogy batteries behind a hub, Seplos V3
packs in parallel, Epoch Pro systems) puts one Sample per pack in the
coordinator's `packs`. Each pack becomes a device of its own ("<device> pack 2"),
linked to the BT module's device with `via_device_id`, carrying the same value,
cell and probe sensors a single battery has. The system-level entities stay on
the module's device. Pack sensors are added as their packs start reporting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from homeassistant.components.sensor import SensorEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH, DeviceInfo, format_mac
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import BleBatterySolarCoordinator
from .entity import brand_of
from .protocol import Sample
from .protocol.devices.renogy_battery import HUB_SLAVES

if TYPE_CHECKING:
    from . import BleBatterySolarConfigEntry
    from .sensor import BleSensorDescription

# The address the first pack answers from, where it is not 1 (Renogy: Modbus ids from 0x30).
FIRST_PACK_ADDRESS = {"renogy_battery": HUB_SLAVES.start}


def pack_number(family: str, pack_address: int) -> int:
    """The pack's number as the owner counts them (1 = the first battery)."""
    return pack_address - FIRST_PACK_ADDRESS.get(family, 1) + 1


def pack_identifier(address: str, number: int) -> tuple[str, str]:
    """The device-registry identifier of pack `number` behind the module at `address`."""
    return (DOMAIN, f"{format_mac(address)}_pack{number}")


def packs_of(family: str, sample: Sample | None) -> dict[int, Sample]:
    """The packs of a Sample by pack number (empty for a single battery)."""
    return {
        pack_number(family, pack["pack_address"]): pack
        for pack in (sample or {}).get("packs") or []
        if "pack_address" in pack
    }


@callback
def _module_device_id(hass: HomeAssistant, entry: BleBatterySolarConfigEntry) -> str:
    """The registry id of the BT module's device (registered now if its entities are not yet)."""
    coordinator = entry.runtime_data
    registry = dr.async_get(hass)
    connection = (CONNECTION_BLUETOOTH, coordinator.address)
    if (device := registry.async_get_device_by_connection(connection, entry.entry_id)) is None:
        device = registry.async_get_or_create(
            config_entry_id=entry.entry_id, connections={connection}, name=entry.title
        )
    return device.id


@callback
def async_add_pack_sensors(
    entry: BleBatterySolarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    candidates: Callable[[Sample], Iterable[BleSensorDescription]],
) -> None:
    """Add the sensors of every pack the device reports, now and as more packs appear.

    `candidates` maps one pack's Sample to the sensor descriptions it supports.
    """
    coordinator = entry.runtime_data
    known: set[tuple[int, str]] = set()

    @callback
    def add_new() -> None:
        packs = packs_of(coordinator.family, coordinator.data)
        if not packs:
            return
        via = _module_device_id(coordinator.hass, entry)
        new: list[PackSensor] = []
        for number, pack in packs.items():
            for description in candidates(pack):
                if (number, description.key) not in known:
                    known.add((number, description.key))
                    new.append(PackSensor(coordinator, description, number, via))
        if new:
            async_add_entities(new)

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))


@callback
def async_remove_packs_beyond(
    hass: HomeAssistant, entry: BleBatterySolarConfigEntry, count: int
) -> None:
    """Remove the pack devices (and their entities) numbered above `count`."""
    registry = dr.async_get(hass)
    address = entry.unique_id or entry.data["address"]
    kept = {pack_identifier(address, n) for n in range(1, count + 1)}
    prefix = f"{format_mac(address)}_pack"
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if any(d == DOMAIN and i.startswith(prefix) for d, i in device.identifiers) and not (
            device.identifiers & kept
        ):
            registry.async_remove_device(device.id)


class PackSensor(CoordinatorEntity[BleBatterySolarCoordinator], SensorEntity):
    """A value of one pack, on that pack's device; unavailable when the pack did not report it."""

    _attr_has_entity_name = True
    entity_description: BleSensorDescription

    def __init__(
        self,
        coordinator: BleBatterySolarCoordinator,
        description: BleSensorDescription,
        number: int,
        via_device_id: str,
    ) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        self.pack = number
        address = coordinator.address
        self._attr_unique_id = f"{format_mac(address)}_pack{number}_{description.key}"
        pack = packs_of(coordinator.family, coordinator.data).get(number) or {}
        self._attr_device_info = DeviceInfo(
            identifiers={pack_identifier(address, number)},
            name=f"{coordinator.config_entry.title} pack {number}",
            manufacturer=brand_of(coordinator.driver),
            model=pack.get("model"),
            serial_number=pack.get("serial_number"),
            via_device_id=via_device_id,
        )

    def _pack_sample(self) -> Sample:
        return packs_of(self.coordinator.family, self.coordinator.data).get(self.pack) or {}

    @property
    def native_value(self) -> StateType:
        return self.entity_description.value_fn(self._pack_sample())

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """E.g. which cell of the pack is the lowest or highest."""
        if (fn := self.entity_description.attributes_fn) is None:
            return None
        return fn(self._pack_sample())

    @property
    def available(self) -> bool:
        """Unavailable when the last poll failed or the pack did not report this value."""
        return super().available and self.native_value is not None
