"""Hostile devices, hung GATT operations and tampered options, through HA's bluetooth stack.

Each test drives the integration the way Home Assistant does (real bluetooth component,
real bleak-retry-connector, blesim devices and proxies) on HA's frozen clock.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant

from blesim import FAMILIES, BatteryServiceDevice, JbdDevice, SimDevice, VirtualProxy, make_device
from blesim.families.jk import JkDevice
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.connection import TIMEOUT
from custom_components.ble_battery_solar.const import (
    CONF_KEEP_ALIVE,
    CONF_RELEASE_MINUTES,
    CONF_UPDATE_INTERVAL,
)
from custom_components.ble_battery_solar.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.ble_battery_solar.link import MAX_BUFFERED_BYTES
from custom_components.ble_battery_solar.protocol import Advertisement, get_driver

from .conftest import JBD_ADDRESS, advance, make_entry, run_until_done, setup_entry
from .test_connection_cache import VOLTAGE, assert_no_leak

DISCHARGE = "sensor.sim_jbd_sp04s_discharge_energy"
POWER = "sensor.sim_jbd_sp04s_power"


# --- 1. every GATT operation is bounded ------------------------------------------------


@pytest.mark.parametrize("fault", ["hang_write", "hang_subscribe"])
async def test_hung_gatt_operation_fails_the_poll_and_drops_the_link(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer, fault: str
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    manager = get_manager(hass)
    await manager.release(jbd.address)  # the subscription is made on a new link
    setattr(jbd.faults, fault, True)
    started = hass.loop.time()
    await run_until_done(hass, freezer, coordinator.async_refresh(), limit=30)
    assert hass.loop.time() - started <= 11
    assert not coordinator.last_update_success
    assert coordinator.last_exception.translation_key == TIMEOUT
    assert "did not complete within 10 s" in str(coordinator.last_exception)
    assert hass.states.get(VOLTAGE).state == STATE_UNAVAILABLE  # no stale value shown
    assert not manager.is_open(jbd.address)
    assert_no_leak(proxy)  # the hung client was disconnected, awaited
    setattr(jbd.faults, fault, False)
    await coordinator.async_refresh()
    assert coordinator.last_update_success


async def test_hung_read_fails_the_poll_within_its_interval(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    device = proxy.add(BatteryServiceDevice("C0:FF:EE:00:00:0F"))
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    device.faults.hang_read = True
    started = hass.loop.time()
    await run_until_done(hass, freezer, coordinator.async_refresh(), limit=60)
    assert hass.loop.time() - started < 30  # the update interval
    assert coordinator.last_exception.translation_key == TIMEOUT
    assert not get_manager(hass).is_open(device.address)
    assert_no_leak(proxy)


# --- 2. energy is integrated on every successful poll ------------------------------------


class SteadyJbd(JbdDevice):
    """A JBD BMS whose answers stay byte-for-byte the same while `steady` is set."""

    steady = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answers: dict[bytes, list[bytes]] = {}

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if not self.steady or bytes(data) not in self._answers:
            self._answers[bytes(data)] = super().on_write(char_uuid, data)
        return self._answers[bytes(data)]


def _wh(hass: HomeAssistant, entity_id: str) -> float:
    """An energy sensor's state in Wh, whatever unit it is shown in (kWh by default)."""
    state = hass.states.get(entity_id)
    factor = {"Wh": 1.0, "kWh": 1000.0}[state.attributes["unit_of_measurement"]]
    return float(state.state) * factor


async def test_energy_grows_with_constant_and_with_changing_readings(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    device = proxy.add(SteadyJbd(JBD_ADDRESS))
    device.model.current = -5.0
    entry = await setup_entry(hass, device, {CONF_UPDATE_INTERVAL: 30})
    coordinator = entry.runtime_data
    assert _wh(hass, DISCHARGE) == 0.0
    power = -float(hass.states.get(POWER).state)
    assert power > 0
    first = coordinator.energy._last_time
    await advance(hass, freezer, 9 * 30 + 2, step=1)  # nine more polls, identical readings
    assert -float(hass.states.get(POWER).state) == power
    integrated = coordinator.energy._last_time - first
    assert integrated >= 8 * 30
    expected = power * integrated / 3600
    assert _wh(hass, DISCHARGE) == pytest.approx(expected, rel=0.01)
    # The readings change: the total keeps following every poll.
    device.steady = False
    device.model.current = -10.0
    before = _wh(hass, DISCHARGE)
    for _ in range(3):
        await advance(hass, freezer, 30, step=1)
        assert _wh(hass, DISCHARGE) == pytest.approx(
            coordinator.energy.discharge_wh, abs=0.001)
    assert _wh(hass, DISCHARGE) > before + power * 90 / 3600
    assert float(hass.states.get("sensor.sim_jbd_sp04s_charge_energy").state) == 0.0


# --- 4. no reconnect storm ------------------------------------------------------------------


async def test_failing_device_with_changing_advertisements_is_not_stormed(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    device = proxy.add(JbdDevice(JBD_ADDRESS))
    entry = await setup_entry(hass, device, {CONF_UPDATE_INTERVAL: 30})
    counter = iter(range(1_000_000))
    plain = device.advertisement

    def changing() -> dict[str, Any]:
        adv = plain()
        adv["manufacturer_data"] = {0x0B0B: next(counter).to_bytes(4, "little")}
        return adv

    device.advertisement = changing  # type: ignore[method-assign]
    device.faults.drop_mid_response = True  # every answer: the link drops
    opened = proxy.opened
    await advance(hass, freezer, 300, step=0.5)
    connects = proxy.opened - opened
    # 10 polls + one early retry + one read on advertisement + one in-poll reconnect
    assert connects <= 14, connects
    assert entry.runtime_data.last_update_success is False
    device.faults.drop_mid_response = False
    await advance(hass, freezer, 31, step=0.5)
    assert entry.runtime_data.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


# --- 5. junk between polls costs no memory --------------------------------------------------


async def test_garbage_flood_between_polls_is_dropped_and_counted(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    manager = get_manager(hass)
    link = manager._links[jbd.address]
    client = proxy.links[jbd.address]
    kept = list(link._notifications)  # the latest poll's answer (diagnostics show it)
    junk = [bytes([n % 251]) * 20 for n in range(1000)]
    for _ in range(200):
        assert client.push(junk) == len(junk)
    assert link._notifications == kept  # nothing of the flood kept between polls
    stats = manager.device_stats(jbd.address)
    assert stats.dropped_notifications == 200_000
    assert stats.dropped_bytes == 4_000_000
    await entry.runtime_data.async_refresh()
    assert entry.runtime_data.last_update_success
    assert proxy.opened == 1
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["connection"]["dropped_notifications"] == 200_000
    assert diagnostics["connection"]["dropped_bytes"] == 4_000_000


async def test_garbage_flood_during_a_poll_is_capped(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    """JK resynchronises on its frame header, so junk during a poll is buffered: capped."""
    device = proxy.add(JkDevice("C8:47:80:00:00:01"))
    entry = await setup_entry(hass, device)
    coordinator = entry.runtime_data
    manager = get_manager(hass)
    link = manager._links[device.address]
    client = proxy.links[device.address]
    device.faults.no_answer = True  # the poll waits for its answer ...
    poll = hass.async_create_task(coordinator.async_refresh())
    await advance(hass, freezer, 0.5)
    assert link._collecting
    for _ in range(100):  # ... while 2 MB of junk arrive
        assert client.push([b"\x00" * 20] * 1000) == 1000
        assert link._buffered <= MAX_BUFFERED_BYTES
    assert len(link._notifications) <= MAX_BUFFERED_BYTES // 20
    stats = manager.device_stats(device.address)
    assert stats.dropped_notifications >= 100_000 - MAX_BUFFERED_BYTES // 20
    device.faults.no_answer = False
    await run_until_done(hass, freezer, poll, limit=30)
    assert coordinator.last_update_success  # asked again on the same link
    assert proxy.opened == 1
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


# --- 6. unload cancels a connect in flight ----------------------------------------------------


async def test_unload_cancels_a_hanging_connect_at_once(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 30, CONF_KEEP_ALIVE: 0})
    jbd.faults.connect_delay = 600  # the device never finishes connecting
    await advance(hass, freezer, 31, step=0.5)  # the scheduled poll is now connecting
    assert proxy.connecting == 1
    started = hass.loop.time()
    assert await run_until_done(hass, freezer, hass.config_entries.async_unload(entry.entry_id),
                                limit=120)
    assert hass.loop.time() - started < 1.0
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert proxy.connecting == 0
    assert_no_leak(proxy)


async def test_unload_cancels_a_poll_waiting_for_its_answer(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 30})
    jbd.faults.no_answer = True  # the poll would wait and ask again for 15 s
    await advance(hass, freezer, 31, step=0.5)
    assert get_manager(hass)._locks[jbd.address].locked()  # the poll is waiting
    started = hass.loop.time()
    assert await run_until_done(hass, freezer, hass.config_entries.async_unload(entry.entry_id))
    assert hass.loop.time() - started < 1.0
    assert_no_leak(proxy)


# --- 7. options that bypass the form ------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "interval"),
    [(-5, 5), (0, 5), (10**9, 3600), ("abc", 30), (float("nan"), 30), (2.5, 5)],
)
async def test_tampered_options_are_clamped_at_load(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, *,
    caplog: pytest.LogCaptureFixture, stored: Any, interval: int,
) -> None:
    entry = make_entry(jbd, {CONF_UPDATE_INTERVAL: stored, CONF_KEEP_ALIVE: -1,
                             CONF_RELEASE_MINUTES: "ten"})
    entry.add_to_hass(hass)
    with caplog.at_level(logging.WARNING):
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    assert coordinator.update_interval.total_seconds() == interval
    assert coordinator.keep_alive == 0
    assert entry.options == {CONF_UPDATE_INTERVAL: interval, CONF_KEEP_ALIVE: 0,
                             CONF_RELEASE_MINUTES: 10}
    (warning,) = [r for r in caplog.records if "corrected stored options" in r.getMessage()]
    assert "update_interval" in warning.getMessage()
    assert "keep_alive=-1" in warning.getMessage()
    assert "release_minutes='ten'" in warning.getMessage()
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)


def _writes(family: str) -> bool:
    """Whether a family's poll writes requests (streaming families are never written to);
    the variant comes from the simulated device's advertisement, as in the config flow."""
    device = make_device(family, JBD_ADDRESS)
    adv = Advertisement.from_any({**device.advertisement(), "address": JBD_ADDRESS})
    driver = get_driver(family)
    return bool(driver(driver.variant_for(adv)).requests())


HUNG_OPERATIONS = [
    (family, operation)
    for family in sorted(FAMILIES)
    for operation in ("subscribe or read", "write")
    if operation != "write" or _writes(family)
]


@pytest.mark.parametrize(("family", "operation"), HUNG_OPERATIONS)
async def test_every_family_bounds_a_hung_gatt_operation(
    hass: HomeAssistant, make_proxy: Any, freezer: Any, family: str, operation: str
) -> None:
    proxy = make_proxy(slots=3)
    device = proxy.add(make_device(family, JBD_ADDRESS))
    entry = make_entry(device, {CONF_UPDATE_INTERVAL: 30})
    entry.add_to_hass(hass)
    await run_until_done(hass, freezer, hass.config_entries.async_setup(entry.entry_id))
    coordinator = entry.runtime_data
    assert coordinator.last_update_success
    driver = coordinator.driver
    if operation == "write":
        device.faults.hang_write = True
    else:
        await get_manager(hass).release(device.address)  # subscribe again on a new link
        fault = "hang_subscribe" if driver.notify_uuid is not None else "hang_read"
        setattr(device.faults, fault, True)
    started = hass.loop.time()
    await run_until_done(hass, freezer, coordinator.async_refresh(), limit=60)
    assert hass.loop.time() - started < 30
    assert coordinator.last_exception.translation_key == TIMEOUT
    assert not get_manager(hass).is_open(device.address)
    assert_no_leak(proxy)
