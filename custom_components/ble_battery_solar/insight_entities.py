"""Entities of the battery insight: imbalance alert, time to full and to empty, decoded alarms.

They read `coordinator.insight` and are written after every fresh reading (an
alert can start while the readings themselves are unchanged). Like every entity
of the device they are unavailable while its reads fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfTime
from homeassistant.helpers.translation import async_get_translations

from .alarms import ALARM_PREFIX
from .const import DOMAIN
from .entity import BleBatterySolarEntity
from .insight import DeviceInsight
from .protocol import Sample


class InsightView(BleBatterySolarEntity):
    """An entity showing the device's insight; written when the reading changed.

    Enough for what follows the reading's values alone (decoded alarms).
    """

    @property
    def insight(self) -> DeviceInsight:
        """The device's insight."""
        return self.coordinator.insight


class InsightEntity(InsightView):
    """Written after every fresh reading, not only when the reading changed: what also
    follows time (an imbalance held long enough, smoothed time to full/empty)."""

    async def async_added_to_hass(self) -> None:
        """Also listen to the insight's updates."""
        await super().async_added_to_hass()
        self.async_on_remove(self.coordinator.insight.async_add_listener(self.async_write_ha_state))


IMBALANCE = BinarySensorEntityDescription(
    key="cell_imbalance", translation_key="cell_imbalance",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


def has_cells(sample: Sample) -> bool:
    """Whether the device reports cell voltages."""
    return bool(sample.get("cell_voltages"))


class ImbalanceBinarySensor(InsightEntity, BinarySensorEntity):
    """On while the cells' spread has stayed above the owner's threshold long enough."""

    @property
    def is_on(self) -> bool:
        return self.insight.imbalance.active

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Which cell is furthest out, lowest and highest, the spread and the threshold."""
        monitor = self.insight.imbalance
        cells = self.insight.cells
        return {**(cells.attributes() if cells else {}), "threshold_mv": monitor.threshold_mv}


@dataclass(frozen=True, kw_only=True)
class TimeToDescription(SensorEntityDescription):
    """Time to full or to empty; `value_fn` reads the estimator."""

    value_fn: Callable[[DeviceInsight], float | None]


TIME_TO: tuple[TimeToDescription, ...] = tuple(
    TimeToDescription(
        key=key, translation_key=key, device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.HOURS, suggested_display_precision=1,
        state_class=SensorStateClass.MEASUREMENT, value_fn=fn,
    )
    for key, fn in (
        ("time_to_full", lambda i: i.time_to.time_to_full),
        ("time_to_empty", lambda i: i.time_to.time_to_empty),
    )
)


def has_charge(sample: Sample) -> bool:
    """Whether the time to full/empty can be told: a current and a charge or level with capacity."""
    return "current" in sample and (
        "cycle_charge" in sample
        or ("battery_level" in sample and "design_capacity" in sample)
    )


class TimeToSensor(InsightEntity, SensorEntity):
    """Time to full or to empty; unknown while the pack is idle."""

    entity_description: TimeToDescription

    @property
    def native_value(self) -> float | None:
        return self.entity_description.value_fn(self.insight)


# --- decoded alarms ---------------------------------------------------------------------

MAX_STATE = 255  # Home Assistant's limit for a state


def alarm_descriptions(conditions: list[str]) -> list[BinarySensorEntityDescription]:
    """One problem binary sensor (diagnostic) per condition the device's protocol decodes."""
    return [
        BinarySensorEntityDescription(
            key=f"{ALARM_PREFIX}{condition}", translation_key=f"{ALARM_PREFIX}{condition}",
            device_class=BinarySensorDeviceClass.PROBLEM,
            entity_category=EntityCategory.DIAGNOSTIC,
        )
        for condition in conditions
    ]


class AlarmBinarySensor(InsightView, BinarySensorEntity):
    """On while the device reports one alarm condition; attribute `severity`."""

    @property
    def _condition(self) -> str:
        return self.entity_description.key.removeprefix(ALARM_PREFIX)

    @property
    def available(self) -> bool:
        return super().available and self.insight.alarms.active is not None

    @property
    def is_on(self) -> bool | None:
        active = self.insight.alarms.active
        return None if active is None else self._condition in active

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """How serious it is: warning, protection (the BMS switched off) or fault."""
        return {"severity": (self.insight.alarms.active or {}).get(self._condition)}


ALARMS = SensorEntityDescription(key="alarms", translation_key="alarms")


class AlarmsSensor(InsightView, SensorEntity):
    """The active alarm conditions in words ("none" when there are none)."""

    _names: dict[str, str]

    async def async_added_to_hass(self) -> None:
        """Load the condition names in Home Assistant's language."""
        self._names = await async_get_translations(
            self.hass, self.hass.config.language, "entity", {DOMAIN}
        )
        await super().async_added_to_hass()

    def _name_of(self, condition: str) -> str:
        key = f"component.{DOMAIN}.entity.binary_sensor.{ALARM_PREFIX}{condition}.name"
        return getattr(self, "_names", {}).get(key) or condition.replace("_", " ")

    @property
    def available(self) -> bool:
        return super().available and self.insight.alarms.active is not None

    @property
    def native_value(self) -> str | None:
        active = self.insight.alarms.active
        if active is None:
            return None
        if not active:
            return "none"
        text = ", ".join(self._name_of(c) for c in active)
        return text if len(text) <= MAX_STATE else text[: MAX_STATE - 1] + "…"

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The conditions as keys (for templates), the highest severity, unnamed bits."""
        alarms = self.insight.alarms
        return {
            "conditions": list(alarms.active or {}),
            "severity": alarms.highest,
            "unnamed_bits": f"0x{alarms.unnamed:X}" if alarms.unnamed else None,
        }
