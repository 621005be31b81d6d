"""Solar controllers in a fault, through real Home Assistant on both ways in (blesim, ESPHome).

A simulated controller is put into a fault by setting its `problem_code` (laid out as
the family's fault word); the condition's binary sensor turns on, the Active alarms
sensor names it in words, the alarm event and the device trigger fire, and a
condition that needs the owner raises a repairs issue that clears with the fault.
"""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.device_registry import format_mac
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_get_device_automations,
)

from blesim import SimDevice, SolarModel
from custom_components.ble_battery_solar.const import CONF_FAMILY, CONF_VARIANT, DOMAIN, EVENT_ALARM

from .conftest import heard, make_entry
from .test_e2e_families import assert_no_leak, device_of

# per device (family/variant): a fault needing the owner (problem_code, condition, its
# name, severity), and a condition that clears by itself (problem_code, condition, name)
FAULTS: dict[str, tuple[int, str, str, str]] = {
    "renogy_controller": (1 << 28, "pv_reverse_polarity", "PV reverse polarity", "fault"),
    "renogy_controller/dcc": (1 << 25, "starter_reverse_polarity",
                              "Starter battery reverse polarity", "fault"),
    "srne": (1 << 24, "pv_short_circuit", "PV short circuit", "fault"),
    "epever": (1 << 16 + 13, "controller_mosfet_fault", "Controller MOSFET short", "fault"),
}
SELF_CLEARING: dict[str, tuple[int, str, str]] = {
    "renogy_controller": (1 << 21, "controller_overtemperature", "Controller over-temperature"),
    "renogy_controller/dcc": (1 << 27, "charge_undertemperature", "Charge under-temperature"),
    "srne": (1 << 18, "battery_undervoltage", "Battery under-voltage"),
    # battery status 3: low-voltage disconnect (a number, not bits 0 and 1)
    "epever": (0x0003, "battery_overdischarge", "Battery over-discharge"),
}


async def setup_with_variant(hass: HomeAssistant, device: SimDevice,
                             variant: str | None) -> MockConfigEntry:
    """A config entry for the device with a protocol variant (a DC-DC charger's is not
    told by its advertisement: the user tells it)."""
    await heard(hass, device.address)
    plain = make_entry(device)
    entry = MockConfigEntry(domain=DOMAIN, title=plain.title, unique_id=plain.unique_id,
                            data={**plain.data, CONF_FAMILY: device.family,
                                  CONF_VARIANT: variant})
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def _ids(hass: HomeAssistant, entry_id: str, address: str) -> dict[str, str]:
    prefix = f"{format_mac(address)}_"
    return {
        e.unique_id.removeprefix(prefix): e.entity_id
        for e in er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    }


@pytest.mark.parametrize("kind", sorted(FAULTS))
async def test_a_controller_in_a_fault_shows_signals_and_clears(
    hass: HomeAssistant, make_any_proxy: Any, kind: str
) -> None:
    family, _, variant = kind.partition("/")
    proxy = await make_any_proxy(slots=3)
    device = proxy.add(device_of(family, variant=variant or None))
    assert isinstance(device.model, SolarModel)
    device.model.wall = lambda: 12.5 * 3600  # noon: PV present, no "no input power" state
    entry = await setup_with_variant(hass, device, device.variant)
    coordinator = entry.runtime_data
    ids = _ids(hass, entry.entry_id, device.address)
    code, condition, name, severity = FAULTS[kind]
    sensor = ids[f"alarm_{condition}"]
    assert hass.states.get(sensor).state == STATE_OFF
    assert hass.states.get(sensor).attributes["device_class"] == "problem"
    assert hass.states.get(ids["alarms"]).state == "none"
    device_id = dr.async_get(hass).async_get_device_by_connection(
        (dr.CONNECTION_BLUETOOTH, device.address), entry.entry_id).id
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device_id)
    assert f"alarm_{condition}" in {t["type"] for t in triggers if t["domain"] == DOMAIN}
    calls = async_capture_events(hass, "test_solar_alarm")
    assert await async_setup_component(hass, automation.DOMAIN, {automation.DOMAIN: [{
        "trigger": {"platform": "device", "domain": DOMAIN, "device_id": device_id,
                    "type": f"alarm_{condition}"},
        "action": {"event": "test_solar_alarm",
                   "event_data": {"severity": "{{ trigger.event.data.severity }}"}},
    }]})
    events = async_capture_events(hass, EVENT_ALARM)
    registry = ir.async_get(hass)
    issue = f"alarm_{condition}_{entry.entry_id}"

    device.problem_code = code
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert coordinator.last_update_success
    state = hass.states.get(sensor)
    assert (state.state, state.attributes["severity"]) == (STATE_ON, severity)
    listing = hass.states.get(ids["alarms"])
    assert listing.state == name  # in words, from the translations
    assert listing.attributes["conditions"] == [condition]
    assert listing.attributes["unnamed_bits"] is None
    assert hass.states.get(ids["problem"]).state == STATE_ON
    assert [(e.data["condition"], e.data["active"], e.data["device_id"]) for e in events] == [
        (condition, True, device_id)]
    assert [c.data["severity"] for c in calls] == [severity]
    raised = registry.async_get_issue(DOMAIN, issue)
    assert raised is not None
    assert raised.translation_key == f"alarm_{condition}"
    assert raised.severity is ir.IssueSeverity.ERROR
    assert raised.translation_placeholders == {"name": entry.title}

    # the fault ends; another condition, one that clears by itself, starts
    other_code, other, other_name = SELF_CLEARING[kind]
    device.problem_code = other_code
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(sensor).state == STATE_OFF
    assert hass.states.get(ids[f"alarm_{other}"]).state == STATE_ON
    assert hass.states.get(ids["alarms"]).state == other_name
    assert registry.async_get_issue(DOMAIN, issue) is None
    assert not [i for i in registry.issues.values() if i.domain == DOMAIN]
    assert [(e.data["condition"], e.data["active"]) for e in events] == [
        (condition, True), (other, True), (condition, False)]

    device.problem_code = 0
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(ids["alarms"]).state == "none"
    assert len(calls) == 1  # the end of a condition is not its trigger
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)


async def test_unnamed_controller_bits_are_shown_raw(
    hass: HomeAssistant, make_any_proxy: Any, ble_path: str
) -> None:
    del ble_path  # both ways in
    proxy = await make_any_proxy(slots=3)
    device = proxy.add(device_of("srne"))
    device.problem_code = 1 << 19 | 1 << 2  # load short circuit and a reserved bit
    entry = await setup_with_variant(hass, device, None)
    listing = hass.states.get(_ids(hass, entry.entry_id, device.address)["alarms"])
    assert listing.state == "Load short circuit"
    assert listing.attributes["unnamed_bits"] == "0x4"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"alarm_load_short_circuit_{entry.entry_id}")
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING  # a protection, not a fault
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_simulated_epever_fault_fields_replace_the_models_state() -> None:
    device = device_of("epever")
    device.model.wall = lambda: 0.0  # midnight: the model reports "no input power"
    assert device.registers(0x01, 0x04)[0x3201] & 0xC000 == 0x4000
    device.problem_code = 0x8000 << 16 | 0x3000 << 32  # PV voltage too high, overload
    regs = device.registers(0x01, 0x04)
    assert regs[0x3201] & 0xC000 == 0x8000
    assert regs[0x3202] & 0x3000 == 0x3000


async def test_a_dc_dc_charger_set_up_as_a_rover_is_set_up_again_as_one(
    hass: HomeAssistant, make_any_proxy: Any
) -> None:
    """Nothing before its model read tells a DC-DC charger from a Rover: that read does.

    Set up as a Rover, its first poll reads no fault word with the Rover's meanings
    (its bit 24 is an alternator over-voltage, the Rover's a PV short); the entry
    stores the "dcc" variant and is set up again with the charger's poll and alarms.
    """
    proxy = await make_any_proxy(slots=3)
    device = proxy.add(device_of("renogy_controller", variant="dcc"))
    device.problem_code = 1 << 24
    entry = await setup_with_variant(hass, device, None)  # the entry is a plain Rover's
    await hass.async_block_till_done()
    assert entry.data[CONF_VARIANT] == "dcc"
    coordinator = entry.runtime_data
    assert coordinator.driver.variant == "dcc"
    assert coordinator.last_update_success
    assert coordinator.data["model"] == "RBC50D1S"
    ids = _ids(hass, entry.entry_id, device.address)
    assert "alarm_pv_short_circuit" not in ids
    assert hass.states.get(ids["alarm_alternator_overvoltage"]).state == STATE_ON
    assert not [i for i in ir.async_get(hass).issues.values()
                if i.domain == DOMAIN and "pv_short" in i.issue_id]
    assert await hass.config_entries.async_unload(entry.entry_id)

