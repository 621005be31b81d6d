"""Our sensors in Home Assistant's Energy dashboard, checked by HA's own energy validation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from homeassistant.components.energy import data as energy_data
from homeassistant.components.energy.validate import async_validate
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from blesim import make_device

from .conftest import advance, setup_entry

PACK = "sensor.sim_jbd_sp04s"
ROVER = "sensor.bt_th_66edfc11"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder (energy validation reads its statistics) must start before hass."""


async def test_energy_dashboard_validates_our_battery_and_solar_sensors(
    hass: HomeAssistant, make_proxy, freezer
) -> None:
    hour = dt_util.utcnow().replace(minute=0, second=0, microsecond=0)
    freezer.move_to(hour)
    proxy = make_proxy(slots=3)
    pack = proxy.add(make_device("jbd", "A5:C2:37:10:00:01"))
    pack.model.current = -10.0  # discharging
    rover = proxy.add(make_device("renogy_controller", "60:98:66:ED:FC:11", "BT-TH-66EDFC11"))
    rover.model.wall = lambda: 12.5 * 3600
    assert await async_setup_component(hass, "energy", {})
    await setup_entry(hass, pack)
    await setup_entry(hass, rover)

    # HA's battery power: positive while discharging (ours is positive while charging).
    power = float(hass.states.get(f"{PACK}_power").state)
    battery_power = hass.states.get(f"{PACK}_battery_power_energy_dashboard")
    assert power < 0
    assert float(battery_power.state) == pytest.approx(-power)
    assert battery_power.attributes["device_class"] == "power"
    assert er.async_get(hass).async_get(battery_power.entity_id).hidden_by is not None

    manager = await energy_data.async_get_manager(hass)
    await manager.async_update({
        "energy_sources": [
            {"type": "solar", "stat_energy_from": f"{ROVER}_energy_generated_total",
             "stat_rate": f"{ROVER}_pv_power", "config_entry_solar_forecast": None},
            {"type": "battery", "stat_energy_from": f"{PACK}_discharge_energy",
             "stat_energy_to": f"{PACK}_charge_energy",
             "power_config": {"stat_rate": battery_power.entity_id},
             "stat_soc": f"{PACK}_battery"},
        ],
    })
    # statistics are compiled for whole 5-minute periods; set-up takes a few seconds of the
    # frozen clock (more under load), so compile every period of the first 15 minutes
    end = hour + timedelta(minutes=15)
    await advance(hass, freezer, (end - dt_util.utcnow()).total_seconds() + 5, step=0.5)
    # the recorder writes states in its own thread: wait until they are committed
    await async_wait_recording_done(hass)
    for period in range(3):
        do_adhoc_statistics(hass, start=hour + timedelta(minutes=5 * period))
        await async_wait_recording_done(hass)

    result = (await async_validate(hass)).as_dict()
    assert result["energy_sources"] == [[], []], result


async def test_only_energy_counters_are_offered_as_energy_sources(
    hass: HomeAssistant, make_proxy
) -> None:
    """The Energy pickers list energy sensors with a total (sum) statistic: only counters."""
    proxy = make_proxy(slots=3)
    pack = proxy.add(make_device("jbd", "A5:C2:37:10:00:01"))
    rover = proxy.add(make_device("renogy_controller", "60:98:66:ED:FC:11", "BT-TH-66EDFC11"))
    await setup_entry(hass, pack)
    await setup_entry(hass, rover)
    sums = {
        s.entity_id for s in hass.states.async_all("sensor")
        if s.attributes.get("device_class") == "energy"
        and s.attributes.get("state_class") in ("total", "total_increasing")
    }
    assert sums == {
        f"{PACK}_charge_energy", f"{PACK}_discharge_energy",
        f"{ROVER}_energy_generated_today", f"{ROVER}_energy_generated_total", f"{ROVER}_pv_energy",
    }
    # stored energy is a level, not a counter: never offered as production
    stored = hass.states.get(f"{PACK}_stored_energy")
    assert stored.attributes["device_class"] == "energy_storage"
    assert stored.attributes["state_class"] == "measurement"
    assert all(s.attributes.get("unit_of_measurement") == "kWh" for s in
               (hass.states.get(e) for e in sums))
