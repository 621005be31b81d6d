"""Sensors built from the decoded Sample, one per measured value, cell and probe."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from . import BleBatterySolarConfigEntry
from .bank import async_setup_bank_sensors, is_bank
from .coordinator import BleBatterySolarCoordinator
from .entity import BleBatterySolarEntity, EntityFactory, async_add_as_reported
from .insight_entities import ALARMS, TIME_TO, AlarmsSensor, TimeToSensor, has_charge
from .pack_entities import async_add_pack_sensors
from .protocol import Sample
from .status import (
    CONNECTION,
    LAST_READ,
    RELEASED_UNTIL,
    ConnectionSensor,
    LastReadSensor,
    ReleasedUntilSensor,
)

PARALLEL_UPDATES = 0
AMPERE_HOURS = "Ah"


@dataclass(frozen=True, kw_only=True)
class BleSensorDescription(SensorEntityDescription):
    """A sensor whose value comes from the Sample (or the coordinator) via value_fn."""

    value_fn: Callable[[Sample], StateType]
    exists_fn: Callable[[Sample], bool] | None = None
    attributes_fn: Callable[[Sample], dict[str, Any]] | None = None


def _key(key: str) -> Callable[[Sample], StateType]:
    return lambda s: s.get(key)  # type: ignore[return-value]


def _m(key: str, device_class: SensorDeviceClass | None, unit: str | None, *,
       precision: int | None = None, translation_key: str | None = None,
       state_class: SensorStateClass | None = SensorStateClass.MEASUREMENT,
       category: EntityCategory | None = None, enabled: bool = True) -> BleSensorDescription:
    return BleSensorDescription(
        key=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=state_class,
        suggested_display_precision=precision,
        translation_key=translation_key,
        entity_category=category,
        entity_registry_enabled_default=enabled,
        value_fn=_key(key),
    )


V, A, W, WH = (UnitOfElectricPotential.VOLT, UnitOfElectricCurrent.AMPERE,
               UnitOfPower.WATT, UnitOfEnergy.WATT_HOUR)
KWH = UnitOfEnergy.KILO_WATT_HOUR
SD = SensorDeviceClass
# Charging states of solar and DC-DC charge controllers (translated in strings.json);
# a state outside this list shows as "unknown".
CHARGING_STATES = ["deactivated", "activated", "standby", "mppt", "bulk", "boost", "floating",
                   "storage", "equalizing", "current_limiting", "dc_mode", "battery_activation",
                   "battery_disconnecting", "unknown"]
# Values a charge controller reports that mean battery power rather than its own: a
# controller's voltage x current is its charging power, shown as such (pv/charging_power).
BATTERY_ONLY = frozenset({"power", "battery_power"})


def _charging_state(sample: Sample) -> StateType:
    state = sample.get("charging_state")
    if state is None:
        return None
    return state if state in CHARGING_STATES else "unknown"


def _energy(key: str, *, precision: int = 2) -> BleSensorDescription:
    """A device-reported energy counter in Wh, shown in kWh."""
    return BleSensorDescription(
        key=key, translation_key=key, device_class=SD.ENERGY, native_unit_of_measurement=WH,
        suggested_unit_of_measurement=KWH, suggested_display_precision=precision,
        state_class=SensorStateClass.TOTAL_INCREASING, value_fn=_key(key),
    )

SENSORS: tuple[BleSensorDescription, ...] = (
    _m("voltage", SD.VOLTAGE, V, precision=2),
    _m("current", SD.CURRENT, A, precision=2),
    _m("power", SD.POWER, W, precision=1),
    # Home Assistant's Energy dashboard wants a battery's power positive when it
    # discharges; ours (like current) is positive when charging. This is the same value
    # with the dashboard's sign, hidden by default (pick it there, no "Inverted" needed).
    BleSensorDescription(
        key="battery_power", translation_key="battery_power", device_class=SD.POWER,
        native_unit_of_measurement=W, state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1, entity_registry_visible_default=False,
        exists_fn=lambda s: "power" in s,
        value_fn=lambda s: None if s.get("power") is None else 0.0 - s["power"],  # never -0.0
    ),
    _m("battery_level", SD.BATTERY, PERCENTAGE, precision=0),
    _m("cycle_charge", None, AMPERE_HOURS, precision=2, translation_key="cycle_charge"),
    _m("cycle_capacity", SD.ENERGY_STORAGE, WH, precision=0, translation_key="cycle_capacity"),
    _m("design_capacity", None, AMPERE_HOURS, precision=1, translation_key="design_capacity",
       state_class=None, category=EntityCategory.DIAGNOSTIC),
    _m("cycles", None, None, translation_key="cycles", state_class=SensorStateClass.TOTAL_INCREASING),
    _m("delta_voltage", SD.VOLTAGE, V, precision=3, translation_key="delta_voltage"),
    _m("battery_health", None, PERCENTAGE, precision=0, translation_key="battery_health"),
    BleSensorDescription(
        key="runtime", translation_key="runtime", device_class=SD.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS, suggested_unit_of_measurement=UnitOfTime.HOURS,
        suggested_display_precision=1, state_class=SensorStateClass.MEASUREMENT,
        value_fn=_key("runtime"),
    ),
    _m("problem_code", None, None, translation_key="problem_code", state_class=None,
       category=EntityCategory.DIAGNOSTIC),
    # solar charge controllers
    _m("pv_voltage", SD.VOLTAGE, V, precision=1, translation_key="pv_voltage"),
    _m("pv_current", SD.CURRENT, A, precision=2, translation_key="pv_current"),
    _m("pv_power", SD.POWER, W, precision=0, translation_key="pv_power"),
    _m("load_voltage", SD.VOLTAGE, V, precision=1, translation_key="load_voltage"),
    _m("load_current", SD.CURRENT, A, precision=2, translation_key="load_current"),
    _m("load_power", SD.POWER, W, precision=0, translation_key="load_power"),
    _m("charging_power", SD.POWER, W, precision=0, translation_key="charging_power"),
    BleSensorDescription(
        key="charging_state", translation_key="charging_state", device_class=SD.ENUM,
        options=CHARGING_STATES, value_fn=_charging_state,
    ),
    _m("controller_temperature", SD.TEMPERATURE, UnitOfTemperature.CELSIUS, precision=1,
       translation_key="controller_temperature"),
    _m("battery_temperature", SD.TEMPERATURE, UnitOfTemperature.CELSIUS, precision=1,
       translation_key="battery_temperature"),
    _energy("energy_generated_today"),
    _energy("energy_generated_total", precision=1),
)


def _listed(key: str, index: int) -> Callable[[Sample], StateType]:
    def value(sample: Sample) -> StateType:
        values: list[float] = sample.get(key) or []  # type: ignore[assignment]
        return values[index] if index < len(values) else None

    return value


def _cell_summary(fn: Callable[[list[float]], float]) -> Callable[[Sample], StateType]:
    def value(sample: Sample) -> StateType:
        cells = sample.get("cell_voltages")
        return fn(cells) if cells else None

    return value


def _which_cell(fn: Callable[[list[float]], float]) -> Callable[[Sample], dict[str, Any]]:
    """The number (from 1) of the lowest or highest cell, as a state attribute."""

    def attributes(sample: Sample) -> dict[str, Any]:
        cells: list[float] = sample.get("cell_voltages") or []
        return {"cell": cells.index(fn(cells)) + 1} if cells else {}

    return attributes


def _list_descriptions(sample: Sample) -> list[BleSensorDescription]:
    """One sensor per cell and per temperature probe, plus min/max cell summaries."""
    out: list[BleSensorDescription] = []
    for i in range(len(sample.get("cell_voltages") or [])):
        out.append(BleSensorDescription(
            key=f"cell_voltage_{i + 1}", translation_key="cell_voltage",
            translation_placeholders={"index": str(i + 1)},
            device_class=SD.VOLTAGE, native_unit_of_measurement=V,
            state_class=SensorStateClass.MEASUREMENT, suggested_display_precision=3,
            entity_category=EntityCategory.DIAGNOSTIC, value_fn=_listed("cell_voltages", i),
        ))
    if sample.get("cell_voltages"):
        for name, fn in (("min", min), ("max", max)):
            out.append(BleSensorDescription(
                key=f"{name}_cell_voltage", translation_key=f"{name}_cell_voltage",
                device_class=SD.VOLTAGE, native_unit_of_measurement=V,
                state_class=SensorStateClass.MEASUREMENT, suggested_display_precision=3,
                value_fn=_cell_summary(fn), attributes_fn=_which_cell(fn),
            ))
        out.append(BleSensorDescription(
            key="average_cell_voltage", translation_key="average_cell_voltage",
            device_class=SD.VOLTAGE, native_unit_of_measurement=V,
            state_class=SensorStateClass.MEASUREMENT, suggested_display_precision=3,
            entity_category=EntityCategory.DIAGNOSTIC,
            value_fn=_cell_summary(lambda cells: round(sum(cells) / len(cells), 4)),
        ))
    for i in range(len(sample.get("temperatures") or [])):
        out.append(BleSensorDescription(
            key=f"temperature_{i + 1}", translation_key="temperature_probe",
            translation_placeholders={"index": str(i + 1)},
            device_class=SD.TEMPERATURE, native_unit_of_measurement=UnitOfTemperature.CELSIUS,
            state_class=SensorStateClass.MEASUREMENT, suggested_display_precision=1,
            entity_category=EntityCategory.DIAGNOSTIC, value_fn=_listed("temperatures", i),
        ))
    return out


@dataclass(frozen=True, kw_only=True)
class LinkSensorDescription(SensorEntityDescription):
    """A diagnostic sensor about the device's link rather than its data."""

    value_fn: Callable[[BleBatterySolarCoordinator], StateType]


LINK_SENSORS: tuple[LinkSensorDescription, ...] = (
    LinkSensorDescription(
        key="rssi", device_class=SD.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT, entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False, value_fn=lambda c: c.rssi,
    ),
    *(
        LinkSensorDescription(
            key=key, translation_key=key, state_class=SensorStateClass.TOTAL_INCREASING,
            entity_category=EntityCategory.DIAGNOSTIC, entity_registry_enabled_default=False,
            value_fn=fn,
        )
        for key, fn in (
            ("link_connects", lambda c: c.manager.device_stats(c.address).connects),
            ("link_reuses", lambda c: c.manager.device_stats(c.address).reuses),
            ("link_failures",
             lambda c: sum(c.manager.device_stats(c.address).failures.values())),
        )
    ),
)


@dataclass(frozen=True, kw_only=True)
class EnergySensorDescription(SensorEntityDescription):
    """Energy integrated from power; `source` is the power key it needs; `field` the counter."""

    source: str
    field: str


ENERGY_SENSORS: tuple[EnergySensorDescription, ...] = tuple(
    EnergySensorDescription(
        key=key, translation_key=key, source=source, field=field,
        device_class=SD.ENERGY, native_unit_of_measurement=WH,
        suggested_unit_of_measurement=KWH, suggested_display_precision=2,
        state_class=SensorStateClass.TOTAL_INCREASING,
    )
    for key, source, field in (
        ("charge_energy", "power", "charge_wh"),
        ("discharge_energy", "power", "discharge_wh"),
        ("pv_energy", "pv_power", "pv_wh"),
    )
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: BleBatterySolarConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create sensors for every value the device reports; add new ones as they appear."""
    if is_bank(entry):
        await async_setup_bank_sensors(hass, entry, async_add_entities)
        return
    driver = entry.runtime_data.driver
    controller = driver.kind == "controller"
    decoded = bool(driver.alarm_table())
    async_add_as_reported(
        entry, async_add_entities,
        lambda sample: _candidates(sample, controller=controller, alarms=decoded),
    )
    async_add_pack_sensors(entry, async_add_entities, _pack_candidates)


def _pack_candidates(pack: Sample) -> Iterator[BleSensorDescription]:
    """The value, cell and probe sensors one pack of a multi-pack device supports."""
    yield from (d for d in SENSORS if (d.exists_fn(pack) if d.exists_fn else d.key in pack))
    yield from _list_descriptions(pack)


def _candidates(
    sample: Sample, *, controller: bool, alarms: bool
) -> Iterator[tuple[EntityDescription, EntityFactory]]:
    """Every sensor the sample supports: values, cells and probes, energy, link statistics.

    A charge controller gets no battery-only sensors (bare power, charge and discharge
    energy): its voltage x current is its charging power, not a battery's.
    """
    skip = BATTERY_ONLY if controller else frozenset()
    present = (d for d in SENSORS if (d.exists_fn(sample) if d.exists_fn else d.key in sample))
    for description in (*(d for d in present if d.key not in skip), *_list_descriptions(sample)):
        yield description, BleSensor
    for energy in ENERGY_SENSORS:
        if energy.source in sample and energy.source not in skip:
            yield energy, EnergySensor
    if not controller and has_charge(sample):
        for time_to in TIME_TO:
            yield time_to, TimeToSensor
    if alarms and "problem_code" in sample:
        yield ALARMS, AlarmsSensor
    for link in LINK_SENSORS:
        yield link, LinkSensor
    yield CONNECTION, ConnectionSensor
    yield LAST_READ, LastReadSensor
    yield RELEASED_UNTIL, ReleasedUntilSensor


class BleSensor(BleBatterySolarEntity, SensorEntity):
    """A measured value of the device."""

    entity_description: BleSensorDescription

    @property
    def native_value(self) -> StateType:
        return self.entity_description.value_fn(self.coordinator.data or {})

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """E.g. which cell is the lowest or highest."""
        if (fn := self.entity_description.attributes_fn) is None:
            return None
        return fn(self.coordinator.data or {})

    @property
    def available(self) -> bool:
        """Unavailable when the last poll failed or did not carry this value."""
        return super().available and self.native_value is not None


class LinkSensor(BleBatterySolarEntity, SensorEntity):
    """Signal strength and connection statistics (diagnostic, disabled by default)."""

    entity_description: LinkSensorDescription

    @property
    def native_value(self) -> StateType:
        return self.entity_description.value_fn(self.coordinator)

    @property
    def available(self) -> bool:
        return True if self.entity_description.key != "rssi" else self.native_value is not None




class EnergySensor(BleBatterySolarEntity, RestoreSensor):
    """Charge, discharge or PV energy (Wh, total increasing) that survives restarts."""

    entity_description: EnergySensorDescription

    async def async_added_to_hass(self) -> None:
        """Continue counting from the last stored total."""
        await super().async_added_to_hass()
        # every successful poll adds energy, also when the readings did not change
        self.async_on_remove(self.coordinator.async_add_read_listener(self.async_write_ha_state))
        last = await self.async_get_last_sensor_data()
        if last is None or not isinstance(last.native_value, (int, float)):
            return
        energy = self.coordinator.energy
        field = self.entity_description.field
        setattr(energy, field, max(getattr(energy, field), float(last.native_value)))

    @property
    def native_value(self) -> float:
        return round(float(getattr(self.coordinator.energy, self.entity_description.field)), 3)
