"""A calm device page: what is diagnostic, which cell is lowest, charging, controllers, options."""

from __future__ import annotations

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import selector
from homeassistant.helpers.device_registry import format_mac

from blesim import BatteryModel, SimDevice, VirtualProxy, make_device
from custom_components.ble_battery_solar.const import CONF_RELEASE_MINUTES, DOMAIN
from custom_components.ble_battery_solar.sensor import CHARGING_STATES

from .conftest import setup_entry

PACK = "5E:51:00:00:10:16"
ROVER = "5E:51:00:00:20:01"


def _by_key(hass: HomeAssistant, entry_id: str, address: str) -> dict[str, er.RegistryEntry]:
    prefix = f"{format_mac(address)}_"
    return {
        e.unique_id.removeprefix(prefix): e
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    }


async def test_sixteen_cell_pack_keeps_its_internals_on_the_diagnostic_card(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    pack = proxy.add(make_device("jk", PACK, "JK_B2A24S15P", model=BatteryModel(cells=16)))
    entry = await setup_entry(hass, pack)
    entities = _by_key(hass, entry.entry_id, PACK)
    cells = [f"cell_voltage_{i}" for i in range(1, 17)]
    probes = [k for k in entities if k.startswith("temperature_")]
    assert probes
    internals = [*cells, *probes, "chrg_mosfet", "dischrg_mosfet", "balancer", "problem_code"]
    for key in internals:
        assert entities[key].entity_category is EntityCategory.DIAGNOSTIC, key
        assert entities[key].disabled_by is None, key  # still enabled, still recorded
        assert hass.states.get(entities[key].entity_id) is not None, key
    for key in ("voltage", "current", "power", "battery_level", "min_cell_voltage",
                "max_cell_voltage", "delta_voltage", "charging", "connection", "problem"):
        assert entities[key].entity_category is None, key
    primary = [k for k, e in entities.items() if e.entity_category is None]
    # the pack (with its imbalance alert and time to full/empty), not 16 cells and probes
    assert len(primary) <= 23, primary

    voltages = [float(hass.states.get(entities[c].entity_id).state) for c in cells]
    lowest = hass.states.get(entities["min_cell_voltage"].entity_id)
    highest = hass.states.get(entities["max_cell_voltage"].entity_id)
    assert float(lowest.state) == min(voltages)
    assert lowest.attributes["cell"] == voltages.index(min(voltages)) + 1
    assert highest.attributes["cell"] == voltages.index(max(voltages)) + 1
    assert lowest.attributes["cell"] != highest.attributes["cell"]


@pytest.mark.parametrize(("current", "state"), [(-2.5, "off"), (8.0, "on")])
async def test_charging_binary_sensor(
    hass: HomeAssistant, proxy: VirtualProxy, current: float, state: str
) -> None:
    model = BatteryModel(cells=4)
    model.current = current
    pack = proxy.add(make_device("jbd", "A5:C2:37:10:00:33", model=model))
    await setup_entry(hass, pack)
    charging = hass.states.get("binary_sensor.sim_jbd_sp04s_charging")
    assert charging.attributes["device_class"] == "battery_charging"
    assert charging.state == state


async def test_charge_controller_page(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    rover = proxy.add(make_device("renogy_controller", ROVER, "BT-TH-66EDFC11"))
    rover.model.wall = lambda: 12.5 * 3600  # noon: the sun shines
    entry = await setup_entry(hass, rover)
    assert entry.state is ConfigEntryState.LOADED
    entities = _by_key(hass, entry.entry_id, ROVER)
    # a controller's voltage x current is its charging power, not a battery's power
    assert not {"power", "charge_energy", "discharge_energy"} & set(entities)
    state = hass.states.get(entities["charging_state"].entity_id)
    assert state.attributes["device_class"] == "enum"
    assert state.attributes["options"] == CHARGING_STATES
    assert state.state in CHARGING_STATES
    assert state.state == rover.model.charging_state
    for key in ("energy_generated_today", "energy_generated_total", "pv_energy"):
        energy = hass.states.get(entities[key].entity_id)
        assert energy.attributes["unit_of_measurement"] == "kWh", key
        assert energy.attributes["device_class"] == "energy"
        assert energy.attributes["state_class"] == "total_increasing"
    today = float(hass.states.get(entities["energy_generated_today"].entity_id).state)
    assert today == pytest.approx(rover.model.energy_today / 1000, abs=0.002)


# family -> (advertised name, manufacturer, model) shown on the device page
SHOWN = {
    "jbd": ("SP04S020-L4S", "JBD", "SP04S020-L4S"),  # the advertised name
    "renogy_controller": ("BT-TH-66EDFC11", "Renogy", "RNG-CTRL-RVR40"),  # reported
    "ble_battery_service": ("Camper Battery", None, "Camper Battery"),  # no brand
}


@pytest.mark.parametrize("family", SHOWN)
async def test_device_says_brand_and_model_not_the_protocol(
    hass: HomeAssistant, proxy: VirtualProxy, family: str
) -> None:
    name, manufacturer, model = SHOWN[family]
    device: SimDevice = proxy.add(make_device(family, "5E:51:00:00:30:01", name))
    entry = await setup_entry(hass, device)
    found = dr.async_get(hass).async_get_device_by_connection(
        (dr.CONNECTION_BLUETOOTH, device.address), entry.entry_id
    )
    assert (found.manufacturer, found.model) == (manufacturer, model)


async def test_release_time_is_a_number_box_with_its_unit(
    hass: HomeAssistant, jbd: SimDevice
) -> None:
    entry = await setup_entry(hass, jbd)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = {str(k): v for k, v in result["data_schema"].schema.items()}
    release = fields[CONF_RELEASE_MINUTES]
    assert isinstance(release, selector.NumberSelector)
    assert release.config["mode"] == selector.NumberSelectorMode.BOX
    assert release.config["unit_of_measurement"] == "min"
    numbers = [f for f in fields.values() if not isinstance(f, selector.BooleanSelector)]
    assert all(f.config["mode"] == selector.NumberSelectorMode.BOX for f in numbers)
    assert len(numbers) == len(fields) - 2  # "Allow control" and "Pair" are the switches
    assert entry.domain == DOMAIN
