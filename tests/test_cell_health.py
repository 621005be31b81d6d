"""Cell health through Home Assistant: cell summaries, the imbalance alert, its event and trigger."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import selector
from homeassistant.helpers.device_registry import format_mac
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_get_device_automations,
)

from blesim import FAMILIES, BatteryModel, SolarModel, VirtualProxy, make_device
from custom_components.ble_battery_solar.const import (
    CONF_IMBALANCE_MINUTES,
    CONF_IMBALANCE_MV,
    CONF_UPDATE_INTERVAL,
    CONF_VARIANT,
    DOMAIN,
    EVENT_IMBALANCE,
)

from .conftest import advance, heard, make_entry, setup_entry
from .test_e2e_families import NO_CELL_DATA, device_of

PACK = "5E:51:00:00:40:01"
IMBALANCE = "binary_sensor.sim_jbd_sp04s_cell_imbalance"


def _entity_ids(hass: HomeAssistant, entry_id: str, address: str) -> dict[str, str]:
    prefix = f"{format_mac(address)}_"
    return {
        e.unique_id.removeprefix(prefix): e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    }


def _events(hass: HomeAssistant, event_type: str) -> list[Event]:
    return async_capture_events(hass, event_type)


async def _jbd(hass: HomeAssistant, proxy: VirtualProxy, **options: Any) -> Any:
    pack = proxy.add(make_device("jbd", PACK, "SIM-JBD-SP04S", model=BatteryModel(cells=4)))
    entry = await setup_entry(hass, pack, {CONF_UPDATE_INTERVAL: 10, **options})
    return pack, entry


CELL_FAMILIES = [f for f in FAMILIES if f not in NO_CELL_DATA | {"ble_battery_service"}]


@pytest.mark.parametrize("family", CELL_FAMILIES)
async def test_every_family_with_cells_gets_the_cell_summary_and_the_alert(
    hass: HomeAssistant, proxy: VirtualProxy, family: str
) -> None:
    device = proxy.add(device_of(family))
    if family == "renogy_controller":
        device.model.wall = lambda: 12.5 * 3600
    entry = await setup_entry(hass, device)
    ids = _entity_ids(hass, entry.entry_id, device.address)
    cells = sorted((k for k in ids if k.startswith("cell_voltage_")),
                   key=lambda k: int(k.rsplit("_", 1)[1]))
    if not cells:  # a controller that reports no cells
        assert "cell_imbalance" not in ids
        return
    voltages = [float(hass.states.get(ids[c]).state) for c in cells]
    value = {k: hass.states.get(ids[k]) for k in (
        "min_cell_voltage", "max_cell_voltage", "average_cell_voltage", "delta_voltage",
        "cell_imbalance")}
    assert float(value["min_cell_voltage"].state) == min(voltages)
    assert value["min_cell_voltage"].attributes["cell"] == voltages.index(min(voltages)) + 1
    assert float(value["max_cell_voltage"].state) == max(voltages)
    assert value["max_cell_voltage"].attributes["cell"] == voltages.index(max(voltages)) + 1
    assert float(value["average_cell_voltage"].state) == pytest.approx(
        sum(voltages) / len(voltages), abs=0.0005)
    if family != "daly":  # Daly reports its own spread, rounded to whole mV like the cells
        assert float(value["delta_voltage"].state) == pytest.approx(
            max(voltages) - min(voltages), abs=0.0015)
    alert = value["cell_imbalance"]
    assert alert.attributes["device_class"] == "problem"
    assert alert.state == STATE_OFF  # the model's cells are within a few mV
    assert alert.attributes["spread_mv"] == pytest.approx(
        (max(voltages) - min(voltages)) * 1000, abs=2)
    assert alert.attributes["threshold_mv"] == 50


async def test_imbalance_alert_waits_names_the_cell_fires_events_and_clears(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    pack, _entry = await _jbd(hass, proxy, **{CONF_IMBALANCE_MV: 40, CONF_IMBALANCE_MINUTES: 1})
    events = _events(hass, EVENT_IMBALANCE)
    assert hass.states.get(IMBALANCE).state == STATE_OFF

    pack.model.cell_faults[3] = -0.09  # cell 3 sags 90 mV below the others
    await advance(hass, freezer, 10.5, step=0.5)
    state = hass.states.get(IMBALANCE)
    assert state.state == STATE_OFF  # above the threshold, but not for a minute yet
    assert state.attributes["cell"] == 3
    assert state.attributes["lowest_cell"] == 3
    assert state.attributes["spread_mv"] > 80
    assert events == []

    await advance(hass, freezer, 60, step=0.5)
    state = hass.states.get(IMBALANCE)
    assert state.state == STATE_ON
    assert state.attributes["cell"] == 3
    assert state.attributes["threshold_mv"] == 40
    assert [e.data["type"] for e in events] == ["imbalance_started"]
    device = dr.async_get(hass).async_get_device_by_connection(
        (dr.CONNECTION_BLUETOOTH, PACK), _entry.entry_id)
    started = events[0].data
    assert started["device_id"] == device.id
    assert started["cell"] == 3
    assert started["lowest_cell"] == 3
    assert started["spread_mv"] > 80
    assert started["threshold_mv"] == 40

    await advance(hass, freezer, 30, step=0.5)
    assert len(events) == 1  # one event per streak, not one per read

    pack.model.cell_faults[3] = -0.037  # below 40 mV, above 80 % of it: stays on
    await advance(hass, freezer, 10, step=0.5)
    assert hass.states.get(IMBALANCE).state == STATE_ON
    pack.model.cell_faults.clear()
    await advance(hass, freezer, 10, step=0.5)
    assert hass.states.get(IMBALANCE).state == STATE_OFF
    assert [e.data["type"] for e in events] == ["imbalance_started", "imbalance_ended"]


async def test_a_short_excursion_does_not_raise_the_alert(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    pack, _entry = await _jbd(hass, proxy, **{CONF_IMBALANCE_MINUTES: 1})
    events = _events(hass, EVENT_IMBALANCE)
    pack.model.cell_faults[2] = 0.2
    await advance(hass, freezer, 30, step=0.5)
    pack.model.cell_faults.clear()  # back in balance before the minute is over
    await advance(hass, freezer, 10, step=0.5)
    pack.model.cell_faults[2] = 0.2  # the count starts again
    await advance(hass, freezer, 40, step=0.5)
    assert hass.states.get(IMBALANCE).state == STATE_OFF
    assert events == []


async def test_failed_reads_make_the_alert_unavailable_not_stale(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    pack, entry = await _jbd(hass, proxy, **{CONF_IMBALANCE_MINUTES: 0})
    pack.model.cell_faults[1] = 0.1
    await entry.runtime_data.async_refresh()
    assert hass.states.get(IMBALANCE).state == STATE_ON  # 0 minutes: at once
    pack.faults.no_answer = True
    await advance(hass, freezer, 30, step=0.5)
    assert hass.states.get(IMBALANCE).state == STATE_UNAVAILABLE
    pack.faults.no_answer = False
    pack.model.cell_faults.clear()
    await advance(hass, freezer, 30, step=0.5)
    assert hass.states.get(IMBALANCE).state == STATE_OFF


async def test_imbalance_device_trigger_runs_an_automation(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    pack, _entry = await _jbd(hass, proxy, **{CONF_IMBALANCE_MINUTES: 0})
    device = dr.async_get(hass).async_get_device_by_connection(
        (dr.CONNECTION_BLUETOOTH, PACK), _entry.entry_id)
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device.id)
    types = {t["type"] for t in triggers if t["domain"] == DOMAIN}
    assert {"imbalance_started", "imbalance_ended"} <= types

    calls = _events(hass, "test_imbalance_automation")
    assert await async_setup_component(hass, automation.DOMAIN, {automation.DOMAIN: [{
        "trigger": {"platform": "device", "domain": DOMAIN, "device_id": device.id,
                    "type": "imbalance_started"},
        "action": {"event": "test_imbalance_automation",
                   "event_data": {"cell": "{{ trigger.event.data.cell }}"}},
    }]})
    pack.model.cell_faults[4] = 0.12
    await advance(hass, freezer, 10.5, step=0.5)
    await hass.async_block_till_done()
    assert [c.data["cell"] for c in calls] == [4]


async def test_options_offer_the_imbalance_threshold_and_duration(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    _pack, entry = await _jbd(hass, proxy)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = {str(k): (k, v) for k, v in result["data_schema"].schema.items()}
    key, box = fields[CONF_IMBALANCE_MV]
    assert key.default() == 50
    assert isinstance(box, selector.NumberSelector)
    assert box.config["unit_of_measurement"] == "mV"
    key, box = fields[CONF_IMBALANCE_MINUTES]
    assert key.default() == 5
    assert box.config["unit_of_measurement"] == "min"
    result = await hass.config_entries.options.async_configure(result["flow_id"], {
        CONF_UPDATE_INTERVAL: 10, "keep_alive": 90, "release_minutes": 10,
        CONF_IMBALANCE_MV: 25, CONF_IMBALANCE_MINUTES: 0,
    })
    await hass.async_block_till_done()
    assert entry.options[CONF_IMBALANCE_MV] == 25
    await entry.runtime_data.async_refresh()
    assert hass.states.get(IMBALANCE).attributes["threshold_mv"] == 25


async def test_a_solar_controller_has_no_cell_alert(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    rover = proxy.add(make_device("renogy_controller", "5E:51:00:00:40:02", "BT-TH-66EDFC11",
                                  model=SolarModel()))
    entry = await setup_entry(hass, rover)
    assert "cell_imbalance" not in _entity_ids(hass, entry.entry_id, rover.address)


async def test_parallel_packs_name_the_pack_of_the_cell(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    system = proxy.add(make_device("seplos", "5E:51:00:00:40:03", variant="v3:2"))
    system.model.cell_faults[3] = -0.1
    await heard(hass, system.address)
    entry = make_entry(system, {CONF_IMBALANCE_MINUTES: 0})
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, CONF_VARIANT: "v3:2"})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert len(entry.runtime_data.data["packs"]) == 2
    alert = hass.states.get(_entity_ids(hass, entry.entry_id, system.address)["cell_imbalance"])
    assert alert.state == STATE_ON
    assert (alert.attributes["lowest_pack"], alert.attributes["lowest_cell"]) == (1, 3)
    assert alert.attributes["pack"] in (1, 2)
