"""Benchmark 6: data age of streaming devices (live updates) vs polled devices.

Two JK and two Topband packs (they stream: JK after its poll's request, Topband
by itself) and two JBD and two Battery Service devices (they only answer) share
two virtual proxies with the realistic latency model, a 30 s update interval and
the default live-update interval (5 s); each proxy has a slot for every link (when
devices outnumber slots the cache rotates links, and a device without a held
link gets no live updates: its data age is then that of a polled device). Every half second of simulated time the
age of the data each device's entities show is sampled: the time since the
coordinator last delivered fresh data (a poll or a pushed stream frame). Figures:
p50 and p95 of that age per group, pushes, and clients opened per device (the live
updates must not connect). The age of a pushed value is counted from its push;
its frame arrived at most one stream period (1 s) earlier.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from blesim import Latency
from custom_components.ble_battery_solar.const import DEFAULT_LIVE_INTERVAL

from .harness import build_fleet, percentile
from .report import Report
from .simclock import SimClock

INTERVAL = 30
MINUTES = 10
STEP = 0.5
LATENCY = Latency(connect=1.5, round_trip=0.06)
STREAMING = frozenset({"jk", "topband"})


async def test_live_data_age(hass: HomeAssistant, clock: SimClock, report: Report) -> None:
    """p50/p95 data age, streaming (live updates) vs polled devices; no extra connects."""
    fleet = await build_fleet(
        hass, clock, devices=8, proxies=2, slots=6, latency=LATENCY,
        families=["jk", "jbd", "topband", "ble_battery_service"], interval=INTERVAL,
    )
    await clock.run_for(2 * INTERVAL)  # every device polled and its link cached
    opened_before = {p.name: p.opened for p in fleet.proxies}
    ages: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(round(MINUTES * 60 / STEP)):
        await clock.run_for(STEP)
        now = dt_util.utcnow()
        for entry, device in zip(fleet.entries, fleet.devices, strict=True):
            coordinator = entry.runtime_data
            stamp = coordinator.last_update_success_time
            assert coordinator.last_update_success
            assert stamp is not None
            ages[device.family in STREAMING].append((now - stamp).total_seconds())
    pushes = {
        device.family: entry.runtime_data.live.pushes
        for entry, device in zip(fleet.entries, fleet.devices, strict=True)
    }
    opened = sum(p.opened for p in fleet.proxies) - sum(opened_before.values())
    await fleet.unload(clock)
    b = "6 live data"
    for streaming, label in ((True, "streaming (JK, Topband)"), (False, "polled (JBD, BAS)")):
        p50, p95 = percentile(ages[streaming], 0.5), percentile(ages[streaming], 0.95)
        report.add(b, label, "data age p50", p50, "s")
        report.add(
            b, label, "data age p95", p95, "s",
            target=(f"<= {DEFAULT_LIVE_INTERVAL} s (live-update interval)" if streaming
                    else f"<= {INTERVAL} s (update interval)"),
            met=p95 <= (DEFAULT_LIVE_INTERVAL if streaming else INTERVAL),
        )
    report.add(b, "all", "pushes per device in 10 min (jk / topband / jbd / bas)",
               " / ".join(str(pushes[f]) for f in ("jk", "topband", "jbd", "ble_battery_service")))
    report.add(b, "all", "clients opened while measuring", opened, target="0", met=opened == 0)
    assert opened == 0
    assert percentile(ages[True], 0.95) <= DEFAULT_LIVE_INTERVAL
    assert pushes["jbd"] == pushes["ble_battery_service"] == 0
    assert all(p.leaked == 0 for p in fleet.proxies)
