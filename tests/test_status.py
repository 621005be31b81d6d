"""The Connection status and Last successful read sensors through HA's states."""

from __future__ import annotations

import logging

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import format_mac
from homeassistant.util import dt as dt_util

from blesim import SimDevice, VirtualProxy
from custom_components.ble_battery_solar.const import (
    CONF_KEEP_ALIVE,
    CONF_RELEASE_MINUTES,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.ble_battery_solar.status import STATUSES

from .conftest import advance, run_until_done, setup_entry

CONNECTION = "sensor.sim_jbd_sp04s_connection"
LAST_READ = "sensor.sim_jbd_sp04s_last_successful_read"
VOLTAGE = "sensor.sim_jbd_sp04s_voltage"


async def _press(hass: HomeAssistant, entity_id: str) -> None:
    await hass.services.async_call("button", "press", {"entity_id": entity_id}, blocking=True)


async def test_connection_states_follow_the_link(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 300, CONF_KEEP_ALIVE: 60})
    state = hass.states.get(CONNECTION)
    assert state.state == "connected"
    assert state.attributes["device_class"] == "enum"
    assert state.attributes["options"] == STATUSES
    reg = er.async_get(hass).async_get(CONNECTION)
    assert reg.entity_category is None  # on the device page's main card
    first_read = dt_util.parse_datetime(hass.states.get(LAST_READ).state)
    assert abs((dt_util.utcnow() - first_read).total_seconds()) < 5

    await advance(hass, freezer, 62, step=1)  # the idle window closes the link
    assert proxy.links == {}
    assert hass.states.get(CONNECTION).state == "idle"

    coordinator = entry.runtime_data
    for fault, status in (("out_of_range", "out_of_range"), ("held_by_phone", "held_by_other"),
                          ("corrupt", "error")):
        setattr(jbd.faults, fault, True)
        await run_until_done(hass, freezer, coordinator.async_refresh())
        state = hass.states.get(CONNECTION)
        assert (state.state, fault) == (status, fault), coordinator.last_exception
        assert state.attributes["error"]
        assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
        # the time of the last good read stays, and stays available
        assert dt_util.parse_datetime(hass.states.get(LAST_READ).state) == first_read
        jbd.faults.clear()
        await advance(hass, freezer, 6, step=1)  # advertising again

    proxy.hold_slots(3)
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert hass.states.get(CONNECTION).state == "no_free_slot"
    proxy.hold_slots(0)
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert hass.states.get(CONNECTION).state == "connected"
    assert "error" not in hass.states.get(CONNECTION).attributes
    assert dt_util.parse_datetime(hass.states.get(LAST_READ).state) > first_read


async def test_released_says_until_when(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    await setup_entry(hass, jbd, {CONF_RELEASE_MINUTES: 10})
    before = dt_util.utcnow()
    await _press(hass, "button.sim_jbd_sp04s_release_connection")
    state = hass.states.get(CONNECTION)
    assert state.state == "released"
    until = dt_util.parse_datetime(state.attributes["released_until"])
    assert 599 <= (until - before).total_seconds() <= 605
    # the device page shows no attributes: a timestamp row says it too
    released_until = hass.states.get("sensor.sim_jbd_sp04s_released_until")
    assert dt_util.parse_datetime(released_until.state) == until.replace(microsecond=0)
    # Released values are unavailable (HA's entity-unavailable rule), the status is not.
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    assert hass.states.get(LAST_READ).state != STATE_UNAVAILABLE
    await _press(hass, "button.sim_jbd_sp04s_reconnect_now")
    state = hass.states.get(CONNECTION)
    assert state.state == "connected"
    assert "released_until" not in state.attributes
    assert hass.states.get("sensor.sim_jbd_sp04s_released_until").state == STATE_UNAVAILABLE


LOGGED = {"no_answer": "No answer in time", "held_by_phone": "Could not connect",
          "out_of_range": "not in range"}


@pytest.mark.parametrize("fault", LOGGED)
async def test_one_warning_per_failure_streak_with_the_address_once_and_no_hex(
    hass: HomeAssistant, jbd: SimDevice, freezer, caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    entry = await setup_entry(hass, jbd, {CONF_KEEP_ALIVE: 0})
    setattr(jbd.faults, fault, True)
    caplog.clear()
    for _ in range(3):
        await run_until_done(hass, freezer, entry.runtime_data.async_refresh(), step=0.5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
                and r.name.startswith("custom_components.ble_battery_solar")]
    assert len(warnings) == 1, warnings
    (message,) = warnings
    assert message.count(jbd.address) == 1
    assert LOGGED[fault] in message
    request_hex = [r.hex() for r in jbd.requests_seen]
    assert not any(h in message for h in request_hex)


async def test_last_read_moves_on_when_the_values_do_not_change(
    hass: HomeAssistant, jbd: SimDevice, freezer
) -> None:
    """HA's coordinator tells entities only about changed data; the read time still moves."""
    jbd.model.current = 0.0  # an idle pack: every read returns the same values
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 300})
    coordinator = entry.runtime_data
    await run_until_done(hass, freezer, coordinator.async_refresh())
    before, data = dt_util.parse_datetime(hass.states.get(LAST_READ).state), coordinator.data
    await advance(hass, freezer, 30, step=1)
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert coordinator.last_update_success
    assert coordinator.data == data  # nothing changed, so HA's listeners were not called
    after = dt_util.parse_datetime(hass.states.get(LAST_READ).state)
    assert (after - before).total_seconds() >= 30


async def test_an_idle_pack_shows_zero_battery_power_not_minus_zero(
    hass: HomeAssistant, jbd: SimDevice
) -> None:
    jbd.model.current = 0.0
    entry = await setup_entry(hass, jbd)
    assert entry.runtime_data.data["power"] == 0
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{format_mac(jbd.address)}_battery_power")
    assert hass.states.get(entity_id).state == "0.0"
