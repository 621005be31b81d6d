"""Devices that answer only a bonded central: the config flow pairs them, entries re-pair.

Real Home Assistant, its bluetooth stack and bleak path, on blesim's own scanner and
on an ESPHome node through HA's esphome integration (`ble_path`). The simulated
devices refuse an unbonded central with ATT 0x05 or 0x0F as BlueZ and ESP-IDF report
it; nothing of the integration is mocked.
"""

from __future__ import annotations

from typing import Any

import pytest
from bleak.exc import BleakDBusError, BleakError
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir

from blesim.devices import INSUFFICIENT_ENCRYPTION
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.const import CONF_PAIR, DOMAIN
from custom_components.ble_battery_solar.pairing import (
    PAIRING_FAILED,
    PAIRING_REQUIRED,
    PAIRING_UNSUPPORTED,
    needs_pairing,
)

from .conftest import setup_entry, wait_real
from .test_e2e_families import add_through_ui, assert_no_leak, device_of, states_by_key


async def _link_closed(hass: HomeAssistant, address: str) -> None:
    """Wait until the cache has released a link the device dropped."""
    manager = get_manager(hass)
    await wait_real(lambda: not manager.is_open(address) and not manager._closing)
    await hass.async_block_till_done()


def _issue(hass: HomeAssistant, entry: Any) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"pairing_needed_{entry.entry_id}")


@pytest.mark.parametrize("family", ["jk", "jbd", "ble_battery_service", "epever", "votronic"])
async def test_config_flow_pairs_a_device_that_requires_it(
    hass: HomeAssistant, make_any_proxy: Any, family: str
) -> None:
    """The probe is refused, pairs through HA's bleak path, stores the setting; the entry
    then reads the device over its own link without pairing again. Votronic's connector is
    added through "identify unknown device", which probes every family."""
    proxy = await make_any_proxy()
    device = proxy.add(device_of(family, bonding=True))
    entry = await add_through_ui(hass, device)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.options == {CONF_PAIR: True}
    assert device.bonds == {proxy.source}
    assert device.pairings == 1
    assert entry.runtime_data.last_update_success
    states = states_by_key(hass, entry.entry_id, device.address)
    assert all(v != STATE_UNAVAILABLE for k, v in states.items() if k != "released_until")
    assert states["connection"] == "connected"
    # the probe's pairing: the entry's link needed none (the bond is kept)
    assert get_manager(hass).device_stats(device.address).pairings == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_a_device_that_needs_no_pairing_is_not_paired(
    hass: HomeAssistant, make_any_proxy: Any
) -> None:
    proxy = await make_any_proxy()
    device = proxy.add(device_of("jbd"))
    entry = await add_through_ui(hass, device)
    assert entry.options == {}
    assert device.pairings == 0
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


@pytest.mark.parametrize(
    ("proxy_kwargs", "fault", "error"),
    [({"pairing": False}, False, "pairing_unsupported"), ({}, True, "pairing_failed")],
    ids=["proxy_cannot_pair", "device_rejects_the_bond"],
)
async def test_flow_error_when_the_device_cannot_be_paired(
    hass: HomeAssistant, make_any_proxy: Any, proxy_kwargs: dict[str, Any], fault: bool,
    error: str,
) -> None:
    """A proxy without pairing support, or a refused bond: a clear form error, no entry."""
    proxy = await make_any_proxy(**proxy_kwargs)
    device = proxy.add(device_of("jbd", bonding=True, bonding_error=INSUFFICIENT_ENCRYPTION))
    device.faults.refuse_pairing = fault
    await hass.async_block_till_done(wait_background_tasks=True)
    (flow,) = [f for f in hass.config_entries.flow.async_progress() if f["handler"] == DOMAIN]
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert hass.config_entries.async_entries(DOMAIN) == []
    assert device.bonds == set()
    assert_no_leak(proxy)
    if not fault:
        return
    # the device accepts the bond now (in pairing mode): confirming again adds it
    device.faults.refuse_pairing = False
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["options"] == {CONF_PAIR: True}
    assert await hass.config_entries.async_unload(result["result"].entry_id)
    assert_no_leak(proxy)


async def test_entry_re_pairs_when_the_device_lost_its_bond(
    hass: HomeAssistant, make_any_proxy: Any
) -> None:
    """A reset device forgets the bond: the entry's next read is refused, pairs on the new
    link through the cache's normal path, and carries on; nothing leaks."""
    proxy = await make_any_proxy()
    device = proxy.add(device_of("jbd", bonding=True))
    entry = await setup_entry(hass, device, {CONF_PAIR: True})
    coordinator = entry.runtime_data
    stats = get_manager(hass).device_stats(device.address)
    assert coordinator.last_update_success
    assert (stats.pairings, device.pairings) == (1, 1)  # refused, paired, read
    for _ in range(3):
        await coordinator.async_refresh()  # reused link, no pairing
    assert (stats.pairings, stats.connects) == (1, 1)

    device.forget_bonds()  # reset: the link drops, the bond is gone
    await _link_closed(hass, device.address)
    await coordinator.async_refresh()
    assert coordinator.last_update_success, coordinator.last_exception
    assert (stats.pairings, device.pairings, stats.connects) == (2, 2, 2)
    assert device.bonds == {proxy.source}
    assert hass.states.get("sensor.sim_jbd_sp04s_connection").state == "connected"
    assert _issue(hass, entry) is None
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_refusal_without_the_setting_says_so_until_it_is_turned_on(
    hass: HomeAssistant, make_any_proxy: Any
) -> None:
    """Pairing off: the status says "not paired" and a repairs issue says what to do;
    turning the option on pairs at the next read and clears both."""
    proxy = await make_any_proxy()
    device = proxy.add(device_of("jbd", bonding=True))
    device.bonds.add(proxy.source)  # bonded some other way (bluetoothctl, an older setup)
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    assert coordinator.last_update_success
    device.forget_bonds()
    await _link_closed(hass, device.address)
    await coordinator.async_refresh()
    assert coordinator.last_exception.translation_key == PAIRING_REQUIRED
    connection = hass.states.get("sensor.sim_jbd_sp04s_connection")
    assert connection.state == "not_paired"
    assert "paired" in connection.attributes["error"]
    assert hass.states.get("sensor.sim_jbd_sp04s_voltage").state == STATE_UNAVAILABLE
    issue = _issue(hass, entry)
    assert issue is not None
    assert issue.translation_key == "pairing_needed"
    assert device.pairings == 0
    assert_no_leak(proxy)  # the refused link was released

    result = await hass.config_entries.options.async_init(entry.entry_id)
    defaults = {str(k): k.default() for k in result["data_schema"].schema}
    assert defaults[CONF_PAIR] is False
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**defaults, CONF_PAIR: True})
    await hass.async_block_till_done()
    assert entry.options[CONF_PAIR] is True
    assert entry.runtime_data is coordinator  # applied without a reload
    assert coordinator.last_update_success, coordinator.last_exception
    assert device.pairings == 1
    assert hass.states.get("sensor.sim_jbd_sp04s_connection").state == "connected"
    assert _issue(hass, entry) is None
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


@pytest.mark.parametrize(("can_pair", "kind"), [(False, PAIRING_UNSUPPORTED),
                                                 (True, PAIRING_FAILED)])
async def test_entry_that_cannot_pair_gives_the_reason(
    hass: HomeAssistant, make_any_proxy: Any, can_pair: bool, kind: str
) -> None:
    """Pairing on, but the proxy cannot pair or the device rejects the bond: the reason,
    not a generic error; every refused link is released."""
    proxy = await make_any_proxy(pairing=can_pair)
    device = proxy.add(device_of("jbd", bonding=True))
    device.bonds.add(proxy.source)
    entry = await setup_entry(hass, device, {CONF_PAIR: True})
    coordinator = entry.runtime_data
    assert coordinator.last_update_success
    device.forget_bonds()
    device.faults.refuse_pairing = True
    await _link_closed(hass, device.address)
    for _ in range(2):
        await coordinator.async_refresh()
        assert coordinator.last_exception.translation_key == kind
    assert hass.states.get("sensor.sim_jbd_sp04s_connection").state == "not_paired"
    assert _issue(hass, entry) is not None
    stats = get_manager(hass).device_stats(device.address)
    assert stats.failures[kind] == 2
    assert get_manager(hass).failed_disconnects == 0
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_setup_refused_for_lack_of_a_bond_raises_the_issue_and_recovers(
    hass: HomeAssistant, make_any_proxy: Any
) -> None:
    """An entry without the setting whose device demands a bond cannot set up: the repairs
    issue says why; with pairing turned on, the next setup pairs and clears it."""
    proxy = await make_any_proxy()
    device = proxy.add(device_of("jbd", bonding=True))
    entry = await setup_entry(hass, device)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert _issue(hass, entry) is not None
    assert_no_leak(proxy)
    hass.config_entries.async_update_entry(entry, options={CONF_PAIR: True})
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert device.pairings == 1
    assert _issue(hass, entry) is None
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


@pytest.mark.parametrize(
    ("err", "refused"),
    [
        (BleakDBusError("org.bluez.Error.NotPermitted", ["Not paired"]), True),
        (BleakDBusError("org.bluez.Error.Failed", ["Operation failed with ATT error: 0x05"]),
         True),
        (BleakDBusError("org.bluez.Error.Failed", ["Operation failed with ATT error: 0x0f"]),
         True),
        (BleakError("Bluetooth GATT Error address=A5:C2:37:10:00:01 handle=12 error=5 "
                    "description=Insufficient authentication"), True),
        (BleakError("Bluetooth GATT Error address=A5:C2:37:10:00:01 handle=12 error=15 "
                    "description=Insufficient encryption"), True),
        (BleakError("Authentication is insufficient."), True),
        (BleakDBusError("org.bluez.Error.NotPermitted", ["Read not permitted"]), False),
        (BleakDBusError("org.bluez.Error.Failed", ["Operation failed with ATT error: 0x0e"]),
         False),
        (BleakError("Bluetooth GATT Error address=A5:C2:37:10:00:01 handle=12 error=51 "
                    "description=Unknown error"), False),
        (BleakError("Bluetooth GATT Error address=A5:C2:37:10:00:01 handle=12 error=-1 "
                    "description=Not connected"), False),
        (BleakError("Disconnected"), False),
    ],
)
def test_refusal_for_lack_of_a_bond_is_recognised(err: BaseException, refused: bool) -> None:
    """What BlueZ (new and old), ESPHome proxies and CoreBluetooth report, and look-alikes."""
    assert needs_pairing(err) is refused
    outer = BleakError("wrapped")  # bleak-esphome raises its BleakError from the API error
    outer.__cause__ = err
    assert needs_pairing(outer) is refused
