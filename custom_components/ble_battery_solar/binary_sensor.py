"""Binary sensors: charging, MOSFET, balancer, heater and load switches, the problem flag."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from . import BleBatterySolarConfigEntry
from .alarms import alarm_conditions
from .entity import BleBatterySolarEntity, EntityFactory, async_add_as_reported
from .insight_entities import (
    IMBALANCE,
    AlarmBinarySensor,
    ImbalanceBinarySensor,
    alarm_descriptions,
    has_cells,
)
from .protocol import Sample

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BleBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor derived from the Sample; `source` is the key it needs."""

    source: str
    value_fn: Callable[[Sample], bool | None]


def _flag(key: str, translation_key: str,
          device_class: BinarySensorDeviceClass | None = None, *,
          category: EntityCategory | None = None) -> BleBinarySensorDescription:
    return BleBinarySensorDescription(
        key=key, source=key, translation_key=translation_key, device_class=device_class,
        entity_category=category,
        value_fn=lambda s: s.get(key),  # type: ignore[arg-type,return-value]
    )


def _charging(sample: Sample) -> bool | None:
    current = sample.get("current")
    return None if current is None else current > 0  # current > 0 means charging


DIAGNOSTIC = EntityCategory.DIAGNOSTIC
BINARY_SENSORS: tuple[BleBinarySensorDescription, ...] = (
    BleBinarySensorDescription(
        key="charging", source="current", device_class=BinarySensorDeviceClass.BATTERY_CHARGING,
        value_fn=_charging,
    ),
    # the pack's internals: on the device page's Diagnostic card, not on dashboards
    _flag("chrg_mosfet", "charge_mosfet", category=DIAGNOSTIC),
    _flag("dischrg_mosfet", "discharge_mosfet", category=DIAGNOSTIC),
    _flag("balancer", "balancer", BinarySensorDeviceClass.RUNNING, category=DIAGNOSTIC),
    _flag("heater", "heater", BinarySensorDeviceClass.HEAT),
    _flag("load_on", "load", BinarySensorDeviceClass.POWER),
    BleBinarySensorDescription(
        key="problem", source="problem_code", device_class=BinarySensorDeviceClass.PROBLEM,
        value_fn=lambda s: None if s.get("problem_code") is None else bool(s["problem_code"]),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BleBatterySolarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create binary sensors for the flags the device reports."""
    alarms = alarm_descriptions(alarm_conditions(entry.runtime_data.driver))
    async_add_as_reported(
        entry, async_add_entities, lambda sample: _candidates(sample, alarms)
    )


def _candidates(
    sample: Sample, alarms: list[BinarySensorEntityDescription]
) -> Iterator[tuple[EntityDescription, EntityFactory]]:
    """The flags the device reports, the imbalance alert (with cells), decoded alarms."""
    for description in BINARY_SENSORS:
        if description.source in sample:
            yield description, BleBinarySensor
    if has_cells(sample):
        yield IMBALANCE, ImbalanceBinarySensor
    if "problem_code" in sample:
        for alarm in alarms:
            yield alarm, AlarmBinarySensor


class BleBinarySensor(BleBatterySolarEntity, BinarySensorEntity):
    """A flag reported by the device."""

    entity_description: BleBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        return self.entity_description.value_fn(self.coordinator.data or {})

    @property
    def available(self) -> bool:
        return super().available and self.is_on is not None
