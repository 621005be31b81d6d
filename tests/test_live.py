"""Live data through Home Assistant: streaming devices update entities between polls.

A JK BMS keeps sending cell-info frames after its poll's request, a Topband BMS
streams by itself; both on a link the cache holds open. Their entities show
fresh values between polls, at most once per "live update interval", without a
single extra connect. Devices that only answer requests are untouched.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import format_mac

from blesim import Latency, SimDevice, VirtualProxy, make_device
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.const import (
    CONF_KEEP_ALIVE,
    CONF_LIVE_INTERVAL,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)

from .conftest import advance, setup_entry

STREAMING = Latency(connect=0.0, round_trip=0.0, stream_period=1.0)  # a frame a second
ADDRESSES = {"jk": "C8:47:80:0D:08:31", "topband": "5E:51:00:00:01:32", "jbd": "A5:C2:37:10:00:33"}
INTERVAL = 60


def current_sensor(hass: HomeAssistant, device: SimDevice) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{format_mac(device.address)}_current")
    assert entity_id is not None
    return entity_id


async def start(hass: HomeAssistant, make_proxy: Any, family: str, live: int) -> tuple[
        VirtualProxy, SimDevice, Any]:
    proxy = make_proxy(slots=3, latency=STREAMING)
    device = proxy.add(make_device(family, ADDRESSES[family]))
    entry = await setup_entry(hass, device, {
        CONF_UPDATE_INTERVAL: INTERVAL, CONF_KEEP_ALIVE: 2 * INTERVAL, CONF_LIVE_INTERVAL: live})
    assert entry.runtime_data.last_update_success
    return proxy, device, entry


@pytest.mark.parametrize("family", ["jk", "topband"])
async def test_streamed_values_reach_entities_between_polls(
    hass: HomeAssistant, freezer: Any, make_proxy: Any, family: str
) -> None:
    proxy, device, entry = await start(hass, make_proxy, family, live=5)
    coordinator = entry.runtime_data
    loop = hass.loop
    polls: list[float] = []
    updates: list[float] = []
    original = coordinator._async_update_data

    async def counted() -> Any:
        polls.append(loop.time())
        return await original()

    coordinator._async_update_data = counted  # type: ignore[method-assign]

    pushed = coordinator.live._push

    @callback
    def on_push(sample: Any) -> None:
        updates.append(loop.time())
        pushed(sample)

    coordinator.live._push = on_push
    sensor = current_sensor(hass, device)
    assert float(hass.states.get(sensor).state) == pytest.approx(-2.5, abs=0.01)
    connects = get_manager(hass).device_stats(device.address).connects

    await advance(hass, freezer, 8, step=0.1)
    device.model.current = -12.0  # a load comes on between polls
    await advance(hass, freezer, 7, step=0.1)
    assert polls == []  # no poll yet (interval 60 s) ...
    assert float(hass.states.get(sensor).state) == pytest.approx(-12.0, abs=0.01)  # ... yet fresh

    await advance(hass, freezer, 60, step=0.1)
    assert len(polls) == 1  # the poll still runs on its schedule
    pushes = updates
    assert len(pushes) >= 10  # ~75 s of a 1 s stream at one push per 5 s
    # never faster than the rate limit (0.1 s clock steps), counted from a push or a poll
    gaps = [b - a for a, b in itertools.pairwise(pushes)]
    gaps += [t - p for p in polls for t in pushes if t > p][:1]
    assert min(gaps) >= 5 - 0.11, (pushes, polls)
    stats = get_manager(hass).device_stats(device.address)
    assert stats.connects == connects  # everything came over the one cached link
    assert proxy.opened == 1
    assert coordinator.live.pushes == len(pushes)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert proxy.leaked == 0


async def test_live_updates_off(hass: HomeAssistant, freezer: Any, make_proxy: Any) -> None:
    _proxy, device, entry = await start(hass, make_proxy, "jk", live=0)
    sensor = current_sensor(hass, device)
    device.model.current = -12.0
    await advance(hass, freezer, 20, step=0.1)
    assert entry.runtime_data.live.pushes == 0
    assert float(hass.states.get(sensor).state) == pytest.approx(-2.5, abs=0.01)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_polled_device_gets_no_pushes(
    hass: HomeAssistant, freezer: Any, make_proxy: Any
) -> None:
    proxy, device, entry = await start(hass, make_proxy, "jbd", live=5)
    device.model.current = -12.0
    await advance(hass, freezer, 20, step=0.1)
    assert entry.runtime_data.live.pushes == 0
    assert float(hass.states.get(current_sensor(hass, device)).state) == pytest.approx(-2.5, abs=0.01)
    assert proxy.opened == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_corrupt_streamed_frames_are_never_shown(
    hass: HomeAssistant, freezer: Any, make_proxy: Any
) -> None:
    _proxy, device, entry = await start(hass, make_proxy, "jk", live=5)
    sensor = current_sensor(hass, device)
    device.faults.corrupt = True
    device.model.current = -12.0
    await advance(hass, freezer, 20, step=0.1)
    assert entry.runtime_data.live.pushes == 0
    assert entry.runtime_data.live.rejected > 0
    assert float(hass.states.get(sensor).state) == pytest.approx(-2.5, abs=0.01)
    device.faults.corrupt = False
    await advance(hass, freezer, 8, step=0.1)
    assert float(hass.states.get(sensor).state) == pytest.approx(-12.0, abs=0.01)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_live_updates_over_either_proxy_path(
    hass: HomeAssistant, freezer: Any, make_any_proxy: Any
) -> None:
    proxy = await make_any_proxy(latency=STREAMING)
    device = proxy.add(make_device("jk", "C8:47:80:0D:08:39"))
    entry = await setup_entry(hass, device, {
        CONF_UPDATE_INTERVAL: INTERVAL, CONF_KEEP_ALIVE: 2 * INTERVAL, CONF_LIVE_INTERVAL: 5})
    sensor = current_sensor(hass, device)
    device.model.current = -12.0
    await advance(hass, freezer, 12, step=0.1)
    assert float(hass.states.get(sensor).state) == pytest.approx(-12.0, abs=0.01)
    assert 1 <= entry.runtime_data.live.pushes <= 3
    assert get_manager(hass).device_stats(device.address).connects == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_count_pushes(
    hass: HomeAssistant, freezer: Any, make_proxy: Any
) -> None:
    from custom_components.ble_battery_solar.diagnostics import (
        async_get_config_entry_diagnostics,
    )

    _proxy, _device, entry = await start(hass, make_proxy, "jk", live=5)
    await advance(hass, freezer, 11, step=0.1)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["live_updates"] == {"interval": 5.0, "pushes": 2, "rejected_frames": 0}
    assert diagnostics["control_allowed"] is False
    assert await hass.config_entries.async_unload(entry.entry_id)
