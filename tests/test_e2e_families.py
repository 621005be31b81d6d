"""End to end through Home Assistant for every protocol family, and every blesim fault.

Tests that take `make_any_proxy` run twice: on blesim's own scanner and on
blesim's ESPHome node through HA's real esphome integration (`--ble-path`).
Each family: a simulated device advertises through a virtual proxy, HA's
bluetooth discovery starts our config flow (the user step for the Battery
Service, which is never pushed), confirming it creates an entry whose entities
show the device model's values. Each fault ends in a correct outcome (an
error of the right kind, unavailable entities, recovery) and never in a
leaked client: every client opened is closed after unload.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_BLUETOOTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import format_mac

from blesim import (
    DEVICE_CLASSES,
    FAMILIES,
    Latency,
    SimDevice,
    SolarModel,
    VirtualProxy,
    make_device,
)
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.connection import (
    CONNECT_FAILED,
    LINK_LOST,
    MALFORMED,
    NO_SLOT,
    NOT_FOUND,
    TIMEOUT,
)
from custom_components.ble_battery_solar.const import CONF_FAMILY, CONF_KEEP_ALIVE, DOMAIN
from custom_components.ble_battery_solar.protocol import get_driver

from .conftest import (
    advance,
    drain,
    heard_by,
    make_entry,
    reconnected,
    run_until_done,
    setup_entry,
    slots_reported,
    wait_real,
)

# protocols that carry no cell voltages (LiPower / Ective BM X, Pro, Super-B, Buknuwo,
# Renogy Smart Shunt: pack values only)
NO_CELL_DATA = frozenset({"lipower", "pro", "superb", "buknuwo", "renogy_shunt"})
# what a simulated solar device must show besides PV voltage; the first key is the
# power the sun delivers (PV power, or the charging power where no PV power is reported)
SOLAR_KEYS = {
    "renogy_controller": ("pv_power", "energy_generated_today", "load_power"),
    "srne": ("pv_power", "energy_generated_today", "load_power", "problem_code"),
    "epever": ("pv_power", "energy_generated_today", "energy_generated_total", "load_power",
               "problem_code"),
    # no yield registers: the PV energy is integrated from PV power
    "renogy_inverter": ("pv_power", "pv_energy", "load_power"),
    "votronic": ("pv_power", "energy_generated_today"),
    "litime_mppt": ("charging_power", "energy_generated_today", "energy_generated_total",
                    "load_power", "battery_temperature"),
}
SOLAR_STATES = ("deactivated", "mppt", "boost", "floating")
# further states these simulated devices report
EXTRA_STATES = {"renogy_inverter": ("bulk",), "votronic": ("bulk", "storage")}
# families whose advertisement nobody has recorded: added through "identify unknown device"
IDENTIFIED = frozenset({"votronic"})
# solar chargers that report no battery state of charge or battery current
PV_ONLY = frozenset({"votronic"})
# power stations that report state of charge and power, but no voltage or current
POWER_ONLY = frozenset({"allpowers"})
# A family recognised by its module vendor's address prefix names its own test address.
ADDRESSES = {
    family: getattr(DEVICE_CLASSES[family], "default_address", None) or f"5E:51:00:00:00:{i + 1:02X}"
    for i, family in enumerate(FAMILIES)
}


def device_of(family: str, **kwargs: Any) -> SimDevice:
    """The simulated device of a family at its test address."""
    return make_device(family, ADDRESSES[family], **kwargs)


def states_by_key(hass: HomeAssistant, entry_id: str, address: str) -> dict[str, str]:
    """State of every enabled entity of an entry, keyed by its description key."""
    prefix = f"{format_mac(address)}_"
    out = {}
    for reg in er.async_entries_for_config_entry(er.async_get(hass), entry_id):
        if (state := hass.states.get(reg.entity_id)) is not None:
            out[reg.unique_id.removeprefix(prefix)] = state.state
    return out


def assert_no_leak(*proxies: VirtualProxy) -> None:
    """Every client that connected was disconnected by its owner; no slot was overused."""
    for proxy in proxies:
        assert proxy.opened == proxy.closed, proxy.stats()
        assert proxy.links == {}
        assert proxy.slot_violations == 0


async def add_through_ui(hass: HomeAssistant, device: SimDevice) -> Any:
    """Add a device the way a user does: confirm the discovery, or pick it in the user step."""
    # HA starts discovery flows as background tasks
    await hass.async_block_till_done(wait_background_tasks=True)
    ours = [f for f in hass.config_entries.flow.async_progress()
            if f["handler"] == DOMAIN and f["context"].get("unique_id") == device.address]
    if device.family == "ble_battery_service":
        assert ours == []  # generic Battery Service devices are never pushed as discoveries
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        assert result["step_id"] == "user"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"address": device.address}
        )
    elif device.family in IDENTIFIED:
        assert ours == []  # no advertisement to match: the user has it identified
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"address": "identify"}
        )
        assert result["step_id"] == "identify"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"address": device.address}
        )
        assert result["step_id"] == "identified"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_FAMILY: device.family}
        )
    else:
        assert [f["context"]["source"] for f in ours] == [SOURCE_BLUETOOTH]
        assert ours[0]["step_id"] == "bluetooth_confirm"
        result = await hass.config_entries.flow.async_configure(ours[0]["flow_id"], {})
        if device.family in ("renogy_battery", *get_driver("renogy_battery").alternatives):
            # A Renogy BT module looks the same on batteries and controllers: the flow
            # probed it and preselects what answered; the user confirms.
            assert result["step_id"] == "device_type"
            (key,) = result["data_schema"].schema
            assert key.default() == device.family
            result = await hass.config_entries.flow.async_configure(
                result["flow_id"], {CONF_FAMILY: device.family}
            )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"][CONF_FAMILY] == device.family
    return result["result"]


@pytest.mark.parametrize("family", FAMILIES)
async def test_family_discovered_added_and_shown(
    hass: HomeAssistant, make_any_proxy: Any, family: str
) -> None:
    proxy = await make_any_proxy(slots=3)
    device = proxy.add(device_of(family))
    solar = isinstance(device.model, SolarModel)
    if solar:
        device.model.wall = lambda: 12.5 * 3600  # half past noon UTC: the sun shines
    entry = await add_through_ui(hass, device)
    assert entry.state is ConfigEntryState.LOADED
    states = states_by_key(hass, entry.entry_id, device.address)
    battery = device.model.battery if isinstance(device.model, SolarModel) else device.model

    if family not in PV_ONLY:
        assert float(states["battery_level"]) == pytest.approx(battery.soc * 100, abs=1)
    if family in POWER_ONLY:
        assert float(states["power"]) == pytest.approx(battery.voltage * battery.current, abs=1)
    elif family != "ble_battery_service":
        assert float(states["voltage"]) == pytest.approx(battery.voltage, abs=0.06)
    if family not in ("ble_battery_service", *PV_ONLY, *POWER_ONLY):
        assert float(states["current"]) != 0
    if solar:
        for key in ("pv_voltage", *SOLAR_KEYS[family]):
            assert states[key] not in (STATE_UNAVAILABLE, "unknown"), key
        assert float(states[SOLAR_KEYS[family][0]]) > 0.9 * device.model.peak_w
        assert states["charging_state"] in (*SOLAR_STATES, *EXTRA_STATES.get(family, ()))
    elif family not in ("ble_battery_service", *POWER_ONLY):
        assert float(states["current"]) == pytest.approx(battery.current, abs=0.1)
        if family in NO_CELL_DATA:
            assert "delta_voltage" not in states
        else:
            assert 0 <= float(states["delta_voltage"]) < 0.1  # Renogy reports cells in 0.1 V
    # every value is there; "Released until" is available only while released
    assert all(v != STATE_UNAVAILABLE for k, v in states.items() if k != "released_until")

    coordinator = entry.runtime_data
    await coordinator.async_refresh()  # second poll over the cached link
    assert coordinator.last_update_success
    # one connect in all: the config flow's probe link, adopted by the entry's first read
    # and reused by the second poll
    assert (proxy.opened, device.connects) == (1, 1)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)


@pytest.mark.parametrize("family", FAMILIES)
async def test_corrupt_frames_are_a_clear_error_and_recover(
    hass: HomeAssistant, make_any_proxy: Any, family: str
) -> None:
    proxy = await make_any_proxy(slots=3)
    device = proxy.add(device_of(family))
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    device.faults.corrupt = True
    await drain()  # a frame a streaming device sent before the fault is still valid
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    assert coordinator.last_exception.translation_key == MALFORMED
    assert f"{family}: " in str(coordinator.last_exception)  # the driver names the defect
    states = states_by_key(hass, entry.entry_id, device.address)
    assert states["voltage" if family in PV_ONLY else "battery_level"] == STATE_UNAVAILABLE
    device.faults.corrupt = False
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_slow_connect_with_realistic_latency(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any
) -> None:
    proxy = await make_any_proxy(latency=Latency())  # connect 1.5 s, round trip 60 ms
    device = proxy.add(device_of("tianpower"))  # seven request/response exchanges per poll
    device.faults.connect_delay = 8.0
    entry = make_entry(device)
    entry.add_to_hass(hass)
    assert await run_until_done(hass, freezer, hass.config_entries.async_setup(entry.entry_id))
    assert entry.state is ConfigEntryState.LOADED
    stats = get_manager(hass).device_stats(device.address)
    assert 9.5 <= stats.last_connect_seconds <= 11.0
    assert len(device.requests_seen) == 7
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_refused_connect_then_recovery(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any
) -> None:
    proxy = await make_any_proxy()
    device = proxy.add(device_of("jk"))
    entry = await setup_entry(hass, device, {CONF_KEEP_ALIVE: 0})
    device.faults.refuse_connect = True
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_exception.translation_key == CONNECT_FAILED
    assert_no_leak(proxy)
    device.faults.refuse_connect = False
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success
    assert_no_leak(proxy)


async def test_link_drops_mid_response_of_a_chunked_streaming_device(
    hass: HomeAssistant, make_any_proxy: Any
) -> None:
    """JK sends 300-byte frames in 128-byte notifications; the link drops after the first."""
    proxy = await make_any_proxy()
    device = proxy.add(device_of("jk"))
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    device.faults.drop_mid_response = True
    await drain()  # a frame a streaming device sent before the fault is still whole
    await coordinator.async_refresh()
    assert coordinator.last_exception.translation_key == LINK_LOST
    await hass.async_block_till_done()
    assert_no_leak(proxy)  # the dropped client was still disconnect()ed
    device.faults.drop_mid_response = False
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert proxy.opened == 3  # the failed poll reconnected once within itself
    assert proxy.dropped == 2
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


@pytest.mark.parametrize("family", ["litime", "topband", "ble_battery_service"])
async def test_device_that_never_answers_times_out(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any, family: str
) -> None:
    """Requests, streams and reads (the proxy's 30 s GATT read timeout) all end in a timeout."""
    proxy = await make_any_proxy()
    device = proxy.add(device_of(family))
    entry = await setup_entry(hass, device)
    device.faults.no_answer = True
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh(), step=0.5)
    assert entry.runtime_data.last_exception.translation_key == TIMEOUT
    assert states_by_key(hass, entry.entry_id, device.address)["battery_level"] == STATE_UNAVAILABLE
    device.faults.no_answer = False
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


@pytest.mark.parametrize("family", ["daly", "ant"])
async def test_truncated_frames_fail_cleanly(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any, family: str
) -> None:
    proxy = await make_any_proxy()
    device = proxy.add(device_of(family))
    entry = await setup_entry(hass, device)
    device.faults.truncate = True
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh(), step=0.5)
    assert entry.runtime_data.last_exception.translation_key in (TIMEOUT, MALFORMED)
    assert_no_leak(proxy)
    device.faults.truncate = False
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success


async def test_out_of_range_for_a_while(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any
) -> None:
    """A scripted fault: the device vanishes for 60 s, polls fail 'not found', then recover."""
    proxy = await make_any_proxy(advertise_every=5.0)
    device = proxy.add(device_of("eg4"))
    entry = await setup_entry(hass, device, {CONF_KEEP_ALIVE: 0})
    device.fault_for(60, out_of_range=True)
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh(), step=0.5)
    assert entry.runtime_data.last_exception.translation_key == NOT_FOUND
    assert_no_leak(proxy)
    await advance(hass, freezer, 66, step=1.0)
    assert not device.faults.out_of_range
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success


async def test_phone_app_holding_the_device(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any
) -> None:
    proxy = await make_any_proxy()
    device = proxy.add(device_of("renogy_battery"))
    entry = await setup_entry(hass, device, {CONF_KEEP_ALIVE: 0})
    device.faults.held_by_phone = True
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_exception.translation_key == CONNECT_FAILED
    assert_no_leak(proxy)
    device.faults.held_by_phone = False
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success


async def test_device_connected_through_proxy_a_refuses_proxy_b(
    hass: HomeAssistant, make_proxy: Any, freezer: Any
) -> None:
    """Single-central exclusivity across proxies: another central holds it through B."""
    proxy_a = make_proxy(name="proxy-a")
    proxy_b = make_proxy(name="proxy-b")
    device = device_of("seplos")
    proxy_a.add(device, rssi=-55)
    proxy_b.add(device, rssi=-85)
    entry = await setup_entry(hass, device, {CONF_KEEP_ALIVE: 0})
    other = proxy_b.client_class(device.address, timeout=10.0)  # e.g. a second HA via proxy B
    await other.connect()
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_exception.translation_key == CONNECT_FAILED
    assert proxy_a.links == {}
    await other.disconnect()
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success
    assert proxy_a.opened == proxy_a.closed == 2  # the strongest proxy carries our links
    assert_no_leak(proxy_a, proxy_b)


async def test_best_proxy_is_used_until_it_is_full(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any
) -> None:
    """HA routes to the strongest proxy with a free slot; foreign connections fill it."""
    near = await make_any_proxy(name="near", slots=3)
    far = await make_any_proxy(name="far", slots=3)
    device = device_of("litime")
    near.add(device, rssi=-50)
    far.add(device, rssi=-88)
    await heard_by(hass, device.address, near, far)
    entry = await setup_entry(hass, device)
    manager = get_manager(hass)
    assert device.address in near.links
    assert manager.device_stats(device.address).source == near.source

    await manager.release(device.address)
    near.hold_slots(3)  # other integrations take every slot of the near proxy
    await slots_reported(near)
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success
    assert device.address in far.links
    assert near.rejected_no_slot == 0  # never tried: its allocations said it was full

    far.hold_slots(3)
    await manager.release(device.address)
    await slots_reported(far)
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_exception.translation_key == NO_SLOT
    near.hold_slots(0)
    far.hold_slots(0)
    await slots_reported(near, far)
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(near, far)


async def test_proxy_restart_drops_links_and_polls_recover(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any
) -> None:
    proxy = await make_any_proxy(slots=3)
    devices = [proxy.add(device_of(f)) for f in ("jbd", "topband", "tianpower")]
    entries = [await setup_entry(hass, d) for d in devices]
    assert len(proxy.links) == 3
    proxy.restart(after=120)
    await wait_real(lambda: get_manager(hass).open_links == 0)
    await hass.async_block_till_done()
    assert proxy.dropped == 3
    assert_no_leak(proxy)  # owners disconnect()ed the dropped clients
    assert get_manager(hass).open_links == 0
    await run_until_done(hass, freezer, entries[0].runtime_data.async_refresh())
    assert not entries[0].runtime_data.last_update_success  # still offline
    assert not proxy.online
    await advance(hass, freezer, 121, step=1.0)
    assert proxy.online
    await reconnected(hass, freezer, proxy)
    for entry in entries:
        await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
        assert entry.runtime_data.last_update_success
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_proxy_offline_fails_over_to_another_proxy(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any
) -> None:
    first = await make_any_proxy(name="first")
    second = await make_any_proxy(name="second")
    device = device_of("daly")
    first.add(device, rssi=-50)
    second.add(device, rssi=-75)
    await heard_by(hass, device.address, first, second)
    entry = await setup_entry(hass, device)
    assert device.address in first.links
    first.stop()
    await hass.async_block_till_done()
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success
    assert device.address in second.links
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(first, second)


async def test_every_family_shares_one_three_slot_proxy(hass: HomeAssistant, make_any_proxy: Any
                                                        ) -> None:
    """Twelve devices rotate through three slots; every poll succeeds, no slot is overused."""
    proxy = await make_any_proxy(slots=3)
    devices = [proxy.add(device_of(family)) for family in FAMILIES]
    entries = [await setup_entry(hass, d) for d in devices]
    assert all(e.state is ConfigEntryState.LOADED for e in entries)
    for _ in range(2):
        await asyncio.gather(*(e.runtime_data.async_refresh() for e in entries))
        assert [e.title for e in entries if not e.runtime_data.last_update_success] == []
    assert proxy.peak <= 3
    assert proxy.slot_violations == 0
    assert all(d.connects >= 2 for d in devices)
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)
