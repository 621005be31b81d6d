"""Fixtures: a private dbus-daemon per test, the fake BlueZ on it, and a bus observer.

Every test gets its own dbus-daemon (system-bus config, 256 connections per
user), DBUS_SYSTEM_BUS_ADDRESS pointing at it, and a clean bleak BlueZ
manager; the daemon is killed at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_socket
from bleak.backends.bluezdbus import manager as bluez_manager_module
from bleak_retry_connector import bleak_manager
from bluetooth_adapters.systems.linux import LinuxAdapters
from dbus_fast.aio import MessageBus

from fakebluez import (
    DBusDaemonNotFoundError,
    FakeBluez,
    PrivateSystemBus,
    connect_system_bus,
    connections_of_pid,
    ensure_dbus_daemon,
)


def _allow_install() -> bool:
    """Install the 'dbus' package when missing, unless FAKEBLUEZ_INSTALL=0 (root + apt only)."""
    return os.environ.get("FAKEBLUEZ_INSTALL", "1") != "0" and shutil.which("apt-get") is not None


@pytest.fixture(scope="session")
def dbus_daemon_binary() -> str:
    """Path of dbus-daemon (installed once if missing and allowed); fails clearly otherwise."""
    try:
        return ensure_dbus_daemon(allow_install=_allow_install())
    except DBusDaemonNotFoundError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture
def system_bus(dbus_daemon_binary: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivateSystemBus]:
    """A private system bus for this test; bleak and dbus-fast use it."""
    monkeypatch.setenv("FAKEBLUEZ_DBUS_DAEMON", dbus_daemon_binary)
    # HA's test plugin blocks every connect() but 127.0.0.1, unix sockets included;
    # allow unix sockets (the bus) for this test, TCP stays blocked.
    pytest_socket.socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    with PrivateSystemBus() as bus:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)
        # The HA test plugin marks D-Bus as absent for bleak-retry-connector for
        # the whole session; this test has one.
        previous = getattr(bleak_manager.get_global_bluez_manager_with_timeout,
                           "_has_dbus_socket", None)
        bleak_manager._reset_dbus_socket_cache()
        try:
            yield bus
        finally:
            bleak_manager.get_global_bluez_manager_with_timeout._has_dbus_socket = previous  # type: ignore[attr-defined]


@pytest.fixture
async def fake(system_bus: PrivateSystemBus) -> AsyncIterator[FakeBluez]:
    """The fake BlueZ on the private bus; bleak's manager for this loop is closed at teardown."""
    bluez = await FakeBluez().start()
    try:
        yield bluez
    finally:
        await close_bleak_manager()
        await bluez.stop()


@pytest.fixture
async def observer(system_bus: PrivateSystemBus) -> AsyncIterator[MessageBus]:
    """A connection used only to ask the daemon about connections (counted in baselines)."""
    bus = await connect_system_bus()
    try:
        yield bus
    finally:
        bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.wait_for_disconnect(), 2)


async def close_bleak_manager() -> None:
    """Disconnect and forget the bleak BlueZ manager of the running loop."""
    loop = asyncio.get_running_loop()
    manager = bluez_manager_module._global_instances.pop(loop, None)
    if manager is not None and manager._bus is not None:
        manager._bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(manager._bus.wait_for_disconnect(), 2)


async def our_connections(observer: MessageBus) -> int:
    """This process's connections to the private bus, counted by the daemon."""
    return await connections_of_pid(observer)


# The HA test plugin replaces these for the whole session (a mock "hci0"); the
# originals are captured at collection time, before its session fixture runs.
REAL_LINUX_ADAPTERS = {
    "refresh": LinuxAdapters.__dict__["refresh"],
    "adapters": LinuxAdapters.__dict__["adapters"],
}
