"""What only the real ESPHome path shows: HA's esphome integration, aioesphomeapi, bleak-esphome.

Each test drives blesim's ESPHome node the way real proxy firmware behaves
and checks what the user and the connection cache see: a stale free count,
a proxy that drops its API connection, a release whose freed slot another
client takes at once, a streaming device's first frame, and a proxy whose
slots are all held by others.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from homeassistant.core import HomeAssistant

from blesim import Latency
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.connection import NO_SLOT
from custom_components.ble_battery_solar.const import CONF_KEEP_ALIVE

from ..conftest import heard, make_entry, run_until_done, setup_entry, wait_real
from ..test_e2e_families import assert_no_leak, device_of

DISCONNECT_WARNING = "disconnect failed"


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """Messages at WARNING or above that mention `text`."""
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and text in r.getMessage()]


async def test_stale_free_count_is_reported_as_no_free_slot(
    hass: HomeAssistant, make_node: Any, freezer: Any
) -> None:
    """The proxy refuses with connected=False, error=0: no free slot, not 'Disconnected'."""
    node = await make_node(slots=1)
    device = node.add(device_of("jbd"))
    entry = await setup_entry(hass, device, {CONF_KEEP_ALIVE: 0})
    assert entry.runtime_data.last_update_success
    node.hold_slots(1, announce=False)  # another client took the slot; HA was not told yet
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert node.rejected_no_slot >= 1
    err = entry.runtime_data.last_exception
    assert err.translation_key == NO_SLOT, err
    stats = get_manager(hass).device_stats(device.address)
    assert stats.failures[NO_SLOT] == 1  # what the "no free slot" repairs issue counts
    node.hold_slots(0)
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(node)


async def test_proxy_dropping_its_api_connection_ends_links_quietly(
    hass: HomeAssistant, make_node: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A reboot or Wi-Fi blip frees the proxy's slots: no failed disconnect, no warning."""
    node = await make_node(slots=3)
    devices = [node.add(device_of(f)) for f in ("jbd", "daly", "seplos")]
    entries = [await setup_entry(hass, d) for d in devices]
    manager = get_manager(hass)
    assert manager.open_links == 3
    node.stop()
    await wait_real(lambda: manager.open_links == 0 and not manager._closing)
    await hass.async_block_till_done()
    assert node.dropped == 3
    assert manager.failed_disconnects == 0
    assert warnings_about(caplog, DISCONNECT_WARNING) == []
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert manager.failed_disconnects == 0
    assert node.links == {}


async def test_release_returns_at_once_when_another_client_takes_the_slot(
    hass: HomeAssistant, make_node: Any, freezer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """bleak-esphome waits up to 5 s for a free slot after releasing; our release does not."""
    node = await make_node(slots=1)
    device = node.add(device_of("jbd"))
    entry = await setup_entry(hass, device)
    manager = get_manager(hass)
    assert manager.is_open(device.address)
    node.take_freed_slots(1)
    started = hass.loop.time()
    await run_until_done(hass, freezer, manager.release(device.address), step=0.05)
    assert hass.loop.time() - started < 0.5
    assert not manager.is_open(device.address)
    assert node.closed_by_owner == 1
    await run_until_done(hass, freezer, _settled(manager), limit=15)
    assert manager.failed_disconnects == 0
    assert warnings_about(caplog, DISCONNECT_WARNING) == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def _settled(manager: Any) -> None:
    """Wait until every background close of the cache has ended."""
    import asyncio

    while manager._closing:
        await asyncio.gather(*manager._closing, return_exceptions=True)


async def test_streamed_frame_right_after_subscribing_is_kept(
    hass: HomeAssistant, make_node: Any, freezer: Any
) -> None:
    """A Topband pushes a frame once subscribed; a connect-per-poll read uses that frame."""
    node = await make_node(latency=Latency(connect=0.0, round_trip=0.0, stream_period=1.0))
    device = node.add(device_of("topband"))
    await heard(hass, device.address)
    entry = make_entry(device, {CONF_KEEP_ALIVE: 0})
    entry.add_to_hass(hass)
    assert await run_until_done(hass, freezer, hass.config_entries.async_setup(entry.entry_id))
    for _ in range(3):
        started = hass.loop.time()
        await run_until_done(hass, freezer, entry.runtime_data.async_refresh(), step=0.05)
        assert entry.runtime_data.last_update_success
        assert hass.loop.time() - started < 0.5  # not one stream period (1 s) per poll
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(node)


async def test_poll_without_any_free_slot_fails_within_its_interval(
    hass: HomeAssistant, make_node: Any, freezer: Any
) -> None:
    """Every slot held by other clients: the poll fails fast, not after 36 s of backoff."""
    node = await make_node(slots=2)
    device = node.add(device_of("jbd"))
    entry = await setup_entry(hass, device, {CONF_KEEP_ALIVE: 0})
    assert entry.runtime_data.last_update_success
    node.hold_slots(2)
    await wait_real(lambda: not get_manager(hass)._has_free_slot([node.source]))
    started = hass.loop.time()
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh(), step=0.25)
    elapsed = hass.loop.time() - started
    assert entry.runtime_data.last_exception.translation_key == NO_SLOT
    assert elapsed < entry.runtime_data.update_interval.total_seconds(), elapsed
    node.hold_slots(0)
    await wait_real(lambda: get_manager(hass)._has_free_slot([node.source]))
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    assert entry.runtime_data.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(node)


async def test_connect_in_flight_that_the_proxy_reports_is_not_counted_twice(
    hass: HomeAssistant, make_node: Any, freezer: Any
) -> None:
    """A proxy lists a device as allocated while it connects: the last free slot is used.

    Counting that connect both as pending and as allocated made a second device wait
    for a slot the proxy had free (and fail "no free slot" when the connect was slow).
    """
    import asyncio

    node = await make_node(slots=2)
    slow, other = node.add(device_of("jbd")), node.add(device_of("daly"))
    entries = [await setup_entry(hass, d, {CONF_KEEP_ALIVE: 0}) for d in (slow, other)]
    assert all(e.runtime_data.last_update_success for e in entries)
    manager = get_manager(hass)
    slow.faults.connect_delay = 5.0
    pending = asyncio.ensure_future(entries[0].runtime_data.async_refresh())
    await wait_real(lambda: slow.address in manager._connecting)
    await wait_real(lambda: slow.address in _allocated(node.source))
    stats = manager.device_stats(other.address)
    waits_before = stats.slot_waits
    started = hass.loop.time()
    await run_until_done(hass, freezer, entries[1].runtime_data.async_refresh(), step=0.05)
    assert entries[1].runtime_data.last_update_success
    assert stats.slot_waits == waits_before  # the free slot was used without waiting
    assert hass.loop.time() - started < 2.0
    await run_until_done(hass, freezer, pending)
    assert entries[0].runtime_data.last_update_success
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(node)


def _allocated(source: str) -> list[str]:
    from habluetooth import get_manager as bluetooth_manager

    return [a for alloc in bluetooth_manager().async_current_allocations(source)
            for a in alloc.allocated]


async def test_proxy_that_reports_no_allocated_addresses_still_shares_its_slots(
    hass: HomeAssistant, make_node: Any, freezer: Any
) -> None:
    """Older firmware reports free and limit only: our idle links are still ours to evict.

    Without the allocated addresses the cache cannot tell from the report which
    proxy holds a link; it takes it from the path HA connected through, so a third
    device on a full two-slot proxy evicts an idle link of ours instead of failing
    "no free slot".
    """
    node = await make_node(slots=2)
    node.report_allocated = False
    devices = [node.add(device_of(f)) for f in ("jbd", "daly", "seplos")]
    entries = [await setup_entry(hass, d) for d in devices[:2]]
    manager = get_manager(hass)
    assert all(e.runtime_data.last_update_success for e in entries)
    assert {manager.device_stats(d.address).source for d in devices[:2]} == {node.source}
    entries.append(await setup_entry(hass, devices[2]))
    assert entries[2].runtime_data.last_update_success, entries[2].runtime_data.last_exception
    assert manager.open_links <= 2
    for _ in range(2):
        for entry in entries:
            await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
            assert entry.runtime_data.last_update_success, entry.runtime_data.last_exception
    assert node.peak <= 2
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(node)


async def test_refused_connect_reads_plainly(
    hass: HomeAssistant, make_node: Any, freezer: Any
) -> None:
    """bleak-retry-connector's '<address> - <address> -> <proxy>: ' prefix is not shown."""
    node = await make_node(slots=2)
    device = node.add(device_of("jbd"))
    entry = await setup_entry(hass, device, {CONF_KEEP_ALIVE: 0})
    assert entry.runtime_data.last_update_success
    device.faults.refuse_connect = True
    await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
    text = str(entry.runtime_data.last_exception)
    assert "Failed to connect after" in text, text
    for shown_raw in (device.address, node.source, "the device - ", " -> "):
        assert shown_raw not in text, text
    device.faults.refuse_connect = False
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(node)
