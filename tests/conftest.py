"""Fixtures: real Home Assistant with its bluetooth stack and blesim virtual proxies."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components  # noqa: F401  # must be imported before HA looks up integrations
from blesim import BatteryServiceDevice, JbdDevice, Latency, SimDevice, VirtualProxy
from custom_components.ble_battery_solar.const import CONF_FAMILY, CONF_VARIANT, DOMAIN
from custom_components.ble_battery_solar.protocol import Advertisement, get_driver

JBD_ADDRESS = "A5:C2:37:10:00:01"
BBS_ADDRESS = "C0:FF:EE:00:00:0F"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/ble_battery_solar."""


@pytest.fixture
async def make_proxy(
    hass: HomeAssistant, enable_bluetooth: None
) -> AsyncGenerator[Callable[..., VirtualProxy]]:
    """Start virtual proxies (instant latency unless asked otherwise)."""
    proxies: list[VirtualProxy] = []

    def _make(**kwargs: Any) -> VirtualProxy:
        kwargs.setdefault("latency", Latency.instant())
        proxy = VirtualProxy(hass, **kwargs)
        proxy.start()
        proxies.append(proxy)
        return proxy

    yield _make
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
async def proxy(make_proxy: Callable[..., VirtualProxy]) -> VirtualProxy:
    """One virtual proxy with 3 slots."""
    return make_proxy(slots=3)


@pytest.fixture
async def jbd(proxy: VirtualProxy) -> SimDevice:
    """A simulated JBD BMS in range of the proxy."""
    return proxy.add(JbdDevice(JBD_ADDRESS))


@pytest.fixture
async def bbs(proxy: VirtualProxy) -> SimDevice:
    """A simulated Battery Service device in range of the proxy."""
    return proxy.add(BatteryServiceDevice(BBS_ADDRESS))


def make_entry(device: SimDevice, options: dict[str, Any] | None = None) -> MockConfigEntry:
    """A config entry for a simulated device, as the config flow creates it."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=device.name,
        unique_id=device.address,
        data={"address": device.address, CONF_FAMILY: device.family,
              CONF_VARIANT: get_driver(device.family).variant_for(
                  Advertisement.from_any({**device.advertisement(), "address": device.address}))},
        options=options or {},
    )


async def setup_entry(hass: HomeAssistant, device: SimDevice,
                      options: dict[str, Any] | None = None) -> MockConfigEntry:
    """Add and set up a config entry for a simulated device."""
    entry = make_entry(device, options)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def advance(hass: HomeAssistant, freezer: Any, seconds: float, step: float = 0.05) -> None:
    """Move HA's frozen clock forward in small steps, letting due timers and tasks run."""
    import asyncio

    from pytest_homeassistant_custom_component.common import (
        async_fire_time_changed_exact,
    )

    steps = max(1, round(seconds / step))
    for _ in range(steps):
        freezer.tick(step)
        # exact: the plain helper rounds up to half a second, hiding early timers
        async_fire_time_changed_exact(hass)
        for _ in range(10):
            await asyncio.sleep(0)


async def run_until_done(hass: HomeAssistant, freezer: Any, awaitable: Any,
                         limit: float = 120.0, step: float = 0.05) -> Any:
    """Run a coroutine that may sleep on HA's frozen clock, stepping time until it ends."""
    import asyncio

    task = asyncio.ensure_future(awaitable)
    waited = 0.0
    while not task.done():
        if waited > limit:
            task.cancel()
            raise AssertionError(f"still running after {limit} simulated seconds")
        await advance(hass, freezer, step, step)
        waited += step
    return task.result()
