"""Teardown of the shared cache after the last device, and bleak-version-aware bus release."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import HomeAssistant

from blesim import SimDevice, VirtualProxy
from custom_components.ble_battery_solar import DATA_MANAGER, dbus_monitor, get_manager
from custom_components.ble_battery_solar.connection import ConnectionManager

from .conftest import setup_entry
from .test_connection_cache import assert_no_leak


def _stop_listeners(hass: HomeAssistant) -> int:
    return hass.bus.async_listeners().get(EVENT_HOMEASSISTANT_STOP, 0)


async def test_manager_torn_down_after_the_last_entry_unloads(
    hass: HomeAssistant, jbd: SimDevice, bbs: SimDevice, proxy: VirtualProxy, make_proxy: Any
) -> None:
    first = await setup_entry(hass, jbd)
    second = await setup_entry(hass, bbs)
    manager = get_manager(hass)
    listeners = _stop_listeners(hass)
    assert await hass.config_entries.async_unload(first.entry_id)
    assert hass.data.get(DATA_MANAGER) is manager  # still serving the other device
    assert not manager._stopping
    assert await hass.config_entries.async_unload(second.entry_id)
    await hass.async_block_till_done()
    assert DATA_MANAGER not in hass.data
    assert manager._stopping
    assert manager.open_links == 0
    assert _stop_listeners(hass) == listeners - 1
    # HA's bluetooth manager no longer calls it: slot reports and new proxies go unheard.
    manager._slot_freed.clear()
    proxy.report_allocations()
    assert not manager._slot_freed.is_set()
    manager.async_call_when_reachable(jbd.address, lambda: None)
    make_proxy(slots=2, name="late-proxy")
    assert manager._path_check is None
    assert_no_leak(proxy)
    # A device configured later gets a new manager.
    third = await setup_entry(hass, jbd)
    assert third.runtime_data.last_update_success
    assert get_manager(hass) is not manager
    assert third.runtime_data.manager is get_manager(hass)
    assert await hass.config_entries.async_unload(third.entry_id)
    assert_no_leak(proxy)


class _Backend:
    """The shape of bleak 3.0's BlueZ client after a failed disconnect(): it holds its bus."""

    def __init__(self) -> None:
        self.bus_closed = False
        self._bus = self
        self._is_connected = True
        self._disconnect_monitor_event = None

    def disconnect(self) -> None:  # the bus's disconnect
        self.bus_closed = True


class _FailingClient:
    """A BleakClient whose disconnect() raises an exception without a message."""

    def __init__(self, error: Exception) -> None:
        self._backend = _Backend()
        self.error = error

    async def disconnect(self) -> bool:
        raise self.error


@pytest.mark.parametrize(
    ("bleak_version", "released_by_us"), [("3.0.2", True), ("3.1.0", False), ("3.2.1", False)]
)
async def test_bus_released_only_for_bleak_versions_that_need_it(
    hass: HomeAssistant, enable_bluetooth: None, monkeypatch: pytest.MonkeyPatch,
    bleak_version: str, released_by_us: bool,
) -> None:
    assert dbus_monitor.bleak_needs_bus_release(bleak_version) is released_by_us
    monkeypatch.setattr(dbus_monitor, "NEEDS_BUS_RELEASE",
                        dbus_monitor.bleak_needs_bus_release(bleak_version))
    manager = ConnectionManager(hass)
    client = _FailingClient(RuntimeError("UnknownObject"))
    await manager._disconnect_client("A5:C2:37:10:00:01", client)  # type: ignore[arg-type]
    assert manager.failed_disconnects == 1
    assert client._backend.bus_closed is released_by_us
    # bleak's private state is left alone where bleak closes the bus itself
    assert (client._backend._bus is None) is released_by_us
    await manager.async_shutdown()


def test_installed_bleak_version_decides() -> None:
    """HA 2026.10 pins bleak 3.0.2: the workaround is active there."""
    from importlib.metadata import version

    assert dbus_monitor.NEEDS_BUS_RELEASE is (tuple(map(int, version("bleak").split(".")[:2]))
                                             < (3, 1))


async def test_disconnect_failure_without_message_names_the_error(
    hass: HomeAssistant, enable_bluetooth: None, caplog: pytest.LogCaptureFixture
) -> None:
    manager = ConnectionManager(hass)
    with caplog.at_level(logging.WARNING):
        await manager._disconnect_client(  # type: ignore[arg-type]
            "A5:C2:37:10:00:01", _FailingClient(TimeoutError()))
    (record,) = [r for r in caplog.records if "disconnect failed" in r.getMessage()]
    assert record.getMessage().endswith("disconnect failed: TimeoutError")
    await manager.async_shutdown()


async def test_shutdown_waits_for_running_disconnects_and_never_spins_on_finished_ones(
    hass: HomeAssistant, enable_bluetooth: None
) -> None:
    """A finished disconnect whose done callback has not run yet must not make shutdown loop."""
    import asyncio

    manager = ConnectionManager(hass)
    finished = hass.loop.create_future()
    finished.set_result(None)
    stale = asyncio.ensure_future(finished)
    await asyncio.sleep(0)
    assert stale.done()
    manager._closing.add(stale)  # no done callback will ever remove it
    release = asyncio.Event()
    running = hass.async_create_task(release.wait())
    manager._closing.add(running)
    shutdown = hass.async_create_task(manager.async_shutdown())
    await asyncio.sleep(0.01)
    assert not shutdown.done()  # still waiting for the running disconnect
    release.set()
    async with asyncio.timeout(1):
        await shutdown
    assert manager._closing == set()
