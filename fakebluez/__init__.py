"""fakebluez: a fake BlueZ daemon on a private D-Bus system bus (dev/test tooling only).

`PrivateSystemBus` starts a dbus-daemon configured like the system bus
(including its per-user connection limit); `FakeBluez` exports org.bluez
objects on it, driven by blesim's simulated devices, so bleak's real BlueZ
backend and bleak-retry-connector run unchanged against it.
"""

from .bluez import BusFaults, FakeBluez, FakeDevice, FakeStats, Timing
from .daemon import (
    LIMIT_ERROR,
    DBusDaemonNotFoundError,
    PrivateSystemBus,
    connect_system_bus,
    connections_of_pid,
    ensure_dbus_daemon,
    find_dbus_daemon,
)

__all__ = [
    "LIMIT_ERROR",
    "BusFaults",
    "DBusDaemonNotFoundError",
    "FakeBluez",
    "FakeDevice",
    "FakeStats",
    "PrivateSystemBus",
    "Timing",
    "connect_system_bus",
    "connections_of_pid",
    "ensure_dbus_daemon",
    "find_dbus_daemon",
]
