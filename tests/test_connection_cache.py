"""The connection cache end to end: HA's bluetooth stack, real bleak-retry-connector, blesim."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from homeassistant.components import bluetooth
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

from blesim import JbdDevice, Latency, SimDevice, VirtualProxy
from blesim.esphome import EspHomeNode
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.connection import (
    LINK_LOST,
    MALFORMED,
    NO_SLOT,
    NOT_FOUND,
    TIMEOUT,
    LinkError,
)
from custom_components.ble_battery_solar.const import CONF_KEEP_ALIVE, CONF_UPDATE_INTERVAL
from custom_components.ble_battery_solar.protocol import get_driver

from .conftest import advance, make_entry, run_until_done, setup_entry, wait_real

VOLTAGE = "sensor.sim_jbd_sp04s_voltage"


@pytest.fixture
async def proxy(make_any_proxy) -> VirtualProxy | EspHomeNode:
    """One proxy with 3 slots: blesim's scanner or the ESPHome node (`--ble-path`)."""
    return await make_any_proxy(slots=3)


def assert_no_leak(proxy: VirtualProxy) -> None:
    """Every client that connected was disconnected by its owner, and no link is left."""
    assert proxy.opened == proxy.closed
    assert proxy.links == {}
    assert proxy.slot_violations == 0


async def test_ten_polls_one_connect_nine_reuses(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)  # poll 1
    coordinator = entry.runtime_data
    for _ in range(9):
        await coordinator.async_refresh()
        assert coordinator.last_update_success
    stats = get_manager(hass).device_stats(jbd.address)
    assert (proxy.opened, proxy.closed) == (1, 0)
    assert (stats.connects, stats.reuses, stats.disconnects) == (1, 9, 0)
    assert len([r for r in jbd.requests_seen if r[2] == 0x03]) == 10
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_idle_window_expiry_closes_link(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 600, CONF_KEEP_ALIVE: 90})
    manager = get_manager(hass)
    await advance(hass, freezer, 89.5, step=0.5)
    assert manager.is_open(jbd.address)
    assert proxy.links
    await advance(hass, freezer, 1.0, step=0.1)  # released within 1 s of expiry
    assert not manager.is_open(jbd.address)
    assert_no_leak(proxy)
    # The next poll connects again; the entity was never marked stale.
    await entry.runtime_data.async_refresh()
    assert proxy.opened == 2
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE


async def test_keep_window_zero_connects_and_releases_every_poll(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd, {CONF_KEEP_ALIVE: 0})
    assert (proxy.opened, proxy.closed, proxy.links) == (1, 1, {})
    for n in range(2, 5):
        await entry.runtime_data.async_refresh()
        assert entry.runtime_data.last_update_success
        assert (proxy.opened, proxy.closed, proxy.links) == (n, n, {})
    stats = get_manager(hass).device_stats(jbd.address)
    assert (stats.connects, stats.reuses) == (4, 0)


async def test_error_mid_poll_evicts_and_next_poll_reconnects(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    manager = get_manager(hass)
    jbd.faults.drop_mid_response = True
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    assert coordinator.last_exception.translation_key == LINK_LOST
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE  # no stale value shown
    assert not manager.is_open(jbd.address)
    assert_no_leak(proxy)  # the dropped clients were still disconnect()ed
    # the poll reconnected once within itself; the link dropped again
    assert (proxy.opened, proxy.dropped) == (2, 2)
    assert manager.device_stats(jbd.address).reconnects == 1

    jbd.faults.drop_mid_response = False
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert proxy.opened == 3
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE
    assert manager.device_stats(jbd.address).failures == {LINK_LOST: 1}

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_malformed_notification_is_a_clear_error(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    jbd.faults.corrupt = True
    await coordinator.async_refresh()
    err = coordinator.last_exception
    assert err.translation_key == MALFORMED
    assert "malformed response" in str(err)
    assert "checksum" in str(err)
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    assert_no_leak(proxy)
    jbd.faults.corrupt = False
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert entry.state is ConfigEntryState.LOADED


async def test_device_that_never_answers_times_out(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    jbd.faults.no_answer = True
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert coordinator.last_exception.translation_key == TIMEOUT
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    assert_no_leak(proxy)


async def test_device_out_of_range_is_not_found(
    hass: HomeAssistant, proxy: VirtualProxy, jbd: SimDevice, freezer
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    jbd.faults.out_of_range = True
    await get_manager(hass).release(jbd.address)
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert coordinator.last_exception.translation_key == NOT_FOUND
    assert "not in range" in str(coordinator.last_exception)
    assert_no_leak(proxy)


async def test_no_free_slot_is_reported(
    hass: HomeAssistant, make_proxy, freezer
) -> None:
    """A proxy whose only slot another integration holds: a clear 'no free slot' error."""
    proxy = make_proxy(slots=1)
    jbd = proxy.add(JbdDevice("A5:C2:37:10:00:01"))
    entry = await setup_entry(hass, jbd)
    await get_manager(hass).release(jbd.address)
    proxy.connecting += 1  # a foreign connection takes the slot
    proxy.report_allocations()
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_exception.translation_key == NO_SLOT
    assert "free Bluetooth connection slot" in str(entry.runtime_data.last_exception)
    proxy.connecting -= 1
    proxy.report_allocations()
    await entry.runtime_data.async_refresh()
    assert entry.runtime_data.last_update_success
    assert proxy.slot_violations == 0


async def test_slow_connect_does_not_delay_other_devices(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    """Device A's connect hangs for 19 s; device B keeps being polled on its 5 s interval."""
    dev_a = proxy.add(JbdDevice("A5:C2:37:10:00:0A", "JBD-A"))
    dev_b = proxy.add(JbdDevice("A5:C2:37:10:00:0B", "JBD-B"))
    entry_b = await setup_entry(hass, dev_b, {CONF_UPDATE_INTERVAL: 5})
    dev_a.faults.connect_delay = 19.0  # just within a proxy's 20 s connect timeout
    entry_a = make_entry(dev_a, {CONF_UPDATE_INTERVAL: 5})
    entry_a.add_to_hass(hass)
    setup_a = asyncio.ensure_future(hass.config_entries.async_setup(entry_a.entry_id))

    polled_at = []
    for second in range(1, 19):  # 18 s of simulated time while A is still connecting
        before = len(dev_b.requests_seen)
        await advance(hass, freezer, 1.0, step=0.25)
        if len(dev_b.requests_seen) > before:
            polled_at.append(second)
        assert not setup_a.done()
    # B's 5 s interval held: three polls, each within a second of its due time.
    assert len(polled_at) == 3
    assert all(b - a in (4, 5, 6) for a, b in itertools.pairwise(polled_at))
    assert entry_b.runtime_data.last_update_success

    await run_until_done(hass, freezer, setup_a)
    assert entry_a.state is ConfigEntryState.LOADED
    assert dev_a.requests_seen


async def test_one_slot_two_devices_rotate(hass: HomeAssistant, make_proxy) -> None:
    """A proxy with 1 slot and 2 devices: both keep updating, the slot is never exceeded."""
    proxy = make_proxy(slots=1)
    dev_a = proxy.add(JbdDevice("A5:C2:37:10:00:0A", "JBD-A"))
    dev_b = proxy.add(JbdDevice("A5:C2:37:10:00:0B", "JBD-B"))
    entry_a = await setup_entry(hass, dev_a)
    entry_b = await setup_entry(hass, dev_b)
    assert entry_a.state is entry_b.state is ConfigEntryState.LOADED
    for _ in range(5):
        for entry in (entry_a, entry_b):
            await entry.runtime_data.async_refresh()
            assert entry.runtime_data.last_update_success
            assert len(proxy.links) <= 1
    assert proxy.peak == 1
    assert proxy.slot_violations == 0
    assert proxy.rejected_no_slot == 0  # eviction made room before every connect
    manager = get_manager(hass)
    assert manager.device_stats(dev_a.address).evictions >= 5
    for entry in (entry_a, entry_b):
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_concurrent_polls_share_one_slot(hass: HomeAssistant, make_proxy) -> None:
    """Two devices polled at the same moment through a 1-slot proxy both succeed."""
    proxy = make_proxy(slots=1)
    devs = [proxy.add(JbdDevice(f"A5:C2:37:10:00:0{i}", f"JBD-{i}")) for i in (1, 2)]
    entries = [await setup_entry(hass, d) for d in devs]
    for _ in range(3):
        await asyncio.gather(*(e.runtime_data.async_refresh() for e in entries))
        assert all(e.runtime_data.last_update_success for e in entries)
    assert proxy.slot_violations == 0
    assert proxy.peak == 1


async def test_ha_stop_disconnects_everything(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    devs = [proxy.add(JbdDevice(f"A5:C2:37:10:00:0{i}", f"JBD-{i}")) for i in (1, 2, 3)]
    for dev in devs:
        await setup_entry(hass, dev)
    assert len(proxy.links) == 3
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert_no_leak(proxy)
    assert get_manager(hass).open_links == 0


async def test_reload_leaks_nothing(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    for _ in range(3):
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert proxy.opened - proxy.closed == 1  # exactly the live link
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_peripheral_drops_idle_link(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    """The device ends an idle link: it leaves the cache and is still disconnect()ed."""
    entry = await setup_entry(hass, jbd)
    manager = get_manager(hass)
    proxy.links[jbd.address].peripheral_dropped()
    await wait_real(lambda: not manager.is_open(jbd.address) and not manager._closing)
    await hass.async_block_till_done()
    assert not manager.is_open(jbd.address)
    assert_no_leak(proxy)
    await entry.runtime_data.async_refresh()
    assert entry.runtime_data.last_update_success
    assert proxy.opened == 2


async def test_phone_app_holding_device_fails_cleanly(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    entry = await setup_entry(hass, jbd, {CONF_KEEP_ALIVE: 0})
    jbd.faults.held_by_phone = True
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert not entry.runtime_data.last_update_success
    assert_no_leak(proxy)
    jbd.faults.held_by_phone = False
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success


@pytest.mark.parametrize("fault", ["refuse_connect", "truncate"])
async def test_faults_never_leak(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer, fault: str
) -> None:
    entry = await setup_entry(hass, jbd)
    await get_manager(hass).release(jbd.address)
    setattr(jbd.faults, fault, True)
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert not entry.runtime_data.last_update_success
    assert_no_leak(proxy)


async def test_device_back_in_range_is_read_at_once(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    """After 'not found', the device's return is read at once, not at the next interval."""
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 600})
    coordinator = entry.runtime_data
    jbd.faults.out_of_range = True
    await get_manager(hass).release(jbd.address)
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert not coordinator.last_update_success
    # HA's unavailable sweep forgets a silent device after its fallback interval (on the
    # real monotonic clock, which the test clock does not move): do what it does.
    bluetooth.async_clear_advertisement_history(hass, jbd.address)
    jbd.faults.out_of_range = False
    await advance(hass, freezer, 10, step=0.5)  # next advertisement, 290 s before the poll
    assert coordinator.last_update_success
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE


async def test_device_never_seen_is_not_found(
    hass: HomeAssistant, proxy: VirtualProxy, make_proxy, freezer
) -> None:
    """An entry whose device HA has never seen retries setup with a clear reason."""
    ghost = JbdDevice("A5:C2:37:10:00:99", "Ghost")  # not added to any proxy
    entry = await setup_entry(hass, ghost)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "not in range of any" in str(entry.reason)
    assert proxy.opened == 0
    # The coordinator of the failed setup is gone and leaves no watch behind; when the
    # device shows up, HA's discovery reloads the entry that is waiting to retry.
    assert get_manager(hass)._path_waiters == {}
    late = make_proxy(name="late")
    late.add(ghost)
    await advance(hass, freezer, 3, step=0.5)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert ghost.connects == 1


async def test_no_polls_after_ha_stop(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    await entry.runtime_data.async_refresh()
    assert not entry.runtime_data.last_update_success
    assert "stopping" in str(entry.runtime_data.last_exception)
    assert_no_leak(proxy)


async def test_slot_wait_then_evict(hass: HomeAssistant, make_proxy) -> None:
    """A connect that finds the only slot busy with our running poll waits, then evicts it."""
    proxy = make_proxy(slots=1, latency=Latency(connect=0.0, round_trip=0.05))
    devs = [proxy.add(JbdDevice(f"A5:C2:37:10:00:0{i}", f"JBD-{i}")) for i in (1, 2)]
    entries = [await setup_entry(hass, d) for d in devs]
    stats = get_manager(hass).device_stats(devs[1].address)
    waits_before = stats.slot_waits
    await asyncio.gather(*(e.runtime_data.async_refresh() for e in entries))
    assert all(e.runtime_data.last_update_success for e in entries)
    assert stats.slot_waits > waits_before or get_manager(hass).device_stats(
        devs[0].address).slot_waits > 0
    assert proxy.slot_violations == 0


async def test_read_that_never_answers_times_out(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    """A Battery Service read without an answer is retried on the same link, then fails."""
    from blesim import BatteryServiceDevice

    device = proxy.add(BatteryServiceDevice("C0:FF:EE:00:00:0F"))
    entry = await setup_entry(hass, device)
    device.faults.no_answer = True
    started = hass.loop.time()
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh(), limit=20)
    # asked once and retried twice on the same link, 5 s each, within the 30 s interval
    assert 15 <= hass.loop.time() - started < 16
    assert entry.runtime_data.last_exception.translation_key == TIMEOUT
    assert "no answer to a read within 5 s (asked 3 times)" in str(
        entry.runtime_data.last_exception)
    assert proxy.opened == 1
    assert_no_leak(proxy)


async def test_more_devices_than_slots_keep_some_links_warm(
    hass: HomeAssistant, make_proxy
) -> None:
    """3 devices polled in a cycle through 2 slots: one link stays warm, one slot free.

    Least-recently-used eviction would evict every link just before its reuse
    (0 reuses); evicting the link whose next poll is furthest away keeps one warm.
    Once the proxy is contended (we had to evict there), the link just polled is
    closed at once instead of at the next connect, so the proxy has a free slot for
    other integrations' devices between our polls.
    """
    proxy = make_proxy(slots=2)
    devs = [proxy.add(JbdDevice(f"A5:C2:37:10:00:0{i}", f"JBD-{i}")) for i in (1, 2, 3)]
    entries = [await setup_entry(hass, d) for d in devs]
    manager = get_manager(hass)
    reuses_before = sum(manager.device_stats(d.address).reuses for d in devs)
    for _ in range(8):
        for entry in entries:
            await entry.runtime_data.async_refresh()
            assert entry.runtime_data.last_update_success
            await hass.async_block_till_done()
            assert proxy.in_use() < proxy.slots  # a slot free between polls
    reuses = sum(manager.device_stats(d.address).reuses for d in devs) - reuses_before
    assert reuses >= 7  # of 24 polls: one device of three keeps its link; LRU gives 0
    assert manager.open_links == 1
    assert proxy.slot_violations == 0
    assert proxy.peak == 2


async def test_uncontended_proxy_keeps_every_link(hass: HomeAssistant, make_proxy) -> None:
    """As many devices as slots: every link stays open, no slot is given up."""
    proxy = make_proxy(slots=2)
    devs = [proxy.add(JbdDevice(f"A5:C2:37:10:00:0{i}", f"JBD-{i}")) for i in (1, 2)]
    entries = [await setup_entry(hass, d) for d in devs]
    for _ in range(5):
        for entry in entries:
            await entry.runtime_data.async_refresh()
            await hass.async_block_till_done()
    assert proxy.opened == 2
    assert proxy.in_use() == 2


async def test_proxy_restart_fails_fast_and_recovers_on_its_return(
    hass: HomeAssistant, make_proxy, freezer
) -> None:
    """A poll while the only proxy is away fails at once as 'not found' (not a 36 s
    out-of-slot backoff reported as 'no free slot'); its return is read at once."""
    proxy = make_proxy(slots=3, latency=Latency())
    jbd = proxy.add(JbdDevice("A5:C2:37:10:00:01"))
    entry = make_entry(jbd, {CONF_UPDATE_INTERVAL: 300})
    entry.add_to_hass(hass)
    await run_until_done(hass, freezer, hass.config_entries.async_setup(entry.entry_id))
    coordinator = entry.runtime_data
    assert coordinator.last_update_success
    proxy.stop()
    await hass.async_block_till_done()
    # HA still has the device's last advertisement (the proxy's history outlives it).
    assert bluetooth.async_ble_device_from_address(hass, jbd.address, True) is not None
    started = hass.loop.time()
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert hass.loop.time() - started < 1.0
    assert coordinator.last_exception.translation_key == NOT_FOUND
    assert_no_leak(proxy)
    proxy.start()  # back: it advertises the device again
    await advance(hass, freezer, 5, step=0.1)
    assert coordinator.last_update_success  # 295 s before the next scheduled poll
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


@pytest.mark.parametrize("fault", ["corrupt", "drop_mid_response"])
async def test_one_off_failure_is_retried_soon(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer, fault: str
) -> None:
    """A single corrupt frame or dropped link costs seconds of data, not an interval;
    a device that keeps failing is retried at its interval, not every few seconds."""
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 60})
    coordinator = entry.runtime_data
    stats = get_manager(hass).device_stats(jbd.address)
    setattr(jbd.faults, fault, True)
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    setattr(jbd.faults, fault, False)
    await advance(hass, freezer, 6, step=0.25)
    assert coordinator.last_update_success
    assert hass.states.get(VOLTAGE).state != STATE_UNAVAILABLE
    # Failing for good: the first retry comes soon, the following ones at the interval.
    setattr(jbd.faults, fault, True)
    await coordinator.async_refresh()
    failures = sum(stats.failures.values())
    await advance(hass, freezer, 50, step=0.5)
    assert sum(stats.failures.values()) == failures + 1
    await advance(hass, freezer, 20, step=0.5)
    assert sum(stats.failures.values()) == failures + 2
    setattr(jbd.faults, fault, False)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_contended_source_closes_the_idle_link_needed_last(
    hass: HomeAssistant, make_proxy
) -> None:
    """On a contended source that fills up, the idle link whose device polls again last is
    closed, even when that is not the link just used."""
    proxy = make_proxy(slots=3)
    devs = [proxy.add(JbdDevice(f"A5:C2:37:10:00:0{i}", f"JBD-{i}")) for i in range(1, 7)]
    a, b, c, d, e, f = (dev.address for dev in devs)
    manager = get_manager(hass)
    driver = get_driver("jbd")()

    async def poll(address: str, interval: float) -> None:
        await manager.poll(address, driver, keep_alive=600, interval=interval)
        await hass.async_block_till_done()

    for address in (a, b, c):
        await poll(address, 30)
    assert proxy.in_use() == 3
    await poll(d, 30)  # evicts one of ours: the source is contended from now on
    assert proxy.in_use() == 2  # and d's link was closed after its poll (needed last)
    for address in (a, b, c, d):
        if manager.is_open(address):
            await manager.release(address)
            break
    await poll(e, 3600)  # a free slot: e keeps its link
    assert manager.is_open(e)
    await poll(f, 30)  # fills the source: e's link is the one needed last
    assert not manager.is_open(e)
    assert manager.is_open(f)
    assert proxy.in_use() == 2
    assert manager.device_stats(e).evictions == 1
    for address in (a, b, c, d, e, f):
        await manager.release(address)
    assert_no_leak(proxy)


async def test_path_watch_waits_for_every_unreachable_device(
    hass: HomeAssistant, make_proxy, freezer
) -> None:
    """After a proxy registers, devices it does not hear yet are looked for again each
    second; a watch can be cancelled; Home Assistant stopping ends the watch."""
    manager = get_manager(hass)
    called: list[str] = []
    cancel_x = manager.async_call_when_reachable("A5:C2:37:10:00:0A", lambda: called.append("x"))
    manager.async_call_when_reachable("A5:C2:37:10:00:0B", lambda: called.append("y"))
    cancel_x()
    cancel_x()  # twice is harmless
    manager.async_call_when_reachable("A5:C2:37:10:00:0C", lambda: called.append("z"))
    first = make_proxy(name="first")
    make_proxy(name="second")  # a second registration while a check is pending
    await advance(hass, freezer, 2.5, step=0.5)
    assert called == []  # nobody hears them yet: still looking
    first.add(JbdDevice("A5:C2:37:10:00:0B", "JBD-B"))
    await advance(hass, freezer, 1.5, step=0.5)
    assert called == ["y"]
    await manager.async_shutdown()  # z's watch is pending: stopping ends it
    first.add(JbdDevice("A5:C2:37:10:00:0C", "JBD-C"))
    await advance(hass, freezer, 2, step=0.5)
    assert called == ["y"]


async def test_slot_wait_ends_when_the_proxy_goes_away(
    hass: HomeAssistant, make_proxy, freezer
) -> None:
    """B waits for the only slot (A is connecting); the proxy goes offline meanwhile:
    B fails at once as 'not found' instead of waiting out its slot wait."""
    proxy = make_proxy(slots=1)
    dev_a = proxy.add(JbdDevice("A5:C2:37:10:00:0A", "JBD-A"))
    dev_b = proxy.add(JbdDevice("A5:C2:37:10:00:0B", "JBD-B"))
    dev_a.faults.connect_delay = 19.0  # just within a proxy's 20 s connect timeout
    manager = get_manager(hass)
    driver = get_driver("jbd")()
    poll_a = asyncio.ensure_future(manager.poll(dev_a.address, driver, keep_alive=60))
    poll_b = asyncio.ensure_future(manager.poll(dev_b.address, driver, keep_alive=60))
    await advance(hass, freezer, 2, step=0.5)
    assert not poll_b.done()
    assert manager.device_stats(dev_b.address).slot_waits == 1
    proxy.stop()
    await advance(hass, freezer, 1, step=0.25)
    assert poll_b.done()
    with pytest.raises(LinkError) as err:
        poll_b.result()
    assert err.value.kind == NOT_FOUND
    await run_until_done(hass, freezer, asyncio.gather(poll_a, return_exceptions=True))
    assert_no_leak(proxy)


async def test_unavailable_is_one_warning_and_back_is_one_info(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """A device going away is logged once at WARNING (not ERROR), its return once at INFO."""
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    jbd.faults.corrupt = True
    caplog.clear()
    for _ in range(3):
        await coordinator.async_refresh()
    ours = [r for r in caplog.records if r.name.startswith("custom_components.ble_battery_solar")]
    (warning,) = [r for r in ours if r.levelno >= logging.INFO]
    assert warning.levelname == "WARNING"
    assert "malformed response" in warning.getMessage()
    jbd.faults.corrupt = False
    caplog.clear()
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    back = [r for r in caplog.records if r.name.startswith("custom_components.ble_battery_solar")
            and r.levelno >= logging.INFO]
    assert [(r.levelname, r.getMessage().split(" data ")[-1]) for r in back] == [
        ("INFO", "recovered")]
