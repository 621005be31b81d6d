"""Fixtures: real Home Assistant with its bluetooth stack and blesim virtual proxies.

Two ways in for the same simulated devices: `make_proxy` registers blesim's own
remote scanner; `make_node` starts an ESPHome node (the native API on
127.0.0.1) and adds it to HA's real `esphome` integration. `make_any_proxy`
is either one, by the test's `ble_path` parameter (`--ble-path` chooses which
paths the tests marked `both_paths` run on).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components  # noqa: F401  # must be imported before HA looks up integrations
from blesim import BatteryServiceDevice, JbdDevice, Latency, SimDevice, VirtualProxy
from blesim.esphome import EspHomeNode
from custom_components.ble_battery_solar.const import CONF_FAMILY, CONF_VARIANT, DOMAIN
from custom_components.ble_battery_solar.protocol import Advertisement, get_driver

JBD_ADDRESS = "A5:C2:37:10:00:01"
BBS_ADDRESS = "C0:FF:EE:00:00:0F"


BLE_PATHS = ("blesim", "esphome")


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--ble-path`: which way in the tests that take `ble_path` run on."""
    parser.addoption(
        "--ble-path", choices=[*BLE_PATHS, "both"], default="both",
        help="blesim's own scanner, the ESPHome node over HA's esphome integration, or both",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that takes `ble_path` on the paths `--ble-path` selects."""
    if "ble_path" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--ble-path")
        metafunc.parametrize("ble_path", BLE_PATHS if choice == "both" else (choice,))


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


async def wait_real(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Let the loop run until `condition` holds, timed on process time.

    HA's test clock may be frozen (and asyncio's clock with it), but the node's
    TCP traffic still needs loop iterations.
    """
    deadline = time.process_time() + seconds
    while not condition():
        if time.process_time() > deadline:
            raise AssertionError(f"condition not met within {seconds} s of process time")
        await asyncio.sleep(0)


async def heard(hass: HomeAssistant, address: str, iterations: int = 200) -> bool:
    """Give an advertisement sent over a node's TCP connection the loop turns to arrive.

    blesim's own scanner delivers advertisements at once; over the native API they
    take a few loop iterations. A device that is not advertised just returns False.
    """
    from homeassistant.components import bluetooth

    for _ in range(iterations):
        if bluetooth.async_ble_device_from_address(hass, address, connectable=True):
            return True
        await asyncio.sleep(0)
    return False


async def heard_by(hass: HomeAssistant, address: str, *proxies: VirtualProxy | EspHomeNode
                   ) -> None:
    """Wait until every one of `proxies` has delivered the device's advertisement to HA.

    HA routes a connect by what each proxy last heard: a test that compares proxies
    must not start before the advertisements of all of them have arrived.
    """
    from homeassistant.components import bluetooth

    def all_heard() -> bool:
        sources = {d.scanner.source
                   for d in bluetooth.async_scanner_devices_by_address(hass, address, True)}
        return all(p.source in sources for p in proxies)

    await wait_real(all_heard)


async def drain(iterations: int = 50) -> None:
    """Let data already on its way over a node's TCP connection arrive."""
    for _ in range(iterations):
        await asyncio.sleep(0)


def node_ready(node: EspHomeNode) -> bool:
    """HA's esphome integration is connected to the node and its scanner is registered."""
    from habluetooth import get_manager

    scanners = get_manager().async_current_scanners()
    return node.subscriber is not None and any(
        s.source == node.source and s.connectable for s in scanners)


async def slots_reported(*proxies: VirtualProxy | EspHomeNode) -> None:
    """Wait until HA's bluetooth manager has each proxy's current free-slot count.

    blesim's scanner reports at once; a node's report crosses its TCP connection.
    """
    from habluetooth import get_manager

    def current() -> bool:
        for proxy in proxies:
            allocs = get_manager().async_current_allocations(proxy.source) or []
            if not allocs or allocs[0].free != max(0, proxy.slots - proxy.in_use()):
                return False
        return True

    await wait_real(current)


async def reconnected(hass: HomeAssistant, freezer: Any, proxy: VirtualProxy | EspHomeNode,
                      limit: float = 120.0) -> None:
    """Step time until HA's esphome integration is connected to a node again.

    aioesphomeapi retries a lost API connection with a backoff of up to 60 s, so
    a node that was offline for a while is back in HA up to a minute after it is
    back online. blesim's own scanner registers again at once.
    """
    if not isinstance(proxy, EspHomeNode):
        return
    waited = 0.0
    while not node_ready(proxy):
        if waited > limit:
            raise AssertionError(f"{proxy} not reconnected after {limit} simulated seconds")
        await advance(hass, freezer, 1.0, step=1.0)
        await drain(100)
        waited += 1.0


@pytest.fixture
async def make_node(
    hass: HomeAssistant, enable_bluetooth: None, socket_enabled: None
) -> AsyncGenerator[Callable[..., Awaitable[EspHomeNode]]]:
    """Start ESPHome nodes and add each to HA's esphome integration (instant latency)."""
    from homeassistant.setup import async_setup_component

    # esphome's assist_pipeline -> conversation chain needs the homeassistant component
    assert await async_setup_component(hass, "homeassistant", {})
    nodes: list[EspHomeNode] = []
    entries: list[MockConfigEntry] = []

    async def _make(**kwargs: Any) -> EspHomeNode:
        kwargs.setdefault("latency", Latency.instant())
        node = EspHomeNode(**kwargs)
        await node.serve()
        nodes.append(node)
        entry = MockConfigEntry(
            domain="esphome", title=node.name, unique_id=node.mac,
            data={"host": node.host, "port": node.port, "password": ""},
        )
        entry.add_to_hass(hass)
        entries.append(entry)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await wait_real(lambda: node_ready(node))
        return node

    yield _make
    for entry in entries:
        await hass.config_entries.async_unload(entry.entry_id)
    for node in nodes:
        await node.close()
    await hass.async_block_till_done()


@pytest.fixture
def make_any_proxy(
    request: pytest.FixtureRequest, ble_path: str
) -> Callable[..., Awaitable[VirtualProxy | EspHomeNode]]:
    """`make_proxy` or `make_node`, by `ble_path`; either way awaited: `await make_any_proxy()`."""
    if ble_path == "esphome":
        make_node: Callable[..., Awaitable[EspHomeNode]] = request.getfixturevalue("make_node")
        return make_node
    make_proxy: Callable[..., VirtualProxy] = request.getfixturevalue("make_proxy")

    async def _make(**kwargs: Any) -> VirtualProxy:
        return make_proxy(**kwargs)

    return _make


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
    await heard(hass, device.address)
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
