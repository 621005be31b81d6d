"""D-Bus connection health: this process's connections to the system bus.

With bleak's BlueZ backend every BleakClient opens its own D-Bus connection,
and a client dropped without `await client.disconnect()` keeps it. The system
bus allows 256 connections per user; past that BlueZ (and everything else on
D-Bus) refuses new ones until Home Assistant restarts. The monitor counts
this process's sockets connected to the system bus socket (from
/proc/self/fd, no bus traffic, at most once a minute), keeps the figure for
diagnostics, and raises a repairs issue while the count is at or above a
threshold.

`release_client_bus()` is the last-resort cleanup for a bleak client whose
`disconnect()` failed: bleak 3.0.2's BlueZ backend raises out of
`disconnect()` (a failed Disconnect call, or a timeout waiting for
Connected=False) before it closes its bus. bleak 3.1.0 releases the bus in
`disconnect()` itself, so `release_bus_if_needed()` only touches bleak's
private attributes for older versions.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import socket
import sys
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util import dt as dt_util
from packaging.version import InvalidVersion, Version

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

ISSUE_ID: Final = "dbus_connection_leak"
DEFAULT_THRESHOLD: Final = 64
DEFAULT_INTERVAL: Final = timedelta(minutes=1)
DEFAULT_SYSTEM_BUS_ADDRESS: Final = "unix:path=/run/dbus/system_bus_socket"
BLEAK_RELEASES_BUS_FROM: Final = Version("3.1.0")


def bleak_needs_bus_release(version: str | None = None) -> bool:
    """Whether this bleak (default: the installed one) may keep a client's D-Bus bus open
    after `disconnect()` raised: versions before 3.1.0 do."""
    try:
        installed = Version(version or importlib.metadata.version("bleak"))
    except (InvalidVersion, importlib.metadata.PackageNotFoundError):
        return True  # unknown: the release is harmless where bleak already closed the bus
    return installed < BLEAK_RELEASES_BUS_FROM


NEEDS_BUS_RELEASE: bool = bleak_needs_bus_release()


def system_bus_socket_addresses(address: str | None = None) -> list[str]:
    """Socket addresses of the system bus, as getpeername() reports them.

    `address` defaults to DBUS_SYSTEM_BUS_ADDRESS (or the standard path).
    Abstract sockets are returned with a leading NUL; non-unix transports are
    skipped.
    """
    if address is None:
        address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or DEFAULT_SYSTEM_BUS_ADDRESS
    result: list[str] = []
    for transport in address.split(";"):
        kind, _, options = transport.partition(":")
        if kind != "unix":
            continue
        for option in options.split(","):
            key, _, value = option.partition("=")
            if key == "path":
                result.append(_unescape(value))
            elif key == "abstract":
                result.append("\0" + _unescape(value))
    return result


def _unescape(value: str) -> str:
    """Undo D-Bus address escaping (%XX, the same as URL percent-encoding)."""
    return unquote(value)


def count_system_bus_connections(addresses: Collection[str]) -> int:
    """Number of this process's unix sockets whose peer is one of `addresses`.

    Walks /proc/self/fd; each socket descriptor is duplicated, asked for its
    peer name and closed again. Blocking (a few ms for hundreds of
    descriptors): run it in the executor.
    """
    wanted = {a.encode() if isinstance(a, str) else a for a in addresses}
    count = 0
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return 0
    for name in fds:
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            sock = socket.fromfd(int(name), socket.AF_UNIX, socket.SOCK_STREAM)
        except (OSError, ValueError):
            continue  # closed meanwhile, or not ours to inspect
        try:
            peer: Any = sock.getpeername()
        except OSError:
            continue  # not connected
        finally:
            sock.close()  # closes the duplicate only
        if isinstance(peer, str):
            peer = peer.encode()
        if isinstance(peer, bytes) and peer in wanted:
            count += 1
    return count


def release_client_bus(client: Any) -> bool:
    """Close the D-Bus connection a bleak BlueZ client still holds; whether one was open.

    For use after `await client.disconnect()` raised or timed out. Works on
    bleak.BleakClient and habluetooth's wrapper (both keep the platform client
    in `_backend`) and on a bare BleakClientBlueZDBus; anything else is left
    alone.
    """
    backend = getattr(client, "_backend", None) or client
    bus = getattr(backend, "_bus", None)
    if bus is None or not callable(getattr(bus, "disconnect", None)):
        return False
    cleanup: Callable[[], None] | None = getattr(backend, "_cleanup_all", None)
    with contextlib.suppress(Exception):
        if cleanup is not None:
            cleanup()  # drops bleak's device watcher for this client
    with contextlib.suppress(Exception):
        bus.disconnect()
    # End bleak's per-connection monitor task (it waits for a Connected=False
    # that will not come) without the Disconnect call it sends when cancelled.
    event = getattr(backend, "_disconnect_monitor_event", None)
    if event is not None and callable(getattr(event, "set", None)):
        event.set()
    with contextlib.suppress(AttributeError):
        backend._disconnect_monitor_event = None
        backend._bus = None  # a later disconnect() is then a no-op
        backend._is_connected = False
    return True


def release_bus_if_needed(client: Any) -> bool:
    """`release_client_bus(client)` with a bleak that needs it (before 3.1.0); else nothing."""
    if not NEEDS_BUS_RELEASE:
        return False
    return release_client_bus(client)


class DBusConnectionMonitor:
    """Counts this process's system-bus connections and raises a repairs issue on a leak.

    One per Home Assistant instance. `count` is the last figure (None before
    the first check or when no system bus is in use), `peak` the highest seen.
    """

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        interval: timedelta = DEFAULT_INTERVAL,
        address: str | None = None,
    ) -> None:
        self.threshold = threshold
        self.interval = max(interval, timedelta(seconds=1))
        self._address = address
        self.addresses: list[str] = []
        self.count: int | None = None
        self.peak = 0
        self.checks = 0
        self.last_check: datetime | None = None
        self.issue_raised = False
        self._hass: HomeAssistant | None = None
        self._unsub: Callable[[], None] | None = None

    @property
    def available(self) -> bool:
        """Whether a local system bus socket exists (BlueZ can be in use)."""
        return bool(self.addresses)

    async def async_start(self, hass: HomeAssistant) -> None:
        """Check now and then every `interval`; a no-op without a local system bus."""
        self._hass = hass
        self.addresses = await hass.async_add_executor_job(self._find_addresses)
        if not self.available:
            _LOGGER.debug("No local D-Bus system bus; connection monitor idle")
            return
        await self.async_update()
        self._unsub = async_track_time_interval(
            hass, self._async_tick, self.interval, name=f"{DOMAIN} D-Bus connection monitor",
            cancel_on_shutdown=True,
        )

    async def async_stop(self) -> None:
        """Stop checking (the repairs issue, if raised, stays until the count drops)."""
        if self._unsub is not None:
            self._unsub()
            self._unsub = None

    def _find_addresses(self) -> list[str]:
        if not sys.platform.startswith("linux"):
            return []
        return [
            a for a in system_bus_socket_addresses(self._address)
            if a.startswith("\0") or os.path.exists(a)
        ]

    async def _async_tick(self, _now: datetime) -> None:
        await self.async_update()

    async def async_update(self) -> int | None:
        """Count now, update the peak and the repairs issue; the count."""
        hass = self._hass
        if hass is None or not self.available:
            return None
        count = await hass.async_add_executor_job(count_system_bus_connections, self.addresses)
        self.count = count
        self.peak = max(self.peak, count)
        self.checks += 1
        self.last_check = dt_util.utcnow()
        if count >= self.threshold:
            if not self.issue_raised:
                _LOGGER.warning(
                    "This process holds %s D-Bus system bus connections (threshold %s); "
                    "Bluetooth clients may be leaking them", count, self.threshold,
                )
            ir.async_create_issue(
                hass, DOMAIN, ISSUE_ID,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=ISSUE_ID,
                translation_placeholders={"count": str(count), "threshold": str(self.threshold)},
            )
            self.issue_raised = True
        elif self.issue_raised:
            ir.async_delete_issue(hass, DOMAIN, ISSUE_ID)
            self.issue_raised = False
        return count

    def as_dict(self) -> dict[str, Any]:
        """Plain-data figures for diagnostics."""
        return {
            "available": self.available,
            "count": self.count,
            "peak": self.peak,
            "threshold": self.threshold,
            "checks": self.checks,
            "last_check": self.last_check.isoformat() if self.last_check else None,
            "issue_raised": self.issue_raised,
            "interval_seconds": self.interval.total_seconds(),
        }
