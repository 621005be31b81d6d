"""dbus_monitor: counts this process's system-bus connections and raises a repairs issue."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from dbus_fast.aio import MessageBus
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ble_battery_solar.const import DOMAIN
from custom_components.ble_battery_solar.dbus_monitor import (
    ISSUE_ID,
    DBusConnectionMonitor,
    count_system_bus_connections,
    release_client_bus,
    system_bus_socket_addresses,
)
from fakebluez import PrivateSystemBus, connect_system_bus, connections_of_pid


def test_system_bus_addresses() -> None:
    """Unix path and abstract transports are understood; others are skipped."""
    assert system_bus_socket_addresses("unix:path=/run/dbus/system_bus_socket") == [
        "/run/dbus/system_bus_socket"
    ]
    assert system_bus_socket_addresses(
        "tcp:host=localhost,port=1;unix:abstract=/tmp/dbus-x%2c1,guid=00"
    ) == ["\0/tmp/dbus-x,1"]


async def _close(buses: list[MessageBus]) -> None:
    for bus in buses:
        bus.disconnect()
    for bus in buses:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.wait_for_disconnect(), 2)


async def test_counts_bleak_like_connections_and_raises_issue(
    hass: HomeAssistant, system_bus: PrivateSystemBus, observer: MessageBus
) -> None:
    """Open N extra bus connections: count, peak, repairs issue; close them: issue gone."""
    issues = ir.async_get(hass)
    # Let the daemon notice connections closed by earlier fixtures or tests.
    expected = count_system_bus_connections(system_bus_socket_addresses())
    for _ in range(100):
        baseline_daemon = await connections_of_pid(observer)
        if baseline_daemon == expected:
            break
        await asyncio.sleep(0.01)
    monitor = DBusConnectionMonitor(threshold=baseline_daemon + 5,
                                    interval=timedelta(seconds=60))
    await monitor.async_start(hass)
    try:
        assert monitor.available
        baseline = monitor.count
        # The /proc count agrees with the daemon's own count of our connections.
        assert baseline == baseline_daemon, (baseline, baseline_daemon)
        assert issues.async_get_issue(DOMAIN, ISSUE_ID) is None

        # Like leaked BleakClients: one MessageBus each (bleak opens them this way).
        extra = [await connect_system_bus() for _ in range(7)]
        assert await monitor.async_update() == baseline + 7
        assert await connections_of_pid(observer) == baseline + 7
        issue = issues.async_get_issue(DOMAIN, ISSUE_ID)
        assert issue is not None
        assert issue.translation_key == "dbus_connection_leak"
        assert issue.translation_placeholders == {
            "count": str(baseline + 7), "threshold": str(baseline + 5)
        }
        assert issue.severity == ir.IssueSeverity.WARNING

        await _close(extra)
        for _ in range(500):  # the descriptors close once dbus-fast sees the hang-up
            if count_system_bus_connections(monitor.addresses) == baseline:
                break
            await asyncio.sleep(0.01)
        # The periodic check (once a minute) notices the drop and deletes the issue.
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=61))
        for _ in range(200):  # the check runs as a background task with an executor job
            await hass.async_block_till_done(wait_background_tasks=True)
            if monitor.checks >= 3:
                break
            await asyncio.sleep(0.01)
        assert monitor.count == baseline, monitor.as_dict()
        assert monitor.peak == baseline + 7
        assert monitor.checks >= 3
        assert issues.async_get_issue(DOMAIN, ISSUE_ID) is None
        figures = monitor.as_dict()
        assert figures["count"] == baseline
        assert figures["peak"] == baseline + 7
        assert figures["threshold"] == baseline + 5
        assert figures["issue_raised"] is False
    finally:
        await monitor.async_stop()


async def test_idle_without_system_bus(hass: HomeAssistant, tmp_path: object) -> None:
    """No system bus socket: nothing is counted, nothing scheduled."""
    monitor = DBusConnectionMonitor(address=f"unix:path={tmp_path}/absent")
    await monitor.async_start(hass)
    assert not monitor.available
    assert await monitor.async_update() is None
    assert monitor.as_dict()["count"] is None
    await monitor.async_stop()


async def test_release_client_bus_closes_a_held_connection(
    system_bus: PrivateSystemBus, observer: MessageBus
) -> None:
    """The fallback closes what a bleak BlueZ client still holds."""
    baseline = await connections_of_pid(observer)

    class Backend:
        """Shape of bleak's BleakClientBlueZDBus after a failed disconnect()."""

        def __init__(self, bus: MessageBus) -> None:
            self._bus: MessageBus | None = bus
            self._is_connected = True
            self._disconnect_monitor_event: asyncio.Event | None = asyncio.Event()
            self.cleaned = False

        def _cleanup_all(self) -> None:
            self.cleaned = True

    class Client:
        """Shape of bleak.BleakClient / habluetooth's wrapper."""

        def __init__(self, backend: Backend) -> None:
            self._backend = backend

    backend = Backend(await connect_system_bus())
    event = backend._disconnect_monitor_event
    assert await connections_of_pid(observer) == baseline + 1
    assert release_client_bus(Client(backend))
    assert backend._bus is None
    assert backend.cleaned
    assert event is not None
    assert event.is_set()
    assert not release_client_bus(Client(backend))  # nothing left to release
    for _ in range(100):
        if await connections_of_pid(observer) == baseline:
            break
        await asyncio.sleep(0.01)
    assert await connections_of_pid(observer) == baseline
    assert count_system_bus_connections(system_bus_socket_addresses()) == baseline
