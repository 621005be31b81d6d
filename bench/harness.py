"""Fleets of simulated devices behind virtual proxies, poll recording and poll statistics.

A `Fleet` is N blesim devices spread round-robin over P virtual proxies, each configured as
a real config entry of the integration and set up the way Home Assistant does at start-up
(all entries of the domain at once, through `async_setup_component`). A `PollRecorder`
wraps the coordinator's update method for the duration of a run (class-level, so the first
refresh is recorded too) and notes when every poll started and ended on the simulated
clock and how it ended. Nothing of the integration is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import statistics
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import Mock, patch

from _pytest.logging import LogCaptureHandler
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from blesim import BatteryServiceDevice, JbdDevice, Latency, SimDevice, VirtualProxy
from blesim.catalog import DEVICE_CLASSES as CATALOG
from blesim.esphome import EspHomeNode
from custom_components.ble_battery_solar.const import (
    CONF_FAMILY,
    CONF_KEEP_ALIVE,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.ble_battery_solar.coordinator import BleBatterySolarCoordinator

from .simclock import SimClock

DEVICE_CLASSES: dict[str, type[SimDevice]] = {
    "jbd": JbdDevice,
    "ble_battery_service": BatteryServiceDevice,
}
# every other simulated family by its name, from blesim's catalog
DEVICE_CLASSES.update({f: c for f, c in CATALOG.items() if f not in DEVICE_CLASSES})


@dataclass(slots=True)
class PollRecord:
    """One poll as the coordinator saw it, on the simulated clock."""

    address: str
    start: float
    end: float
    ok: bool
    kind: str | None = None  # the failure kind (translation key) when not ok

    @property
    def duration(self) -> float:
        """Seconds from the coordinator asking for data to the answer (or the failure)."""
        return self.end - self.start


class PollRecorder:
    """Records every coordinator poll while installed."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.records: dict[str, list[PollRecord]] = defaultdict(list)

    @contextlib.contextmanager
    def installed(self) -> Iterator[PollRecorder]:
        """Wrap BleBatterySolarCoordinator._async_update_data for the duration of the block."""
        original = BleBatterySolarCoordinator._async_update_data
        recorder = self
        now = self.clock.now

        async def recorded(coordinator: BleBatterySolarCoordinator) -> Any:
            start = now()
            try:
                data = await original(coordinator)
            except UpdateFailed as err:
                recorder.records[coordinator.address].append(
                    PollRecord(coordinator.address, start, now(), False, err.translation_key)
                )
                raise
            recorder.records[coordinator.address].append(
                PollRecord(coordinator.address, start, now(), True)
            )
            return data

        with patch.object(BleBatterySolarCoordinator, "_async_update_data", recorded):
            yield self

    def between(self, start: float, end: float) -> dict[str, list[PollRecord]]:
        """Polls that started inside [start, end), per device."""
        return {
            address: [r for r in recs if start <= r.start < end]
            for address, recs in self.records.items()
        }


@dataclass
class Fleet:
    """Simulated devices, their proxies and their config entries."""

    hass: HomeAssistant
    proxies: list[Any]  # VirtualProxy or EspHomeNode: the same accounting either way
    devices: list[SimDevice]
    entries: list[MockConfigEntry]
    proxy_of: dict[str, Any] = field(default_factory=dict)
    node_entries: list[MockConfigEntry] = field(default_factory=list)  # esphome entries

    def opened(self) -> dict[str, int]:
        """Clients opened so far per device address (over every proxy)."""
        total: Counter[str] = Counter()
        for proxy in self.proxies:
            total.update(proxy.opened_by_device)
        return dict(total)

    def check_slots(self) -> list[str]:
        """Slot accounting problems right now (empty when all is well)."""
        problems = []
        for proxy in self.proxies:
            if proxy.slot_violations:
                problems.append(f"{proxy.name}: {proxy.slot_violations} slot violations")
            if len(proxy.links) > proxy.slots:
                problems.append(f"{proxy.name}: {len(proxy.links)} links > {proxy.slots} slots")
        return problems

    async def unload(self, clock: SimClock) -> None:
        """Unload every entry (closing their links) and stop the proxies."""
        for entry in self.entries:
            if entry.state.recoverable:
                await clock.run_until_done(self.hass.config_entries.async_unload(entry.entry_id))
        await clock.settle()
        for entry in self.node_entries:
            await clock.run_until_done(self.hass.config_entries.async_unload(entry.entry_id))
        for proxy in self.proxies:
            if isinstance(proxy, EspHomeNode):
                await proxy.close()
            else:
                proxy.stop()
        await clock.settle()


@contextlib.contextmanager
def production_logging() -> Iterator[None]:
    """Log at Home Assistant's default level (bootstrap sets the root logger to WARNING
    unless HA runs with --verbose) instead of the test harness's, which formats and keeps
    every INFO/DEBUG record: CPU and memory that production does not spend."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.setLevel(level)


def clear_log_capture() -> None:
    """Empty pytest's log capture buffers.

    pytest keeps every log record (and its formatted text) of a test for the test report;
    over a simulated hour that is megabytes which production, writing its log to a file,
    never holds. Memory measurements clear them before every sample.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LogCaptureHandler):
            handler.reset()


EXCLUDED = ("/blesim/", "/bench/", "tracemalloc", "/freezegun/", "/_pytest/", "/pluggy/")


def traced_bytes(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes traced outside the simulator, the bench and the test machinery."""
    return sum(
        stat.size for stat in snapshot.statistics("filename")
        if not any(part in (stat.traceback[0].filename or "") for part in EXCLUDED)
    )


def live_timers(loop: Any) -> int:
    """Timer handles that are scheduled and not cancelled."""
    return sum(not handle._cancelled for handle in loop._scheduled)


STORAGE_WRITES: Counter[str] = Counter()  # store key -> writes seen by `sample`


def sample(
    hass: HomeAssistant, devices: Sequence[SimDevice], *, memory: bool = True
) -> dict[str, int]:
    """Task and timer-handle counts right now, and traced memory when `memory`.

    pytest's log capture, the simulated devices' `requests_seen` (blesim keeps every
    request it was sent, allocated by our driver) and the call record of the test plugin's
    storage-write mock are emptied first: harness memory that grows with every poll or
    every registry save, and that production does not have.
    """
    clear_log_capture()
    for device in devices:
        device.requests_seen.clear()
    # The test plugin's storage mock records every write call (with the data written).
    storage_writes = 0
    write = Store._async_write_data
    if isinstance(mock := getattr(write, "mock", write), Mock):  # autospec'd: .mock
        storage_writes = mock.call_count
        STORAGE_WRITES.update(getattr(call.args[0], "key", "?") for call in mock.call_args_list)
        mock.reset_mock()
    counts = {
        "storage_writes": storage_writes,  # since the previous sample
        "tasks": len(asyncio.all_tasks(hass.loop)),
        "timers": live_timers(hass.loop),
        "hass_tasks": len(hass._tasks) + len(hass._background_tasks),
    }
    if memory:
        gc.collect()
        counts["bytes"] = traced_bytes(tracemalloc.take_snapshot())
    return counts


def make_address(proxy_index: int, device_index: int) -> str:
    """A stable, unique MAC address for the i-th device of the p-th proxy."""
    return f"A5:C2:37:{proxy_index:02X}:{device_index >> 8:02X}:{device_index & 0xFF:02X}"


async def build_fleet(
    hass: HomeAssistant,
    clock: SimClock,
    *,
    devices: int,
    proxies: int,
    slots: int,
    latency: Latency,
    families: Sequence[str] = ("jbd", "ble_battery_service"),
    interval: int = 30,
    keep_alive: float | None = None,
    advertise_every: float = 5.0,
    setup: bool = True,
    path: str = "blesim",
) -> Fleet:
    """Start `proxies` virtual proxies, put `devices` devices round-robin in their range, add
    one config entry per device (families alternate) and set the domain up like HA start-up.

    `path="esphome"`: the proxies are ESPHome nodes added to HA's esphome integration.
    """
    fleet = Fleet(hass, [], [], [])
    for p in range(proxies):
        name, source = f"bench-proxy-{p}", f"B1:E5:11:00:10:{p:02X}"
        if path == "esphome":
            fleet.proxies.append(await _start_node(hass, clock, fleet, EspHomeNode(
                name=name, source=source, slots=slots, latency=latency,
                advertise_every=advertise_every)))
        else:
            proxy = VirtualProxy(hass, name=name, source=source, slots=slots, latency=latency,
                                 advertise_every=advertise_every)
            proxy.start()
            fleet.proxies.append(proxy)
    proxy_list = fleet.proxies
    for i in range(devices):
        p = i % proxies
        family = families[i % len(families)]
        device = DEVICE_CLASSES[family](make_address(p, i), f"BENCH-{family.upper()}-{i:03d}")
        device.model.clock = clock.now  # the battery model follows simulated time
        proxy_list[p].add(device)
        fleet.devices.append(device)
        fleet.proxy_of[device.address] = proxy_list[p]
        options: dict[str, Any] = {CONF_UPDATE_INTERVAL: interval}
        if keep_alive is not None:
            options[CONF_KEEP_ALIVE] = keep_alive
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=device.name,
            unique_id=device.address,
            data={"address": device.address, CONF_FAMILY: device.family},
            options=options,
        )
        entry.add_to_hass(hass)
        fleet.entries.append(entry)
    await clock.settle()
    if setup:
        assert await clock.run_until_done(async_setup_component(hass, DOMAIN, {}), limit=900)
    return fleet


def node_ready(node: EspHomeNode) -> bool:
    """HA's esphome integration is connected to the node and its scanner is registered."""
    from habluetooth import get_manager

    return node.subscriber is not None and any(
        s.source == node.source and s.connectable
        for s in get_manager().async_current_scanners())


async def _start_node(hass: HomeAssistant, clock: SimClock, fleet: Fleet,
                      node: EspHomeNode) -> EspHomeNode:
    """Serve an ESPHome node and add it to HA's esphome integration, as a user would."""
    if "homeassistant" not in hass.config.components:
        # esphome's assist_pipeline -> conversation chain needs it
        assert await async_setup_component(hass, "homeassistant", {})
    await node.serve()
    entry = MockConfigEntry(domain="esphome", title=node.name, unique_id=node.mac,
                            data={"host": node.host, "port": node.port, "password": ""})
    entry.add_to_hass(hass)
    fleet.node_entries.append(entry)
    assert await clock.run_until_done(hass.config_entries.async_setup(entry.entry_id))
    for _ in range(10_000):  # TCP round trips need loop turns, not simulated time
        await clock.settle()
        if node_ready(node):
            return node
    raise AssertionError(f"{node.name} did not come up in HA's esphome integration")


@dataclass
class PollStats:
    """Poll statistics of a fleet over a window of simulated time."""

    devices: int
    seconds: float
    polls: int
    ok: int
    on_time: int
    failures: dict[str, int]
    max_age: float
    p50_duration: float
    p99_duration: float
    connects: int

    @property
    def on_time_fraction(self) -> float:
        """Share of attempted polls that delivered data within the grace period."""
        return self.on_time / self.polls if self.polls else 0.0

    @property
    def connects_per_device_hour(self) -> float:
        """Clients opened per device per simulated hour."""
        return self.connects / self.devices / (self.seconds / 3600)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of values, nearest-rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[rank]


def poll_stats(
    recorder: PollRecorder,
    addresses: Sequence[str],
    start: float,
    end: float,
    *,
    grace: float,
    connects: int,
) -> PollStats:
    """Summarise polls that started in [start, end).

    A poll is on time when it delivered data at most `grace` seconds after the coordinator's
    timer asked for it. Data age is the time since a device's last successful poll ended;
    its maximum is taken over the window (from each device's last success before `start`).
    """
    window = recorder.between(start, end)
    failures: Counter[str] = Counter()
    durations: list[float] = []
    polls = ok = on_time = 0
    max_age = 0.0
    for address in addresses:
        recs = window.get(address, [])
        polls += len(recs)
        before = [r.end for r in recorder.records.get(address, []) if r.ok and r.end <= start]
        last_ok = before[-1] if before else start
        for rec in recs:
            if rec.ok:
                ok += 1
                durations.append(rec.duration)
                on_time += rec.duration <= grace
                if rec.end <= end:
                    max_age = max(max_age, rec.end - last_ok)
                    last_ok = rec.end
            else:
                failures[rec.kind or "unknown"] += 1
        max_age = max(max_age, end - last_ok)
    return PollStats(
        devices=len(addresses),
        seconds=end - start,
        polls=polls,
        ok=ok,
        on_time=on_time,
        failures=dict(failures),
        max_age=max_age,
        p50_duration=statistics.median(durations) if durations else 0.0,
        p99_duration=percentile(durations, 0.99),
        connects=connects,
    )
