"""A charge controller shares a proxy's slots with batteries (issue: solar beyond Renogy).

One controller and three batteries on one 3-slot proxy, on both paths (blesim's proxy
and the ESPHome node behind HA's esphome integration): every device updates on every
poll round, the proxy never holds more links than its slots, nothing leaks.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant

from custom_components.ble_battery_solar import get_manager

from .conftest import run_until_done, setup_entry
from .test_e2e_families import assert_no_leak, device_of
from .test_solar_alarms import setup_with_variant


async def test_a_controller_and_three_batteries_on_one_three_slot_proxy_all_update(
    hass: HomeAssistant, make_any_proxy: Any, freezer: Any
) -> None:
    proxy = await make_any_proxy(slots=3)
    controller = proxy.add(device_of("renogy_controller"))
    batteries = [proxy.add(device_of(f)) for f in ("jbd", "daly", "jk")]
    entries = [await setup_with_variant(hass, controller, None)]
    entries += [await setup_entry(hass, b) for b in batteries]
    assert all(e.runtime_data.last_update_success for e in entries)
    manager = get_manager(hass)
    for _ in range(6):
        for entry in entries:
            await run_until_done(hass, freezer, entry.runtime_data.async_refresh())
            assert entry.runtime_data.last_update_success, entry.runtime_data.last_exception
        assert manager.open_links <= 3
    assert entries[0].runtime_data.data["pv_power"] is not None
    assert entries[0].runtime_data.data["charging_state"]
    assert proxy.peak <= 3
    for entry in entries:
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert_no_leak(proxy)
