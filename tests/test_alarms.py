"""Decoded alarms through Home Assistant: per-condition sensors, the list, events, triggers, repairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.device_registry import format_mac
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_get_device_automations,
)

from blesim import FAMILIES, VirtualProxy
from custom_components.ble_battery_solar.const import DOMAIN, EVENT_ALARM
from custom_components.ble_battery_solar.protocol import (
    CONDITIONS,
    DRIVERS,
    NEEDS_ACTION,
    Advertisement,
    active_alarms,
    get_driver,
    unnamed_bits,
)
from custom_components.ble_battery_solar.protocol.alarms import check_table

from .conftest import setup_entry
from .test_e2e_families import device_of

DECODED = ("jbd", "eleksol", "jk", "daly", "seplos")  # Eleksol packs speak JBD's protocol
# the bit of each family's problem_code that reports cell under-voltage protection
CELL_UNDERVOLTAGE = {"jbd": 1, "eleksol": 1, "jk": 11, "daly": 51, "seplos": 67}
SHORT_CIRCUIT = {"jbd": 10, "jk": 14, "seplos": 46}


def _ids(hass: HomeAssistant, entry_id: str, address: str) -> dict[str, str]:
    prefix = f"{format_mac(address)}_"
    return {
        e.unique_id.removeprefix(prefix): e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    }


def _variant(family: str) -> str | None:
    """The variant a simulated device of the family is set up with."""
    device = device_of(family)
    return get_driver(family).variant_for(
        Advertisement.from_any({**device.advertisement(), "address": device.address}))


def _events(hass: HomeAssistant) -> list[Event]:
    return async_capture_events(hass, EVENT_ALARM)


@pytest.mark.parametrize("family", sorted(DRIVERS))
def test_every_alarm_table_uses_the_shared_vocabulary(family: str) -> None:
    table = get_driver(family)().alarm_table()
    check_table(family, table)
    if family in DECODED:
        assert table, family


def test_every_condition_is_named_and_every_one_needing_action_has_an_issue() -> None:
    strings = json.loads((Path(__file__).parents[1] / "custom_components" / "ble_battery_solar"
                          / "strings.json").read_text())
    for condition in CONDITIONS:
        assert strings["entity"]["binary_sensor"][f"alarm_{condition}"]["name"], condition
        assert strings["device_automation"]["trigger_type"][f"alarm_{condition}"], condition
    for condition in NEEDS_ACTION:
        issue = strings["issues"][f"alarm_{condition}"]
        assert "{name}" in issue["title"], condition
        assert "{name}" in issue["description"], condition
    assert set(CONDITIONS) >= NEEDS_ACTION


def test_severity_is_the_highest_of_the_set_bits_and_unnamed_bits_are_kept() -> None:
    table = get_driver("daly")().alarm_table()
    code = 1 << 48 | 1 << 49 | 1 << 40 | 1 << 12  # cell OV warning + protection, imbalance
    assert active_alarms(table, code) == {
        "cell_overvoltage": "protection", "cell_imbalance": "warning"}
    assert unnamed_bits(table, code) == 1 << 12
    assert list(active_alarms(get_driver("jbd")().alarm_table(), 0x7FF)) == [
        c for c in CONDITIONS if c in {
            "short_circuit", "cell_overvoltage", "cell_undervoltage", "pack_overvoltage",
            "pack_undervoltage", "charge_overcurrent", "discharge_overcurrent",
            "charge_overtemperature", "charge_undertemperature", "discharge_overtemperature",
            "discharge_undertemperature"}
    ]


def test_seplos_v2_alarm_bytes_are_not_decoded_with_the_v3_table() -> None:
    assert get_driver("seplos")("v2").alarm_table() == {}
    assert get_driver("seplos")("v3").alarm_table()


@pytest.mark.parametrize("family", DECODED)
async def test_an_alarm_turns_its_sensor_on_lists_it_fires_events_and_clears(
    hass: HomeAssistant, proxy: VirtualProxy, family: str
) -> None:
    device = proxy.add(device_of(family))
    entry = await setup_entry(hass, device)
    ids = _ids(hass, entry.entry_id, device.address)
    events = _events(hass)
    sensor = ids["alarm_cell_undervoltage"]
    assert er.async_get(hass).async_get(sensor).entity_category == "diagnostic"
    state = hass.states.get(sensor)
    assert state.state == STATE_OFF
    assert state.attributes["device_class"] == "problem"
    assert hass.states.get(ids["alarms"]).state == "none"

    device.problem_code = 1 << CELL_UNDERVOLTAGE[family]
    await entry.runtime_data.async_refresh()
    state = hass.states.get(sensor)
    assert state.state == STATE_ON
    assert state.attributes["severity"] == "protection"
    listing = hass.states.get(ids["alarms"])
    assert listing.state == "Cell under-voltage"  # in words, from the translations
    assert listing.attributes["conditions"] == ["cell_undervoltage"]
    assert listing.attributes["severity"] == "protection"
    assert hass.states.get(ids["problem"]).state == STATE_ON
    others = [k for k in ids if k.startswith("alarm_") and k != "alarm_cell_undervoltage"]
    assert others
    assert all(hass.states.get(ids[k]).state == STATE_OFF for k in others)
    device_id = dr.async_get(hass).async_get_device_by_connection(
        (dr.CONNECTION_BLUETOOTH, device.address), entry.entry_id).id
    assert [(e.data["condition"], e.data["active"], e.data["device_id"]) for e in events] == [
        ("cell_undervoltage", True, device_id)]

    await entry.runtime_data.async_refresh()
    assert len(events) == 1  # once per streak

    device.problem_code = 0
    await entry.runtime_data.async_refresh()
    assert hass.states.get(sensor).state == STATE_OFF
    assert hass.states.get(ids["alarms"]).state == "none"
    assert [(e.data["condition"], e.data["active"]) for e in events] == [
        ("cell_undervoltage", True), ("cell_undervoltage", False)]


async def test_several_alarms_are_listed_in_order(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    device = proxy.add(device_of("jbd"))
    device.problem_code = 1 << 9 | 1 << 4  # discharge over-current, charge over-temperature
    entry = await setup_entry(hass, device)
    listing = hass.states.get(_ids(hass, entry.entry_id, device.address)["alarms"])
    assert listing.state == "Discharge over-current, Charge over-temperature"
    assert listing.attributes["conditions"] == ["discharge_overcurrent", "charge_overtemperature"]


async def test_a_condition_that_needs_the_owner_raises_a_repairs_issue(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    device = proxy.add(device_of("jbd"))
    entry = await setup_entry(hass, device)
    registry = ir.async_get(hass)
    device.problem_code = 1 << SHORT_CIRCUIT["jbd"] | 1 << 11  # short circuit, AFE fault
    await entry.runtime_data.async_refresh()
    short = registry.async_get_issue(DOMAIN, f"alarm_short_circuit_{entry.entry_id}")
    assert short is not None
    assert short.translation_key == "alarm_short_circuit"
    assert short.translation_placeholders == {"name": entry.title}
    hardware = registry.async_get_issue(DOMAIN, f"alarm_hardware_fault_{entry.entry_id}")
    assert hardware.severity is ir.IssueSeverity.ERROR
    device.problem_code = 1 << 0  # cell over-voltage: the BMS recovers by itself, no issue
    await entry.runtime_data.async_refresh()
    assert not [i for i in registry.issues.values() if i.domain == DOMAIN]


async def test_alarm_sensors_are_unavailable_while_reads_fail(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    device = proxy.add(device_of("jk"))
    entry = await setup_entry(hass, device)
    ids = _ids(hass, entry.entry_id, device.address)
    device.faults.corrupt = True
    await entry.runtime_data.async_refresh()
    assert hass.states.get(ids["alarm_cell_undervoltage"]).state == STATE_UNAVAILABLE
    assert hass.states.get(ids["alarms"]).state == STATE_UNAVAILABLE


@pytest.mark.parametrize(
    "family", [f for f in FAMILIES if not get_driver(f)(_variant(f)).alarm_table()])
async def test_families_without_a_table_get_no_decoded_alarm_entities(
    hass: HomeAssistant, proxy: VirtualProxy, family: str
) -> None:
    device = proxy.add(device_of(family))
    entry = await setup_entry(hass, device)
    ids = _ids(hass, entry.entry_id, device.address)
    assert not [k for k in ids if k.startswith("alarm_") or k == "alarms"]


async def test_an_alarm_device_trigger_runs_an_automation(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    device = proxy.add(device_of("jk"))
    entry = await setup_entry(hass, device)
    device_id = dr.async_get(hass).async_get_device_by_connection(
        (dr.CONNECTION_BLUETOOTH, device.address), entry.entry_id).id
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device_id)
    types = {t["type"] for t in triggers if t["domain"] == DOMAIN}
    assert {"alarm_short_circuit", "alarm_cell_undervoltage", "imbalance_started"} <= types
    assert "alarm_cell_overvoltage" not in types  # JK's alarm word has no such bit

    calls = async_capture_events(hass, "test_alarm_automation")
    assert await async_setup_component(hass, automation.DOMAIN, {automation.DOMAIN: [{
        "trigger": {"platform": "device", "domain": DOMAIN, "device_id": device_id,
                    "type": "alarm_short_circuit"},
        "action": {"event": "test_alarm_automation",
                   "event_data": {"severity": "{{ trigger.event.data.severity }}"}},
    }]})
    device.problem_code = 1 << SHORT_CIRCUIT["jk"]
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert [c.data["severity"] for c in calls] == ["protection"]
    device.problem_code = 0
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert len(calls) == 1  # the end of the condition is not its trigger


async def test_stale_alarm_issues_are_removed_on_unload(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    device = proxy.add(device_of("jbd"))
    device.problem_code = 1 << SHORT_CIRCUIT["jbd"]
    entry = await setup_entry(hass, device)
    registry = ir.async_get(hass)
    assert registry.async_get_issue(DOMAIN, f"alarm_short_circuit_{entry.entry_id}")
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert registry.async_get_issue(DOMAIN, f"alarm_short_circuit_{entry.entry_id}") is None

