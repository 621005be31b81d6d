"""Battery banks: several configured packs shown as one battery.

A bank entry (`bank: True`, `packs`: the packs' config entry ids) reads nothing
itself: it follows its packs' coordinators and sums or weighs their latest readings
whenever one of them reads. Its values are unavailable while any pack's latest read
failed (a total missing one pack is not the bank's total). Packs keep their own
devices and entities; the bank gets a device of its own.

If a pack's entry reloads (its coordinator is replaced) the bank reloads too; while
a pack is not loaded the bank's setup waits (Home Assistant retries it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import (
    PERCENTAGE,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .const import DOMAIN

CONF_BANK = "bank"
CONF_MEMBERS = "packs"  # the member packs of a bank (entry ids)


def is_bank(entry: ConfigEntry) -> bool:
    """Whether a config entry is a battery bank rather than a device."""
    return bool(entry.data.get(CONF_BANK))


class BatteryBank:
    """The packs of one bank and their combined values."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        self.hass = hass
        self.entry = entry
        self.members: list[ConfigEntry] = []
        self._coordinators: list[Any] = []
        self._listeners: list[CALLBACK_TYPE] = []
        self._unsubscribe: list[CALLBACK_TYPE] = []

    def attach(self) -> None:
        """Follow the packs; ConfigEntryNotReady while one is not loaded."""
        for entry_id in self.entry.data[CONF_MEMBERS]:
            member = self.hass.config_entries.async_get_entry(entry_id)
            if member is None:
                raise ConfigEntryError(
                    translation_domain=DOMAIN, translation_key="bank_pack_removed",
                    translation_placeholders={"bank": self.entry.title},
                )
            if member.state is not ConfigEntryState.LOADED:
                self._retry_when_loaded(member)
                raise ConfigEntryNotReady(
                    translation_domain=DOMAIN, translation_key="bank_pack_not_loaded",
                    translation_placeholders={"pack": member.title},
                )
            self.members.append(member)
        self._coordinators = [m.runtime_data for m in self.members]
        for coordinator in self._coordinators:
            self._unsubscribe.append(coordinator.async_add_listener(self._changed))
        for member in self.members:
            self._unsubscribe.append(member.async_on_state_change(self._member_state_changed))

    def _retry_when_loaded(self, member: ConfigEntry) -> None:
        """Set the bank up as soon as a pack it waits for is loaded (not at the next retry).

        The listener removes itself once called with the pack loaded; it outlives this
        failed setup on purpose (a failed setup runs its unload callbacks at once).
        """
        bank = self.entry

        @callback
        def loaded() -> None:
            if member.state is not ConfigEntryState.LOADED:
                return
            self.hass.loop.call_soon(_remove)
            if bank.state is ConfigEntryState.SETUP_RETRY:
                self.hass.config_entries.async_schedule_reload(bank.entry_id)

        remove = member.async_on_state_change(loaded)

        def _remove() -> None:
            with contextlib.suppress(ValueError):
                remove()

    @callback
    def detach(self) -> None:
        """Stop following the packs."""
        for unsubscribe in self._unsubscribe:
            with contextlib.suppress(ValueError):  # a pack's list was already cleared
                unsubscribe()
        self._unsubscribe.clear()

    @callback
    def _member_state_changed(self) -> None:
        """A pack unloads or reloads: set the bank up again around its new coordinator."""
        if any(m.state is not ConfigEntryState.LOADED for m in self.members):
            self.hass.config_entries.async_schedule_reload(self.entry.entry_id)

    @callback
    def _changed(self) -> None:
        for update in list(self._listeners):
            update()

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update` whenever a pack read (successfully or not)."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update) if update in self._listeners else None

    # --- combined values --------------------------------------------------------------

    def samples(self) -> list[dict[str, Any]] | None:
        """The packs' latest readings, or None while any pack's latest read failed."""
        out = []
        for coordinator in self._coordinators:
            if not coordinator.last_update_success or not coordinator.data:
                return None
            out.append(coordinator.data)
        return out

    def total(self, key: str) -> float | None:
        """Sum of a value over the packs (None unless every pack reports it)."""
        samples = self.samples()
        if samples is None or any(s.get(key) is None for s in samples):
            return None
        return round(sum(float(s[key]) for s in samples), 3)

    def voltage(self) -> float | None:
        """Mean pack voltage (packs in parallel share it)."""
        total = self.total("voltage")
        return None if total is None else round(total / len(self._coordinators), 3)

    def battery_level(self) -> float | None:
        """State of charge weighted by capacity: charge left over total capacity."""
        samples = self.samples()
        if samples is None:
            return None
        if all(s.get("cycle_charge") is not None and s.get("design_capacity") for s in samples):
            charge = sum(s["cycle_charge"] for s in samples)
            capacity = sum(float(s["design_capacity"]) for s in samples)
            return round(min(100.0, 100 * float(charge) / capacity), 1)
        if all(s.get("battery_level") is not None and s.get("design_capacity") for s in samples):
            weights = [float(s["design_capacity"]) for s in samples]
            levels = [float(s["battery_level"]) for s in samples]
            return round(sum(w * v for w, v in zip(weights, levels, strict=True)) / sum(weights), 1)
        return None

    def energy(self, field: str) -> float | None:
        """A charge or discharge energy total (Wh) summed over the packs."""
        if self.samples() is None:
            return None
        return round(sum(float(getattr(c.energy, field)) for c in self._coordinators), 3)

    def extreme_cell(self, pick: Callable[[float, float], bool]) -> dict[str, Any] | None:
        """The lowest or highest cell of the bank: its voltage, pack and cell number."""
        samples = self.samples()
        if samples is None:
            return None
        best: dict[str, Any] | None = None
        for member, sample in zip(self.members, samples, strict=True):
            for index, volts in enumerate(sample.get("cell_voltages") or []):
                if best is None or pick(volts, best["voltage"]):
                    best = {"voltage": volts, "pack": member.title, "cell": index + 1}
        return best


@dataclass(frozen=True, kw_only=True)
class BankSensorDescription(SensorEntityDescription):
    """A bank value; `attributes_fn` adds e.g. which pack and cell."""

    value_fn: Callable[[BatteryBank], StateType]
    attributes_fn: Callable[[BatteryBank], dict[str, Any] | None] | None = None


def _cell(pick: Callable[[float, float], bool]) -> tuple[
    Callable[[BatteryBank], StateType], Callable[[BatteryBank], dict[str, Any] | None]
]:
    def value(bank: BatteryBank) -> StateType:
        found = bank.extreme_cell(pick)
        return None if found is None else found["voltage"]

    def attributes(bank: BatteryBank) -> dict[str, Any] | None:
        found = bank.extreme_cell(pick)
        return None if found is None else {"pack": found["pack"], "cell": found["cell"]}

    return value, attributes


def _energy(field: str) -> Callable[[BatteryBank], StateType]:
    return lambda bank: bank.energy(field)


SD, MEASUREMENT = SensorDeviceClass, SensorStateClass.MEASUREMENT
_LOW, _HIGH = _cell(lambda a, b: a < b), _cell(lambda a, b: a > b)
BANK_SENSORS: tuple[BankSensorDescription, ...] = (
    BankSensorDescription(key="voltage", device_class=SD.VOLTAGE, state_class=MEASUREMENT,
                          native_unit_of_measurement=UnitOfElectricPotential.VOLT,
                          suggested_display_precision=2, value_fn=BatteryBank.voltage),
    BankSensorDescription(key="current", device_class=SD.CURRENT, state_class=MEASUREMENT,
                          native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
                          suggested_display_precision=2, value_fn=lambda b: b.total("current")),
    BankSensorDescription(key="power", device_class=SD.POWER, state_class=MEASUREMENT,
                          native_unit_of_measurement=UnitOfPower.WATT,
                          suggested_display_precision=1, value_fn=lambda b: b.total("power")),
    # the Energy dashboard's sign: positive while the bank discharges (see sensor.py)
    BankSensorDescription(
        key="battery_power", translation_key="battery_power", device_class=SD.POWER,
        state_class=MEASUREMENT, native_unit_of_measurement=UnitOfPower.WATT,
        suggested_display_precision=1,
        value_fn=lambda b: None if (p := b.total("power")) is None else 0.0 - p,  # never -0.0
    ),
    BankSensorDescription(key="battery_level", device_class=SD.BATTERY, state_class=MEASUREMENT,
                          native_unit_of_measurement=PERCENTAGE, suggested_display_precision=0,
                          value_fn=BatteryBank.battery_level),
    BankSensorDescription(key="cycle_charge", translation_key="cycle_charge",
                          state_class=MEASUREMENT, native_unit_of_measurement="Ah",
                          suggested_display_precision=1, value_fn=lambda b: b.total("cycle_charge")),
    BankSensorDescription(key="design_capacity", translation_key="design_capacity",
                          native_unit_of_measurement="Ah", suggested_display_precision=1,
                          value_fn=lambda b: b.total("design_capacity")),
    *(
        BankSensorDescription(
            key=key, translation_key=key, device_class=SD.ENERGY,
            state_class=SensorStateClass.TOTAL_INCREASING,
            native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
            suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            suggested_display_precision=2, value_fn=_energy(field),
        )
        for key, field in (("charge_energy", "charge_wh"), ("discharge_energy", "discharge_wh"))
    ),
    BankSensorDescription(key="min_cell_voltage", translation_key="bank_min_cell_voltage",
                          device_class=SD.VOLTAGE, state_class=MEASUREMENT,
                          native_unit_of_measurement=UnitOfElectricPotential.VOLT,
                          suggested_display_precision=3, value_fn=_LOW[0], attributes_fn=_LOW[1]),
    BankSensorDescription(key="max_cell_voltage", translation_key="bank_max_cell_voltage",
                          device_class=SD.VOLTAGE, state_class=MEASUREMENT,
                          native_unit_of_measurement=UnitOfElectricPotential.VOLT,
                          suggested_display_precision=3, value_fn=_HIGH[0], attributes_fn=_HIGH[1]),
)


async def async_setup_bank_sensors(
    hass: HomeAssistant, entry: ConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """The bank's sensors."""
    bank: BatteryBank = entry.runtime_data
    async_add_entities(BankSensor(bank, d) for d in BANK_SENSORS)


class BankSensor(SensorEntity):
    """One combined value of a battery bank; unavailable while any pack's read failed."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: BankSensorDescription

    def __init__(self, bank: BatteryBank, description: BankSensorDescription) -> None:
        self.bank = bank
        self.entity_description = description
        self._attr_unique_id = f"bank_{bank.entry.entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"bank_{bank.entry.entry_id}")}, name=bank.entry.title,
            model=f"Battery bank of {len(bank.members)} packs",
        )

    async def async_added_to_hass(self) -> None:
        """Update whenever a pack reads."""
        self.async_on_remove(self.bank.async_add_listener(self.async_write_ha_state))

    @property
    def native_value(self) -> StateType:
        return self.entity_description.value_fn(self.bank)

    @property
    def available(self) -> bool:
        return self.native_value is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Which pack and cell (lowest/highest cell)."""
        fn = self.entity_description.attributes_fn
        return fn(self.bank) if fn is not None else None
