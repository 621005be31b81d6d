"""Benchmark 2: CPU time per poll spent in our code on top of the link's own time.

With `Latency.instant()` the simulated link costs no time, so the wall-clock time of a
refresh (`coordinator.async_refresh()`) is pure CPU: our coordinator, manager and driver,
Home Assistant's coordinator base and entity state writes, the bluetooth stack, asyncio,
and the simulator itself. Each refresh is timed with `time.perf_counter` and
`time.process_time`; p50/p99 are over 2000 refreshes (cached link) or 400 (connect per
poll). By default the simulated battery's values do not change between polls (the
coordinator then writes no entity state: the poll path alone); in the "new data" case the
model's current changes on every poll, so every poll also writes the changed entities'
states, as a real poll of a live battery does.

A separate cProfile run of the same refreshes splits the CPU time by module group. The
time of builtins and standard-library functions is charged to the group of their direct
caller (one level), so `asyncio.Event.set()` called by blesim counts as simulator. The
simulator's share is then subtracted from the unprofiled median: that is "our overhead".
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import statistics
import time
from collections import Counter
from typing import Any

import pytest
from freezegun import api as freezegun_api
from homeassistant.core import HomeAssistant

from blesim import Latency
from custom_components.ble_battery_solar import get_manager

from .harness import build_fleet, percentile
from .report import Report
from .simclock import SimClock

GROUPS = (
    ("ours", ("custom_components/ble_battery_solar/",)),
    ("simulator", ("/blesim/",)),
    ("bench harness", ("/bench/",)),
    ("bluetooth stack", ("/habluetooth/", "/bleak/", "/bleak_retry_connector/",
                         "/bluetooth_data_tools/", "/bleak_esphome/")),
    ("homeassistant", ("/homeassistant/",)),
)
RUNTIME = "python runtime (asyncio loop, gc)"


def group_of(filename: str) -> str | None:
    """The module group of a source file; None for builtins and the standard library."""
    for name, needles in GROUPS:
        if any(needle in filename for needle in needles):
            return name
    return None


def split_by_group(profile: cProfile.Profile) -> dict[str, float]:
    """Own CPU seconds per module group; builtins/stdlib charged to their direct caller."""
    stats: Any = pstats.Stats(profile).stats
    groups: Counter[str] = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, callers) in stats.items():
        group = group_of(filename)
        if group is not None:
            groups[group] += tottime
            continue
        charged = 0.0
        for (caller_file, _l, _n), caller_info in callers.items():
            caller_group = group_of(caller_file)
            if caller_group is not None:
                tt = caller_info[2]
                groups[caller_group] += tt
                charged += tt
        groups[RUNTIME] += max(0.0, tottime - charged)
    return dict(groups)


async def _refresh_many(
    coordinator: Any, device: Any, count: int, vary: bool
) -> tuple[list[float], list[float]]:
    """Time `count` refreshes.

    Wall time uses freezegun's saved real perf_counter, looked up on its module at each call:
    freezegun freezes `time.perf_counter` and also swaps any module-level reference to it.
    """
    real_perf_counter = freezegun_api.real_perf_counter
    wall: list[float] = []
    cpu: list[float] = []
    model = device.model
    for n in range(count):
        if vary:  # new data on every poll: entity states change and are written
            model.current = -2.5 + 0.01 * (n % 50)
        w0, c0 = real_perf_counter(), time.process_time()
        await coordinator.async_refresh()
        c1, w1 = time.process_time(), real_perf_counter()
        wall.append(w1 - w0)
        cpu.append(c1 - c0)
        assert coordinator.last_update_success
    return wall, cpu


@pytest.mark.parametrize(
    "params",
    [
        ("jbd", None, 2000, False),
        ("jbd", None, 2000, True),
        ("ble_battery_service", None, 2000, False),
        ("jbd", 0, 400, False),
    ],
    ids=["jbd-cached", "jbd-cached-new_data", "battery_service-cached", "jbd-connect_per_poll"],
)
async def test_overhead(
    hass: HomeAssistant, clock: SimClock, report: Report,
    params: tuple[str, float | None, int, bool],
) -> None:
    """p50/p99 CPU per poll; the simulator's share measured by profile and subtracted."""
    family, keep_alive, count, vary = params
    fleet = await build_fleet(
        hass, clock, devices=1, proxies=1, slots=3, latency=Latency.instant(),
        families=[family], keep_alive=keep_alive, advertise_every=0,
    )
    coordinator = fleet.entries[0].runtime_data
    device = fleet.devices[0]
    await _refresh_many(coordinator, device, 100, vary)  # warm-up: caches, first state writes
    gc.collect()
    wall, cpu = await _refresh_many(coordinator, device, count, vary)
    profile = cProfile.Profile()
    profile.enable()
    await _refresh_many(coordinator, device, count // 2, vary)
    profile.disable()
    shares = split_by_group(profile)
    total = sum(shares.values())
    stats = get_manager(hass).device_stats(device.address)
    await fleet.unload(clock)

    case = f"{family}, {'connect per poll' if keep_alive == 0 else 'cached link'}"
    if vary:
        case += ", new data every poll (state writes)"
    b = "2 overhead"
    p50, p99 = statistics.median(wall), percentile(wall, 0.99)
    sim_share = shares.get("simulator", 0.0) / total
    ours_p50 = p50 * (1 - sim_share)
    report.add(b, case, "refreshes timed", count)
    report.add(b, case, "wall per refresh p50 (all code, instant link)", p50 * 1e6, "us")
    report.add(b, case, "wall per refresh p99", p99 * 1e6, "us")
    report.add(b, case, "process CPU per refresh p50", statistics.median(cpu) * 1e6, "us")
    report.add(b, case, "process CPU per refresh p99", percentile(cpu, 0.99) * 1e6, "us")
    for name in (*(g for g, _ in GROUPS), RUNTIME):
        if name == "bench harness" and not shares.get(name):
            continue
        report.add(b, case, f"profile share: {name}", 100 * shares.get(name, 0.0) / total, "%")
    report.add(
        b, case, "our overhead p50 (p50 minus simulator share)", ours_p50 * 1e6, "us",
        target="< 1000 us", met=ours_p50 < 1e-3,
    )
    report.add(
        b, case, "our overhead p99 (p99 minus simulator share)", p99 * (1 - sim_share) * 1e6,
        "us",
    )
    report.add(
        b, case, "  of which our own modules (p50 x share)",
        p50 * shares.get("ours", 0.0) / total * 1e6, "us",
    )
    assert stats.failures == {}
