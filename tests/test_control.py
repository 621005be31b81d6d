"""Opt-in control through Home Assistant: MOSFET switches on simulated JBD, JK and Daly packs.

Without the "allow control" option no switch entity exists. With it, a switch
writes through the connection cache's cached link and shows the state the BMS
reports afterwards: a refused, ignored or unanswered write leaves it showing the
true state and tells the user why.
"""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import format_mac

from blesim import SimDevice, VirtualProxy, make_device
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.const import CONF_ALLOW_CONTROL, DOMAIN

from .conftest import run_until_done, setup_entry

ADDRESSES = {"jbd": "A5:C2:37:10:00:21", "jk": "C8:47:80:0D:08:22", "daly": "40:16:09:01:53:23"}
ALLOW = {CONF_ALLOW_CONTROL: True}


def switch_id(hass: HomeAssistant, device: SimDevice, key: str) -> str | None:
    return er.async_get(hass).async_get_entity_id(
        SWITCH_DOMAIN, DOMAIN, f"{format_mac(device.address)}_{key}")


async def press(hass: HomeAssistant, freezer: Any, entity_id: str, on: bool) -> None:
    await run_until_done(hass, freezer, hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON if on else SERVICE_TURN_OFF,
        {ATTR_ENTITY_ID: entity_id}, blocking=True))


@pytest.fixture
def device(request: pytest.FixtureRequest, proxy: VirtualProxy) -> SimDevice:
    family = getattr(request, "param", "jbd")
    return proxy.add(make_device(family, ADDRESSES[family]))


async def test_no_switch_without_the_option(hass: HomeAssistant, device: SimDevice) -> None:
    entry = await setup_entry(hass, device)
    assert entry.runtime_data.last_update_success
    assert hass.states.async_entity_ids(SWITCH_DOMAIN) == []
    assert not [e for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
                if e.domain == SWITCH_DOMAIN]
    # the coordinator refuses too, whatever calls it
    with pytest.raises(HomeAssistantError) as err:
        await entry.runtime_data.async_control("dischrg_mosfet", False)
    assert err.value.translation_key == "control_disabled"
    assert device.model.discharge_switch


@pytest.mark.parametrize("device", ["jbd", "jk", "daly"], indirect=True)
async def test_switches_follow_the_bms(
    hass: HomeAssistant, freezer: Any, proxy: VirtualProxy, device: SimDevice
) -> None:
    entry = await setup_entry(hass, device, ALLOW)
    charging = switch_id(hass, device, "chrg_mosfet")
    discharging = switch_id(hass, device, "dischrg_mosfet")
    assert charging
    assert discharging
    assert hass.states.get(discharging).state == STATE_ON
    connects = get_manager(hass).device_stats(device.address).connects

    await press(hass, freezer, discharging, False)
    assert not device.model.discharge_switch  # the pack really switched
    assert device.model.current == 0.0  # the load is cut
    assert hass.states.get(discharging).state == STATE_OFF
    assert hass.states.get(charging).state == STATE_ON
    current = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{format_mac(device.address)}_current")
    assert current
    assert float(hass.states.get(current).state) == 0.0

    await press(hass, freezer, discharging, True)
    assert device.model.discharge_switch
    assert hass.states.get(discharging).state == STATE_ON
    await press(hass, freezer, charging, False)
    assert not device.model.charge_switch
    assert hass.states.get(charging).state == STATE_OFF
    assert hass.states.get(discharging).state == STATE_ON  # the other switch kept its state
    # every write went over the link the cache already held
    assert get_manager(hass).device_stats(device.address).connects == connects
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert proxy.leaked == 0


@pytest.mark.parametrize(
    ("device", "case"),
    [("jbd", ("refuse_control", "control_refused")), ("daly", ("refuse_control", "control_refused")),
     ("jbd", ("ignore_control", "control_not_applied")),
     ("daly", ("ignore_control", "control_not_applied")),
     ("jk", ("ignore_control", "control_not_applied"))],
    indirect=["device"],
)
async def test_refused_or_ignored_write_shows_the_true_state(
    hass: HomeAssistant, freezer: Any, proxy: VirtualProxy, device: SimDevice,
    case: tuple[str, str],
) -> None:
    fault, reason = case
    entry = await setup_entry(hass, device, ALLOW)
    discharging = switch_id(hass, device, "dischrg_mosfet")
    assert discharging
    setattr(device.faults, fault, True)
    with pytest.raises(HomeAssistantError) as err:
        await press(hass, freezer, discharging, False)
    assert err.value.translation_key == reason
    assert device.model.discharge_switch
    assert hass.states.get(discharging).state == STATE_ON
    assert entry.runtime_data.data["dischrg_mosfet"] is True
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert proxy.leaked == 0


async def test_unanswered_write_never_shows_the_requested_state(
    hass: HomeAssistant, freezer: Any, proxy: VirtualProxy, device: SimDevice
) -> None:
    """The device stops answering: the write fails, the switch keeps what was last reported."""
    entry = await setup_entry(hass, device, ALLOW)
    discharging = switch_id(hass, device, "dischrg_mosfet")
    assert discharging
    device.faults.no_answer = True
    with pytest.raises(HomeAssistantError) as err:
        await press(hass, freezer, discharging, False)
    assert err.value.translation_key == "control_failed"
    assert device.model.discharge_switch  # the write never reached the pack's logic
    assert hass.states.get(discharging).state != STATE_OFF
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert proxy.leaked == 0


async def test_option_adds_and_removes_the_switches(
    hass: HomeAssistant, freezer: Any, device: SimDevice
) -> None:
    entry = await setup_entry(hass, device)
    assert hass.states.async_entity_ids(SWITCH_DOMAIN) == []
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"].schema
    assert {str(k) for k in schema} >= {CONF_ALLOW_CONTROL, "live_interval"}
    options = {**{str(k): k.default() for k in schema}, CONF_ALLOW_CONTROL: True}
    assert options["live_interval"] == 5
    await hass.config_entries.options.async_configure(result["flow_id"], options)
    await run_until_done(hass, freezer, hass.async_block_till_done())
    assert len(hass.states.async_entity_ids(SWITCH_DOMAIN)) == 2
    hass.config_entries.async_update_entry(entry, options={**entry.options, CONF_ALLOW_CONTROL: False})
    await run_until_done(hass, freezer, hass.async_block_till_done())
    assert hass.states.async_entity_ids(SWITCH_DOMAIN) == []
    assert switch_id(hass, device, "chrg_mosfet") is None


async def test_a_stored_non_boolean_never_allows_control(
    hass: HomeAssistant, device: SimDevice
) -> None:
    entry = await setup_entry(hass, device, {CONF_ALLOW_CONTROL: "yes"})
    assert entry.options[CONF_ALLOW_CONTROL] is False
    assert hass.states.async_entity_ids(SWITCH_DOMAIN) == []


async def test_switch_over_either_proxy_path(
    hass: HomeAssistant, freezer: Any, make_any_proxy: Any
) -> None:
    """The same write and read-back through blesim's scanner and through HA's esphome proxy."""
    proxy = await make_any_proxy()
    device = proxy.add(make_device("jbd", "A5:C2:37:10:00:29"))
    entry = await setup_entry(hass, device, ALLOW)
    discharging = switch_id(hass, device, "dischrg_mosfet")
    assert discharging
    await press(hass, freezer, discharging, False)
    assert not device.model.discharge_switch
    assert hass.states.get(discharging).state == STATE_OFF
    device.faults.refuse_control = True
    with pytest.raises(HomeAssistantError):
        await press(hass, freezer, discharging, True)
    assert hass.states.get(discharging).state == STATE_OFF
    assert get_manager(hass).device_stats(device.address).connects == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_no_write_while_released_or_after_a_failed_read(
    hass: HomeAssistant, freezer: Any, device: SimDevice
) -> None:
    entry = await setup_entry(hass, device, ALLOW)
    coordinator = entry.runtime_data
    await run_until_done(hass, freezer, coordinator.async_release_for_app())
    writes = len(device.requests_seen)
    with pytest.raises(HomeAssistantError) as err:
        await coordinator.async_control("dischrg_mosfet", False)
    assert err.value.translation_key == "control_not_possible"
    assert len(device.requests_seen) == writes
    await run_until_done(hass, freezer, coordinator.async_reconnect_now())
    device.faults.no_answer = True
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert not coordinator.last_update_success
    writes = len(device.requests_seen)
    with pytest.raises(HomeAssistantError) as err:
        await coordinator.async_control("dischrg_mosfet", False)
    assert err.value.translation_key == "control_not_possible"
    assert len(device.requests_seen) == writes  # nothing was sent
    assert device.model.discharge_switch
    assert await hass.config_entries.async_unload(entry.entry_id)
