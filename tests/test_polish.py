"""Buttons, energy sensors, repairs issues, diagnostics and device removal."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import mock_restore_cache_with_extra_data

from blesim import JbdDevice, SimDevice, VirtualProxy
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.const import (
    CONF_KEEP_ALIVE,
    CONF_RELEASE_MINUTES,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.ble_battery_solar.diagnostics import async_get_config_entry_diagnostics
from custom_components.ble_battery_solar.energy import EnergyIntegrator
from custom_components.ble_battery_solar.health import (
    CHURN_CLEAR_PER_HOUR,
    FAILING_AFTER,
    NO_SLOT_CLEAR_AFTER,
)

from .conftest import advance, run_until_done, setup_entry

VOLTAGE = "sensor.sim_jbd_sp04s_voltage"


async def _press(hass: HomeAssistant, entity_id: str) -> None:
    await hass.services.async_call("button", "press", {"entity_id": entity_id}, blocking=True)


async def test_release_button_frees_device_for_the_phone_app(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    entry = await setup_entry(hass, jbd, {CONF_RELEASE_MINUTES: 10, CONF_UPDATE_INTERVAL: 30})
    await _press(hass, "button.sim_jbd_sp04s_release_connection")
    assert proxy.links == {}
    assert proxy.opened == proxy.closed
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    assert entry.runtime_data.last_exception.translation_key == "released_for_app"
    assert hass.states.get("button.sim_jbd_sp04s_release_connection").state != STATE_UNAVAILABLE

    # The phone app connects meanwhile; we do not touch the device for 10 minutes.
    polls = len(jbd.requests_seen)
    await advance(hass, freezer, 9 * 60, step=5)
    assert len(jbd.requests_seen) == polls
    assert proxy.opened == 1
    await advance(hass, freezer, 61, step=1)
    assert len(jbd.requests_seen) > polls  # resumed by itself
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE


async def test_reconnect_button_ends_a_release_and_reconnects(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    await setup_entry(hass, jbd)
    await _press(hass, "button.sim_jbd_sp04s_release_connection")
    await _press(hass, "button.sim_jbd_sp04s_reconnect_now")
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE
    assert proxy.opened == 2
    assert len(proxy.links) == 1


def test_energy_integration_splits_charge_and_discharge() -> None:
    energy = EnergyIntegrator()
    energy.add(0, 100.0, None, max_gap=90)
    energy.add(36, 100.0, None, max_gap=90)  # 100 W for 0.01 h
    assert energy.charge_wh == pytest.approx(1.0)
    energy.add(72, -100.0, None, max_gap=90)  # crosses zero halfway
    assert energy.charge_wh == pytest.approx(1.25)
    assert energy.discharge_wh == pytest.approx(0.25)
    energy.add(72 + 600, -100.0, None, max_gap=90)  # a gap longer than 3 intervals
    assert energy.discharge_wh == pytest.approx(0.25)
    energy.add(708, -200.0, 50.0, max_gap=90)
    assert energy.discharge_wh == pytest.approx(0.25 + 1.5)
    energy.break_chain()
    energy.add(744, -200.0, 50.0, max_gap=90)
    assert energy.discharge_wh == pytest.approx(1.75)
    energy.add(780, -200.0, 50.0, max_gap=90)
    assert energy.pv_wh == pytest.approx(0.5)


async def test_energy_sensors_count_and_survive_restart(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    mock_restore_cache_with_extra_data(hass, [(
        State("sensor.sim_jbd_sp04s_discharge_energy", "1000.0"),
        {"native_value": 1000.0, "native_unit_of_measurement": "Wh"},
    )])
    jbd = proxy.add(JbdDevice("A5:C2:37:10:00:01"))
    jbd.model.current = -10.0  # about 133 W discharging
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 30})
    state = hass.states.get("sensor.sim_jbd_sp04s_discharge_energy")
    assert float(state.state) == 1.0  # 1000 Wh restored, shown in kWh
    assert state.attributes["unit_of_measurement"] == "kWh"
    assert state.attributes["state_class"] == "total_increasing"
    assert state.attributes["device_class"] == "energy"
    energy = entry.runtime_data.energy
    start = energy._last_time
    await advance(hass, freezer, 125, step=1)  # four polls at a 30 s interval
    assert energy._last_time - start >= 90  # at least three intervals integrated
    power = -float(hass.states.get("sensor.sim_jbd_sp04s_power").state)
    gained = energy.discharge_wh - 1000.0
    assert gained == pytest.approx(power * (energy._last_time - start) / 3600, rel=0.02)
    shown = float(hass.states.get("sensor.sim_jbd_sp04s_discharge_energy").state)
    assert shown == pytest.approx(energy.discharge_wh / 1000, abs=0.001)
    assert float(hass.states.get("sensor.sim_jbd_sp04s_charge_energy").state) == 0.0
    assert entry.runtime_data.energy.discharge_wh > 1000


async def test_no_free_slot_raises_and_clears_a_repairs_issue(
    hass: HomeAssistant, make_proxy, freezer, monkeypatch
) -> None:
    clock = [time.monotonic()]
    # The coordinator's clock only (patching time.monotonic would stop the event loop's).
    monkeypatch.setattr("custom_components.ble_battery_solar.coordinator.time",
                        SimpleNamespace(monotonic=lambda: clock[0]))
    proxy = make_proxy(slots=1)
    jbd = proxy.add(JbdDevice("A5:C2:37:10:00:01"))
    entry = await setup_entry(hass, jbd, {CONF_KEEP_ALIVE: 0})
    issues = ir.async_get(hass)
    proxy.connecting += 1  # another integration holds the only slot
    proxy.report_allocations()
    for _ in range(3):
        await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    issue = issues.async_get_issue(DOMAIN, f"no_free_slot_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "no_free_slot"
    proxy.connecting -= 1
    proxy.report_allocations()
    # One good read does not clear it (a busy proxy frees a slot now and then) ...
    await entry.runtime_data.async_refresh()
    assert entry.runtime_data.last_update_success
    assert issues.async_get_issue(DOMAIN, f"no_free_slot_{entry.entry_id}") is not None
    # ... half an hour without a slot shortage does.
    clock[0] += NO_SLOT_CLEAR_AFTER
    await entry.runtime_data.async_refresh()
    assert issues.async_get_issue(DOMAIN, f"no_free_slot_{entry.entry_id}") is None


async def test_device_failing_for_an_hour_raises_a_repairs_issue(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, monkeypatch
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    jbd.faults.corrupt = True
    clock = [time.monotonic()]
    # The coordinator's clock only (patching time.monotonic would stop the event loop's).
    monkeypatch.setattr("custom_components.ble_battery_solar.coordinator.time",
                        SimpleNamespace(monotonic=lambda: clock[0]))
    issues = ir.async_get(hass)
    issue_id = f"device_failing_{entry.entry_id}"
    await coordinator.async_refresh()
    clock[0] += FAILING_AFTER - 60
    await coordinator.async_refresh()
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    clock[0] += 120
    await coordinator.async_refresh()
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    since = issue.translation_placeholders["since"]  # local time the failures began
    began = dt_util.now() - timedelta(seconds=FAILING_AFTER + 60)
    parsed = datetime.strptime(since, "%Y-%m-%d %H:%M").replace(tzinfo=began.tzinfo)
    assert abs((parsed - began).total_seconds()) < 120
    created = issue.created
    clock[0] += 600
    await coordinator.async_refresh()  # still failing: the issue is left as it is
    assert issues.async_get_issue(DOMAIN, issue_id).created == created
    assert issues.async_get_issue(DOMAIN, issue_id).translation_placeholders["since"] == since
    jbd.faults.corrupt = False
    await coordinator.async_refresh()
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_connection_churn_raises_a_repairs_issue(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, monkeypatch
) -> None:
    entry = await setup_entry(hass, jbd)
    manager = get_manager(hass)
    for _ in range(31):
        proxy.links[jbd.address].peripheral_dropped()
        await hass.async_block_till_done()
        await entry.runtime_data.async_refresh()
    issue_id = f"connection_churn_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders["connects"] == "31"
    assert manager.device_stats(jbd.address).connects == 32
    assert proxy.opened == proxy.closed + 1
    # Hysteresis: more drops or fewer connects down to the clearing level leave the issue
    # (and the registry file) alone; at CHURN_CLEAR_PER_HOUR connects it goes.
    writes = _count_issue_writes(hass, monkeypatch)
    stats = manager.device_stats(jbd.address)
    for count in (33, 25, CHURN_CLEAR_PER_HOUR + 1):
        stats.connect_times = stats.connect_times[-count:]
        proxy.links[jbd.address].peripheral_dropped()
        await hass.async_block_till_done()
        await entry.runtime_data.async_refresh()
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id).translation_placeholders[
        "connects"] == "31"
    assert writes == []
    stats.connect_times = stats.connect_times[-(CHURN_CLEAR_PER_HOUR - 1):]
    proxy.links[jbd.address].peripheral_dropped()
    await hass.async_block_till_done()
    await entry.runtime_data.async_refresh()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert writes == ["delete"]


def _count_issue_writes(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every create/delete that reaches HA's issue registry (each one saves it)."""
    writes: list[str] = []
    registry = ir.async_get(hass)
    original_create, original_delete = registry.async_get_or_create, registry.async_delete

    def create(*args, **kwargs):
        writes.append("create")
        return original_create(*args, **kwargs)

    def delete(*args, **kwargs):
        writes.append("delete")
        return original_delete(*args, **kwargs)

    monkeypatch.setattr(registry, "async_get_or_create", create)
    monkeypatch.setattr(registry, "async_delete", delete)
    return writes


async def test_diagnostics_are_redacted_and_carry_statistics(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    jbd.faults.corrupt = True
    await entry.runtime_data.async_refresh()
    diag = await async_get_config_entry_diagnostics(hass, entry)
    text = repr(diag)
    assert jbd.address not in text
    assert jbd.name not in text
    assert diag["family"] == "jbd"
    assert diag["connection"]["connects"] == 1
    assert diag["connection"]["failures"] == {"malformed_response": 1}
    assert diag["connection"]["last_frames"][0].startswith("dd03")  # the bad frames, raw
    assert diag["connection_totals"]["peak_open_links"] == 1
    assert diag["last_update_success"] is False


async def test_device_page_offers_no_delete_and_the_entry_removes_the_device(
    hass: HomeAssistant, hass_ws_client, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    """One device per entry: Delete belongs to the entry, not the device page.

    The frontend offers Delete on a device only when the entry supports removing
    devices; removing the device through the websocket command the page uses is
    refused, and deleting the entry removes the device and closes its link.
    """
    entry = await setup_entry(hass, jbd)
    assert await async_setup_component(hass, "config", {})
    registry = dr.async_get(hass)
    device = registry.async_get_device_by_connection(
        (dr.CONNECTION_BLUETOOTH, jbd.address), entry.entry_id
    )
    assert device is not None
    client = await hass_ws_client(hass)

    await client.send_json_auto_id({"type": "config_entries/get", "domain": DOMAIN})
    response = await client.receive_json()
    assert [e["supports_remove_device"] for e in response["result"]] == [False]

    await client.send_json_auto_id(
        {
            "type": "config/device_registry/remove_config_entry",
            "config_entry_id": entry.entry_id,
            "device_id": device.id,
        }
    )
    response = await client.receive_json()
    assert not response["success"]
    assert registry.async_get(device.id) is not None
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert registry.async_get(device.id) is None
    assert proxy.links == {}
    assert proxy.opened == proxy.closed


def test_every_charging_state_a_driver_reports_is_a_translated_enum_option() -> None:
    """A controller's state never shows as "unknown" because the sensor does not list it."""
    import json
    from pathlib import Path

    from custom_components.ble_battery_solar.protocol.devices import (
        epever,
        renogy_controller,
        renogy_inverter,
        votronic,
    )
    from custom_components.ble_battery_solar.sensor import CHARGING_STATES

    reported = {
        *renogy_controller.ROVER_STATES, *renogy_controller.DCC_STATES.values(),
        *epever.STAGES, *renogy_inverter.STATES.values(), *(s for _b, s in votronic.PHASES),
        "current_limiting", "standby",
    }
    assert reported <= set(CHARGING_STATES)
    strings = json.loads((Path(__file__).parents[1] / "custom_components" / "ble_battery_solar"
                          / "strings.json").read_text())
    assert set(strings["entity"]["sensor"]["charging_state"]["state"]) == set(CHARGING_STATES)
