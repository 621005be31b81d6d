"""A one-off glitch never blanks the sensors: retries on the same link, reconnect within the poll.

Real HA bluetooth stack, real bleak-retry-connector, blesim devices with one-shot faults.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

from blesim import (
    FAMILIES,
    BatteryServiceDevice,
    JbdDevice,
    Latency,
    SimDevice,
    VirtualProxy,
    make_device,
)
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.connection import MALFORMED
from custom_components.ble_battery_solar.const import CONF_KEEP_ALIVE, CONF_UPDATE_INTERVAL

from .conftest import advance, make_entry, run_until_done, setup_entry
from .test_connection_cache import VOLTAGE, assert_no_leak


def _track_unavailable(hass: HomeAssistant, entity_id: str) -> list[str]:
    """States the entity took from now on."""
    seen: list[str] = []

    def on_change(event) -> None:
        if (new := event.data["new_state"]) is not None:
            seen.append(new.state)

    hass.bus.async_listen("state_changed", on_change)
    return seen


async def test_one_corrupt_frame_is_asked_again_on_the_same_link(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    stats = get_manager(hass).device_stats(jbd.address)
    states = _track_unavailable(hass, VOLTAGE)
    requests_before = len(jbd.requests_seen)
    jbd.faults.corrupt_next = 1
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert coordinator.last_update_success
    assert jbd.faults.corrupt_next == 0  # the corrupt answer was really sent
    assert STATE_UNAVAILABLE not in states
    assert proxy.opened == 1
    assert proxy.closed == 0
    assert stats.retries == 1
    assert stats.failures == {}
    # The corrupt answer to the first of JBD's two requests fails its checksum as soon as
    # it arrives; the poll is asked again at once (1 + 2 writes)
    assert len(jbd.requests_seen) - requests_before == 3
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_at_most_two_retries_per_poll(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    """A corrupt answer spoils its attempt as soon as it arrives: 2 spoil two attempts and the
    third succeeds, 3 spoil all three."""
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    stats = get_manager(hass).device_stats(jbd.address)
    jbd.faults.corrupt_next = 2
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert (stats.retries, proxy.opened) == (2, 1)
    jbd.faults.corrupt_next = 3
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    assert coordinator.last_exception.translation_key == MALFORMED
    assert stats.retries == 4
    assert jbd.faults.corrupt_next == 0
    assert_no_leak(proxy)


async def test_persistently_corrupt_device_goes_unavailable_with_a_clear_error(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    jbd.faults.corrupt = True
    await coordinator.async_refresh()
    assert not coordinator.last_update_success
    err = coordinator.last_exception
    assert err.translation_key == MALFORMED
    assert "checksum" in str(err)
    assert "asked 3 times" in str(err)
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE
    assert get_manager(hass).device_stats(jbd.address).retries == 2
    assert_no_leak(proxy)


@pytest.mark.parametrize("device_class", [JbdDevice, BatteryServiceDevice])
async def test_one_link_drop_reconnects_within_the_poll(
    hass: HomeAssistant, proxy: VirtualProxy, device_class: type[SimDevice]
) -> None:
    device = proxy.add(device_class("A5:C2:37:10:00:01"))
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    entity = next(
        s.entity_id for s in hass.states.async_all("sensor")
        if s.entity_id.endswith("_battery") or s.entity_id.endswith("_voltage")
    )
    states = _track_unavailable(hass, entity)
    device.faults.drop_next = 1
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert coordinator.last_update_success
    assert device.faults.drop_next == 0
    assert STATE_UNAVAILABLE not in states
    stats = get_manager(hass).device_stats(device.address)
    assert (proxy.opened, proxy.dropped, stats.reconnects) == (2, 1, 1)
    assert stats.failures == {}
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


async def test_polls_are_scheduled_from_their_start(
    hass: HomeAssistant, make_proxy: Any, freezer: Any
) -> None:
    """An update interval of 10 s means a read every 10 s, also when every poll connects."""
    proxy = make_proxy(slots=3, latency=Latency(connect=1.5, round_trip=0.06))
    device = proxy.add(JbdDevice("A5:C2:37:10:00:01"))
    asked: list[float] = []
    answer = device.on_write

    def on_write(char_uuid: str, data: bytes) -> list[bytes]:
        if data[2] == 0x03:  # the first request of a poll
            asked.append(hass.loop.time())
        return answer(char_uuid, data)

    device.on_write = on_write  # type: ignore[method-assign]
    entry = make_entry(device, {CONF_UPDATE_INTERVAL: 10, CONF_KEEP_ALIVE: 0})
    entry.add_to_hass(hass)
    await run_until_done(hass, freezer, hass.config_entries.async_setup(entry.entry_id))
    await advance(hass, freezer, 100, step=0.1)
    gaps = [b - a for a, b in itertools.pairwise(asked[1:])]
    assert len(gaps) >= 8
    assert all(9.9 <= gap <= 10.1 for gap in gaps), gaps
    assert entry.runtime_data.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


@pytest.mark.parametrize("family", sorted(FAMILIES))
async def test_every_family_recovers_from_one_glitch_within_the_poll(
    hass: HomeAssistant, make_proxy: Any, freezer: Any, family: str
) -> None:
    """One corrupt answer, then one dropped link: each read still succeeds, no unavailable."""
    proxy = make_proxy(slots=3)
    device = proxy.add(make_device(family, "A5:C2:37:10:00:01"))
    entry = make_entry(device, {CONF_UPDATE_INTERVAL: 30})
    entry.add_to_hass(hass)
    await run_until_done(hass, freezer, hass.config_entries.async_setup(entry.entry_id))
    coordinator = entry.runtime_data
    assert coordinator.last_update_success
    stats = get_manager(hass).device_stats(device.address)
    device.faults.corrupt_next = 1
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert coordinator.last_update_success, coordinator.last_exception
    assert device.faults.corrupt_next == 0
    assert proxy.opened == 1  # the link was kept
    device.faults.drop_next = 1
    await run_until_done(hass, freezer, coordinator.async_refresh())
    assert coordinator.last_update_success, coordinator.last_exception
    assert stats.failures == {}
    assert proxy.opened <= 2
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)
