"""Multi-pack devices through Home Assistant: a device per pack, linked to the BT module.

blesim's Renogy hub (several batteries at Modbus ids 0x30...) and Seplos V3
system (packs in parallel) are set up through HA's real bluetooth stack; each
pack becomes a device "<device> pack <n>" whose `via_device_id` is the module's
device, with sensors showing that pack's simulated values. Changing the pack
count in the options takes effect (packs added, packs beyond the count removed),
and unloading leaves no client and no listener behind. A Daly P81 board (which
advertises like any Daly) is told apart by the config flow's probe.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import CONNECTION_BLUETOOTH, format_mac

from blesim import SimDevice, VirtualProxy, make_device
from custom_components.ble_battery_solar.const import CONF_PACKS, CONF_VARIANT, DOMAIN

from .conftest import run_until_done, setup_entry
from .test_connection_cache import assert_no_leak

RENOGY = "C4:D3:6A:30:00:01"
SEPLOS = "C4:D3:6A:30:00:02"
DALY = "C4:D3:6A:30:00:03"


def _state(hass: HomeAssistant, unique_id: str) -> Any:
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    assert entity_id is not None, unique_id
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state


def _number(hass: HomeAssistant, unique_id: str) -> float:
    return float(_state(hass, unique_id).state)


def _device_id(hass: HomeAssistant, unique_id: str) -> str | None:
    entity = er.async_get(hass).async_get(_state(hass, unique_id).entity_id)
    assert entity is not None
    return entity.device_id


def _pack_devices(hass: HomeAssistant, address: str) -> dict[int, dr.DeviceEntry]:
    registry = dr.async_get(hass)
    out: dict[int, dr.DeviceEntry] = {}
    prefix = f"{format_mac(address)}_pack"
    for device in registry.devices:
        for domain, ident in device.identifiers:
            if domain == DOMAIN and ident.startswith(prefix):
                out[int(ident.removeprefix(prefix))] = device
    return out


async def test_renogy_hub_one_device_per_battery(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    """Three batteries behind one BT module: three pack devices via the module, own values."""
    device: SimDevice = proxy.add(make_device("renogy_battery", RENOGY, variant="hub:3"))
    entry = await setup_entry(hass, device, {CONF_PACKS: 3})
    assert entry.state is ConfigEntryState.LOADED
    registry = dr.async_get(hass)
    module = registry.async_get_device_by_connection(
        (CONNECTION_BLUETOOTH, RENOGY), entry.entry_id)
    assert module is not None
    packs = _pack_devices(hass, RENOGY)
    assert sorted(packs) == [1, 2, 3]
    for number, pack in packs.items():
        assert pack.via_device_id == module.id
        assert pack.name == f"{entry.title} pack {number}"
        assert pack.config_entry_id == entry.entry_id

    mac, m = format_mac(RENOGY), device.model
    for number in (1, 2, 3):
        assert _number(hass, f"{mac}_pack{number}_voltage") == round(m.voltage, 1)
        assert _number(hass, f"{mac}_pack{number}_current") == round(m.current, 2)
        assert _number(hass, f"{mac}_pack{number}_cycles") == m.cycles
        # the simulated n-th battery holds 1 Ah less than the one before it
        charge = _number(hass, f"{mac}_pack{number}_cycle_charge")
        assert abs(charge - (m.remaining_ah - (number - 1))) < 0.01
        cells = [_number(hass, f"{mac}_pack{number}_cell_voltage_{i + 1}")
                 for i in range(len(m.cell_voltages))]
        assert cells == [round(v, 1) for v in m.cell_voltages]
        temp = _number(hass, f"{mac}_pack{number}_temperature_1")
        assert temp == round(m.temperatures[0], 1)
        # every pack entity sits on its pack's device
        assert _device_id(hass, f"{mac}_pack{number}_voltage") == packs[number].id
    # the system values stay on the module: the charge of all three batteries together
    system = _number(hass, f"{mac}_cycle_charge")
    assert abs(system - (3 * m.remaining_ah - 3)) < 0.01
    assert _device_id(hass, f"{mac}_voltage") == module.id

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)
    assert _state(hass, f"{mac}_pack2_voltage").state == STATE_UNAVAILABLE
    assert not entry.update_listeners


async def _set_options(hass: HomeAssistant, entry: Any, **changes: int) -> dict[str, Any]:
    """Submit the options form with `changes`; the form's schema keys are returned."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    fields = {str(key): key.default() for key in result["data_schema"].schema}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**fields, **changes})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    return fields


async def test_pack_count_option_takes_effect(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    """A BT module set up as one battery; the owner says 3, then 2: the devices follow."""
    device: SimDevice = proxy.add(make_device("renogy_battery", RENOGY, variant="hub:3"))
    entry = await setup_entry(hass, device)
    mac = format_mac(RENOGY)
    assert _pack_devices(hass, RENOGY) == {}
    # one battery: the module's own sensors show the first battery's charge
    assert abs(_number(hass, f"{mac}_cycle_charge") - device.model.remaining_ah) < 0.01

    fields = await _set_options(hass, entry, packs=3)
    assert fields[CONF_PACKS] == 1
    assert entry.runtime_data.driver.variant == "hub:3"
    assert sorted(_pack_devices(hass, RENOGY)) == [1, 2, 3]
    assert abs(_number(hass, f"{mac}_pack3_cycle_charge") - (device.model.remaining_ah - 2)) < 0.01

    fields = await _set_options(hass, entry, packs=2)
    assert fields[CONF_PACKS] == 3
    assert sorted(_pack_devices(hass, RENOGY)) == [1, 2]
    assert er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{mac}_pack3_voltage") is None
    assert abs(_number(hass, f"{mac}_cycle_charge") - (2 * device.model.remaining_ah - 1)) < 0.01

    # other options leave the driver (and the entry) as they are: no reload
    await _set_options(hass, entry, update_interval=60)
    assert entry.runtime_data.driver.variant == "hub:2"
    assert entry.runtime_data.update_interval.total_seconds() == 60

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)


async def test_seplos_parallel_packs(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    """Seplos V3 with two packs in parallel: a device per pack with its cells and probes."""
    device: SimDevice = proxy.add(make_device("seplos", SEPLOS, variant="v3:2"))
    entry = await setup_entry(hass, device)
    fields = await _set_options(hass, entry, packs=2)
    assert CONF_PACKS in fields
    assert entry.runtime_data.driver.variant == "v3:2"
    registry = dr.async_get(hass)
    module = registry.async_get_device_by_connection(
        (CONNECTION_BLUETOOTH, SEPLOS), entry.entry_id)
    assert module is not None
    packs = _pack_devices(hass, SEPLOS)
    assert sorted(packs) == [1, 2]
    mac, m = format_mac(SEPLOS), device.model
    for number, pack in packs.items():
        assert pack.via_device_id == module.id
        assert _number(hass, f"{mac}_pack{number}_voltage") == round(m.voltage, 2)
        assert _number(hass, f"{mac}_pack{number}_battery_level") == round(m.soc * 100, 1)
        cells = [_number(hass, f"{mac}_pack{number}_cell_voltage_{i + 1}")
                 for i in range(min(16, len(m.cell_voltages)))]
        assert cells == [round(v, 3) for v in m.cell_voltages[:16]]
        assert _device_id(hass, f"{mac}_pack{number}_cell_voltage_1") == pack.id
    # the system's current is both packs' together
    assert abs(_number(hass, f"{mac}_current") - 2 * m.current) < 0.05

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)


async def test_pack_option_only_where_the_device_cannot_tell(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    """A single-pack family's options have no pack count."""
    device: SimDevice = proxy.add(make_device("jbd", "A5:C2:37:10:00:09"))
    entry = await setup_entry(hass, device)
    fields = await _set_options(hass, entry)
    assert CONF_PACKS not in fields
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)


async def _discover_and_confirm(hass: HomeAssistant, freezer: Any, address: str) -> Any:
    await hass.async_block_till_done(wait_background_tasks=True)
    (flow,) = [f for f in hass.config_entries.flow.async_progress()
               if f["handler"] == DOMAIN and f["context"]["unique_id"] == address]
    result = await run_until_done(
        hass, freezer, hass.config_entries.flow.async_configure(flow["flow_id"], {}))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    return result


async def test_daly_p81_board_is_told_apart_by_the_probe(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    """An ESS-DL / 100Balance board advertises like any Daly; silent at 0xD2, asked at 0x81."""
    device: SimDevice = proxy.add(make_device("daly", DALY, variant="p81"))
    result = await _discover_and_confirm(hass, freezer, DALY)
    assert result["data"][CONF_VARIANT] == "p81"
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    mac, m = format_mac(DALY), device.model
    assert _number(hass, f"{mac}_voltage") == round(m.voltage, 1)
    assert _number(hass, f"{mac}_cycles") == m.cycles
    cells = [_number(hass, f"{mac}_cell_voltage_{i + 1}") for i in range(len(m.cell_voltages))]
    assert cells == [round(v, 3) for v in m.cell_voltages]
    # standard read first (unanswered), then the P81 read, then the polls at 0x81
    assert device.requests_seen[0][0] == 0xD2
    assert {r[0] for r in device.requests_seen[1:]} == {0x81}
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)


async def test_standard_daly_is_not_asked_as_p81(
    hass: HomeAssistant, proxy: VirtualProxy, freezer: Any
) -> None:
    device: SimDevice = proxy.add(make_device("daly", DALY))
    result = await _discover_and_confirm(hass, freezer, DALY)
    assert result["data"][CONF_VARIANT] is None
    assert all(r[0] == 0xD2 for r in device.requests_seen)
    assert await hass.config_entries.async_unload(result["result"].entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)
