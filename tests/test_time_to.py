"""Time to full and time to empty through Home Assistant: smoothed, unknown while idle."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant

from blesim import BatteryModel, VirtualProxy, make_device
from custom_components.ble_battery_solar.const import CONF_UPDATE_INTERVAL

from .conftest import advance, setup_entry

FULL = "sensor.sim_jbd_sp04s_time_to_full"
EMPTY = "sensor.sim_jbd_sp04s_time_to_empty"


async def _pack(hass: HomeAssistant, proxy: VirtualProxy, current: float, soc: float) -> Any:
    model = BatteryModel(cells=4, capacity_ah=100.0, soc=soc)
    model.current = current
    pack = proxy.add(make_device("jbd", "5E:51:00:00:50:01", "SIM-JBD-SP04S", model=model))
    await setup_entry(hass, pack, {CONF_UPDATE_INTERVAL: 10})
    return pack


def _hours(hass: HomeAssistant, entity_id: str) -> float:
    return float(hass.states.get(entity_id).state)


async def test_discharging_pack_shows_time_to_empty_in_hours(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    await _pack(hass, proxy, current=-10.0, soc=0.8)
    empty = hass.states.get(EMPTY)
    assert empty.attributes["device_class"] == "duration"
    assert empty.attributes["unit_of_measurement"] == "h"
    assert _hours(hass, EMPTY) == pytest.approx(8.0, abs=0.05)  # 80 Ah at 10 A
    assert hass.states.get(FULL).state == STATE_UNKNOWN  # not 0, not infinity


async def test_charging_pack_shows_time_to_full(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    await _pack(hass, proxy, current=20.0, soc=0.5)
    assert _hours(hass, FULL) == pytest.approx(2.5, abs=0.05)  # 50 Ah missing at 20 A
    assert hass.states.get(EMPTY).state == STATE_UNKNOWN


async def test_idle_pack_is_unknown_not_zero_or_infinite(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    await _pack(hass, proxy, current=0.0, soc=0.6)
    for entity_id in (FULL, EMPTY):
        assert hass.states.get(entity_id).state == STATE_UNKNOWN


async def test_a_load_peak_is_smoothed_and_a_lasting_load_is_followed(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    pack = await _pack(hass, proxy, current=-10.0, soc=0.8)
    before = _hours(hass, EMPTY)
    pack.model.current = -40.0  # a kettle on the inverter
    await advance(hass, freezer, 10.5, step=0.5)
    after_one = _hours(hass, EMPTY)
    assert 5.0 < after_one < before  # not the instantaneous 2 h
    pack.model.current = -10.0  # the kettle is done
    await advance(hass, freezer, 10, step=0.5)
    assert _hours(hass, EMPTY) > after_one  # recovers towards 8 h

    pack.model.current = -40.0  # a lasting load
    await advance(hass, freezer, 600, step=1)
    charge = pack.model.remaining_ah
    assert _hours(hass, EMPTY) == pytest.approx(charge / 40.0, rel=0.05)


async def test_a_change_of_direction_starts_afresh(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    pack = await _pack(hass, proxy, current=-10.0, soc=0.5)
    pack.model.current = 20.0  # the sun comes out
    await advance(hass, freezer, 10.5, step=0.5)
    assert hass.states.get(EMPTY).state == STATE_UNKNOWN
    missing = 100.0 - pack.model.remaining_ah
    assert _hours(hass, FULL) == pytest.approx(missing / 20.0, rel=0.02)


async def test_unavailable_while_reads_fail(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    pack = await _pack(hass, proxy, current=-10.0, soc=0.8)
    pack.faults.no_answer = True
    await advance(hass, freezer, 30, step=0.5)
    assert hass.states.get(EMPTY).state == STATE_UNAVAILABLE
