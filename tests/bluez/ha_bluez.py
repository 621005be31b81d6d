"""Home Assistant's real bluetooth stack on the fake BlueZ, and the leak-proof cycle driver.

Only two things of the HA test plugin's Bluetooth mocking are undone or
replaced: its session-wide mock adapter list (restored to bluetooth-adapters'
real D-Bus enumeration) and the kernel HCI ioctl probe (there is no kernel
adapter; the probe would open an AF_BLUETOOTH socket, which the plugin
forbids). The Bluetooth management socket stays unavailable, as in a
container without CAP_NET_ADMIN (habluetooth runs in its degraded mode).
Scanner, BlueZ manager, slot manager, HaBleakClientWrapper, bleak's BlueZ
backend and bleak-retry-connector are all real.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

import bleak_retry_connector
from bluetooth_adapters.systems.linux import LinuxAdapters
from dbus_fast.aio import MessageBus
from homeassistant.components import bluetooth
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ble_battery_solar.connection import ConnectionManager, LinkError
from custom_components.ble_battery_solar.protocol import Driver
from fakebluez import FakeBluez, connections_of_pid

from .conftest import REAL_LINUX_ADAPTERS


@contextlib.asynccontextmanager
async def ha_bluetooth_on(hass: HomeAssistant, fake: FakeBluez) -> AsyncIterator[MockConfigEntry]:
    """Set up HA's bluetooth integration for the fake adapter; unload it afterwards."""
    with (
        patch.object(LinuxAdapters, "refresh", REAL_LINUX_ADAPTERS["refresh"]),
        patch.object(LinuxAdapters, "adapters", REAL_LINUX_ADAPTERS["adapters"]),
        patch("bluetooth_adapters.systems.linux.get_adapters_from_hci", return_value={}),
    ):
        entry = MockConfigEntry(domain="bluetooth", unique_id=fake.adapter_address)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        try:
            yield entry
        finally:
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


async def wait_seen(hass: HomeAssistant, fake: FakeBluez, address: str, limit: float = 5) -> None:
    """Until HA's bluetooth manager has a connectable BLEDevice for the address."""
    async with asyncio.timeout(limit):
        while bluetooth.async_ble_device_from_address(hass, address, True) is None:
            fake.advertise_now()
            await asyncio.sleep(0.01)


@contextlib.contextmanager
def fast_retry_timing(scale: float = 0.04, connect_timeout: float = 0.5) -> Any:
    """Scale bleak-retry-connector's backoffs and connect timeout (module constants).

    Behaviour is unchanged; only waiting is shorter, so a hanging connect
    costs 0.5 s instead of 20 s and the 1000-cycle run stays within minutes.
    """
    names = [n for n in dir(bleak_retry_connector) if n.endswith("BACKOFF_TIME")]
    with contextlib.ExitStack() as stack:
        for name in names:
            value = getattr(bleak_retry_connector, name)
            stack.enter_context(patch.object(bleak_retry_connector, name, value * scale))
        stack.enter_context(patch.object(bleak_retry_connector, "BLEAK_TIMEOUT", connect_timeout))
        yield


# Faults drawn per cycle (weights sum to 100). "none" keeps most polls clean so
# cached links are reused as in production.
FAULTS: dict[str, int] = {
    "none": 46,
    "connect_abort": 6,  # org.bluez.Error.Failed le-connection-abort-by-local
    "connect_in_progress": 6,  # org.bluez.Error.InProgress
    "connect_hang": 3,  # Connect never answers; bleak times out
    "services_never_resolve": 3,
    "disconnect_during_io": 8,  # link drops during a read / write
    "remove_during_io": 4,  # device removed while connected (with Connected=False)
    "remove_silently": 3,  # device removed while connected, no Connected=False signal
    "start_notify_fail": 5,
    "drop_mid_response": 5,  # blesim: link drops after the first notification
    "idle_link_lost": 6,  # peripheral drops the cached link between polls
    "release": 5,  # the integration releases the device (unload / release button)
}
CONNECT_FAULTS = {"connect_abort", "connect_in_progress", "connect_hang",
                  "services_never_resolve", "start_notify_fail"}


@dataclass
class CycleReport:
    """Figures of one leak-proof run."""

    cycles: int = 0
    baseline: int = 0
    peak: int = 0
    final: int = 0
    after_shutdown: int = 0
    max_open_links: int = 0
    max_excess: int = 0  # max over cycles of (settled count - baseline - open links)
    polls_ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    faults_drawn: Counter[str] = field(default_factory=Counter)
    faults_fired: dict[str, int] = field(default_factory=dict)
    failed_disconnects: int = 0
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0
    fault_seconds: dict[str, float] = field(default_factory=dict)
    manager_totals: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """Human-readable lines for scripts/leakcheck."""
        return "\n".join([
            f"cycles: {self.cycles} in {self.seconds:.1f} s "
            f"({self.polls_ok} polls ok, failures {dict(self.failures)})",
            f"D-Bus connections of this process (daemon's count): baseline {self.baseline}, "
            f"peak {self.peak}, final {self.final} "
            f"(with {self.max_open_links} cached links at most), "
            f"after shutdown {self.after_shutdown}",
            f"settled excess over baseline + cached links: max {self.max_excess}; "
            f"peak samples: {self.samples}",
            f"faults drawn: {dict(self.faults_drawn)}",
            f"faults fired at the D-Bus level: {self.faults_fired}",
            f"failed disconnects (manager): {self.failed_disconnects}; "
            f"violations: {len(self.violations)}",
        ])


async def run_cycles(
    hass: HomeAssistant,
    fake: FakeBluez,
    observer: MessageBus,
    devices: dict[str, Driver],
    *,
    cycles: int,
    seed: int,
    faults: dict[str, int] | None = None,
    manager_factory: Callable[[HomeAssistant], ConnectionManager] = ConnectionManager,
    progress: Callable[[int, CycleReport], None] | None = None,
) -> CycleReport:
    """Poll random devices `cycles` times with random faults; count connections after each."""
    rng = random.Random(seed)
    report = CycleReport(cycles=cycles)
    manager = manager_factory(hass)
    for address in devices:
        await wait_seen(hass, fake, address)
    report.baseline = await connections_of_pid(observer)
    report.peak = report.baseline
    stop_sampling = asyncio.Event()

    async def sample() -> None:
        while not stop_sampling.is_set():
            report.peak = max(report.peak, await connections_of_pid(observer))
            report.samples += 1
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    table = FAULTS if faults is None else faults
    names, weights = list(table), list(table.values())
    started = time.monotonic()
    try:
        for cycle in range(cycles):
            address = rng.choice(sorted(devices))
            driver = devices[address]
            keep_alive = rng.choice((0.0, 30.0, 30.0))
            fault = rng.choices(names, weights)[0]
            report.faults_drawn[fault] += 1
            dev = fake.device(address)
            if fault in CONNECT_FAULTS and manager.is_open(address) and rng.random() < 0.7:
                await manager.release(address)  # make the connect fault count
            _arm(fake, dev, fault)
            if fault == "release":
                await manager.release(address)
            t0 = time.monotonic()
            try:
                await manager.poll(address, driver, keep_alive=keep_alive)
                report.polls_ok += 1
            except LinkError as err:
                report.failures[err.kind] += 1
            report.fault_seconds[fault] = report.fault_seconds.get(fault, 0.0) + time.monotonic() - t0
            dev.faults.clear()
            dev.sim.faults.drop_mid_response = False
            if not dev.exported:
                fake.restore_device(address)
                await wait_seen(hass, fake, address)
            await _settle(manager)
            count, expected = await _settled_count(observer, report.baseline, manager)
            report.max_open_links = max(report.max_open_links, manager.open_links)
            report.max_excess = max(report.max_excess, count - expected)
            report.final = count
            if count != expected:
                report.violations.append(
                    f"cycle {cycle} ({fault} on {address}): {count} connections, "
                    f"expected baseline {report.baseline} + {manager.open_links} cached links"
                )
            if progress is not None:
                progress(cycle, report)
    finally:
        stop_sampling.set()
        await sampler
        report.seconds = time.monotonic() - started
        await manager.async_shutdown()
        report.manager_totals = manager.totals()
        report.failed_disconnects = manager.failed_disconnects
        await _settle(manager)
        report.after_shutdown, _ = await _settled_count(observer, report.baseline, manager)
        report.faults_fired = dict(fake.stats.faults_fired)
    return report


def _arm(fake: FakeBluez, dev: Any, fault: str) -> None:
    if fault in ("none", "release"):
        return
    if fault == "remove_silently":
        dev.faults.remove_silently = True
        dev.faults.remove_during_io = 1
    elif fault == "drop_mid_response":
        dev.sim.faults.drop_mid_response = dev.sim.notify_uuid is not None
        if not dev.sim.faults.drop_mid_response:
            dev.faults.disconnect_during_io = 1  # read-only device: drop during the read
    elif fault == "idle_link_lost":
        fake._drop_link(dev)
    else:
        setattr(dev.faults, fault, 1)


async def _settle(manager: ConnectionManager) -> None:
    """Let disconnect callbacks and spawned closes finish."""
    for _ in range(3):
        await asyncio.sleep(0)
    closing = list(manager._closing)
    if closing:
        await asyncio.gather(*closing, return_exceptions=True)


async def _settled_count(
    observer: MessageBus, baseline: int, manager: ConnectionManager, limit: float = 1.0
) -> tuple[int, int]:
    """The daemon's count once it has noticed closed sockets (or after `limit` seconds)."""
    deadline = time.monotonic() + limit
    while True:
        expected = baseline + manager.open_links
        count = await connections_of_pid(observer)
        if count == expected or time.monotonic() > deadline:
            return count, expected
        await asyncio.sleep(0.005)
