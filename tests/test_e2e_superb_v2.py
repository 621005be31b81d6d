"""End to end through Home Assistant for the second Super-B generation (variant "v2").

Its advertisement tells the variant; the entry polls with a request and subscribes to
both notify characteristics (the battery pushes its measurements on the second).
"""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant

from blesim import make_device

from .test_e2e_families import add_through_ui, assert_no_leak, states_by_key

PUSH_UUID = "e0fef452-9d2b-4005-a1e3-69fe1102b436"


async def test_superb_v2_discovered_added_and_shown(
    hass: HomeAssistant, make_any_proxy: Any
) -> None:
    proxy = await make_any_proxy(slots=2)
    device = proxy.add(make_device("superb", "48:23:35:00:95:86", variant="v2"))
    entry = await add_through_ui(hass, device)
    assert entry.state is ConfigEntryState.LOADED
    states = states_by_key(hass, entry.entry_id, device.address)
    assert float(states["voltage"]) == pytest.approx(device.model.voltage, abs=0.06)
    assert float(states["current"]) == pytest.approx(device.model.current, abs=0.1)
    assert float(states["battery_level"]) == pytest.approx(device.model.soc * 100, abs=1)
    assert set(device.requests_seen) == {b"\x21\x54\x00"}
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert_no_leak(proxy)
