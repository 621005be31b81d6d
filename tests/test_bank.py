"""Battery banks through Home Assistant: created in the UI from configured packs, combined values."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import async_get_device_automations

from blesim import BatteryModel, VirtualProxy, make_device
from custom_components.ble_battery_solar.const import DOMAIN
from custom_components.ble_battery_solar.diagnostics import async_get_config_entry_diagnostics

from .conftest import setup_entry

BANK = "sensor.house_bank"


async def _two_packs(hass: HomeAssistant, proxy: VirtualProxy) -> tuple[Any, Any, Any, Any]:
    small = BatteryModel(cells=4, capacity_ah=100.0, soc=0.9, seed=3)
    small.current = -10.0
    large = BatteryModel(cells=4, capacity_ah=300.0, soc=0.5, seed=7)
    large.current = -20.0
    a = proxy.add(make_device("jbd", "5E:51:00:00:60:01", "PACK-A", model=small))
    b = proxy.add(make_device("jk", "5E:51:00:00:60:02", "PACK-B", model=large))
    return a, await setup_entry(hass, a), b, await setup_entry(hass, b)


async def _create_bank(hass: HomeAssistant, packs: list[str]) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["step_id"] == "user"
    choices = [o["value"] for o in result["data_schema"].schema["address"].config["options"]]
    assert "bank" in choices
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"address": "bank"})
    assert result["step_id"] == "bank"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "House bank", "packs": packs})
    await hass.async_block_till_done()
    return result


async def test_a_bank_combines_its_packs(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    a, entry_a, b, entry_b = await _two_packs(hass, proxy)
    result = await _create_bank(hass, [entry_a.entry_id, entry_b.entry_id])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    bank = result["result"]
    assert bank.state is ConfigEntryState.LOADED

    current = float(hass.states.get(f"{BANK}_current").state)
    assert current == pytest.approx(a.model.current + b.model.current, abs=0.05)
    power = float(hass.states.get(f"{BANK}_power").state)
    pack_power = [float(hass.states.get(f"sensor.pack_{x}_power").state) for x in "ab"]
    assert power == pytest.approx(sum(pack_power), abs=0.5)
    assert float(hass.states.get(f"{BANK}_battery_power_energy_dashboard").state) == \
        pytest.approx(-power, abs=0.5)
    # capacity-weighted: (90 Ah + 150 Ah) / 400 Ah, not the plain mean of 90 % and 50 %
    assert float(hass.states.get(f"{BANK}_battery").state) == pytest.approx(60.0, abs=0.6)
    assert float(hass.states.get(f"{BANK}_design_capacity").state) == pytest.approx(400.0)

    cells = {(name, i + 1): v for name, model in (("PACK-A", a.model), ("PACK-B", b.model))
             for i, v in enumerate(model.cell_voltages)}
    lowest = hass.states.get(f"{BANK}_lowest_cell_voltage")
    (pack, cell), volts = min(cells.items(), key=lambda kv: kv[1])
    assert float(lowest.state) == pytest.approx(volts, abs=0.0011)
    assert (lowest.attributes["pack"], lowest.attributes["cell"]) == (pack, cell)
    highest = hass.states.get(f"{BANK}_highest_cell_voltage")
    (pack, cell), volts = max(cells.items(), key=lambda kv: kv[1])
    assert (highest.attributes["pack"], highest.attributes["cell"]) == (pack, cell)

    energy = hass.states.get(f"{BANK}_discharge_energy")
    assert energy.attributes["state_class"] == "total_increasing"
    assert energy.attributes["unit_of_measurement"] == "kWh"

    # the bank is a device of its own; the packs keep theirs
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), bank.entry_id)
    assert [d.name for d in devices] == ["House bank"]
    assert dr.async_entries_for_config_entry(dr.async_get(hass), entry_a.entry_id)


async def test_a_bank_is_unavailable_while_a_pack_fails_and_follows_it_back(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    a, entry_a, _b, entry_b = await _two_packs(hass, proxy)
    await _create_bank(hass, [entry_a.entry_id, entry_b.entry_id])
    a.faults.corrupt = True
    await entry_a.runtime_data.async_refresh()
    assert hass.states.get(f"{BANK}_current").state == STATE_UNAVAILABLE  # not half a bank
    a.faults.corrupt = False
    a.model.current = -30.0
    await entry_a.runtime_data.async_refresh()
    assert float(hass.states.get(f"{BANK}_current").state) == pytest.approx(-50.0, abs=0.1)


async def test_bank_diagnostics(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    _a, entry_a, _b, entry_b = await _two_packs(hass, proxy)
    bank = (await _create_bank(hass, [entry_a.entry_id, entry_b.entry_id]))["result"]
    assert await async_get_config_entry_diagnostics(hass, bank) == {
        "bank": {"packs": 2, "reading": True}}


async def test_a_bank_needs_two_packs(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    _a, entry_a, _b, _entry_b = await _two_packs(hass, proxy)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"address": "bank"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Too small", "packs": [entry_a.entry_id]})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "bank_needs_two_packs"}


async def test_a_bank_waits_for_a_reloaded_pack(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    a, entry_a, _b, entry_b = await _two_packs(hass, proxy)
    bank = (await _create_bank(hass, [entry_a.entry_id, entry_b.entry_id]))["result"]
    assert await hass.config_entries.async_reload(entry_a.entry_id)
    await hass.async_block_till_done()
    assert bank.state is ConfigEntryState.LOADED
    a.model.current = -40.0
    await entry_a.runtime_data.async_refresh()
    assert float(hass.states.get(f"{BANK}_current").state) == pytest.approx(-60.0, abs=0.1)


async def test_one_pack_offers_no_bank(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    a = proxy.add(make_device("jbd", "5E:51:00:00:60:01", "PACK-A"))
    await setup_entry(hass, a)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT  # nothing new to add, no bank possible


async def test_a_bank_device_offers_no_triggers(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    _a, entry_a, _b, entry_b = await _two_packs(hass, proxy)
    bank = (await _create_bank(hass, [entry_a.entry_id, entry_b.entry_id]))["result"]
    (device,) = dr.async_entries_for_config_entry(dr.async_get(hass), bank.entry_id)
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device.id)
    assert [t for t in triggers if t["domain"] == DOMAIN] == []
