"""Benchmark 1: poll latency, cached connection vs connect-per-poll, on the simulated clock.

One device on one virtual proxy with the realistic latency model (connect 1.5 s, request
round trip 60 ms). The device is polled every 30 s for 20 polls with the default keep
window (the link is cached and reused), then its options switch to keep window 0
(connect, poll and disconnect every time) for another 20 polls: same device, same link.

The link's own limit of the speed-up is (connect + poll round trips) / (poll round trips):
26x for one request, 13.5x for two. blesim charges every request one round trip (a read,
a write with response, or a write without response until its answer's first notification
arrives), so the limit of the simulated link is the briefed one. Target: within 10 %.
"""

from __future__ import annotations

import statistics

import pytest
from homeassistant.core import HomeAssistant

from blesim import Latency
from custom_components.ble_battery_solar.const import CONF_KEEP_ALIVE, CONF_UPDATE_INTERVAL

from .harness import PollRecorder, build_fleet
from .report import Report
from .simclock import SimClock

POLLS = 20
INTERVAL = 30
LATENCY = Latency(connect=1.5, round_trip=0.06)
REQUESTS = {"ble_battery_service": 1, "jbd": 2}  # one GATT read; two writes answered by notify


@pytest.mark.parametrize("family", ["ble_battery_service", "jbd"])
async def test_poll_latency(
    hass: HomeAssistant, clock: SimClock, report: Report, family: str
) -> None:
    """Median poll time with the link cached vs connect-per-poll; the ratio vs the limit."""
    recorder = PollRecorder(clock)
    with recorder.installed():
        fleet = await build_fleet(
            hass, clock, devices=1, proxies=1, slots=3, latency=LATENCY,
            families=[family], interval=INTERVAL,
        )
        entry, device = fleet.entries[0], fleet.devices[0]
        proxy = fleet.proxies[0]
        start_cached = clock.now()
        await clock.run_for(POLLS * INTERVAL + 1)
        opened_cached = proxy.opened
        start_per_poll = clock.now()
        hass.config_entries.async_update_entry(
            entry, options={CONF_UPDATE_INTERVAL: INTERVAL, CONF_KEEP_ALIVE: 0}
        )
        await clock.run_for(POLLS * INTERVAL + 1)
        end = clock.now()
        opened_per_poll = proxy.opened - opened_cached
        await fleet.unload(clock)
    records = recorder.records[device.address]
    # Steady state: polls after the first (which connects) while the link is cached; after
    # the option change every poll connects. Failures would be reported, none expected.
    cached = [r for r in records if start_cached <= r.start < start_per_poll and r.ok]
    per_poll = [r for r in records if start_per_poll <= r.start < end and r.ok]
    failed = [r for r in records if not r.ok]
    med_cached = statistics.median(r.duration for r in cached)
    med_per_poll = statistics.median(r.duration for r in per_poll)
    ratio = med_per_poll / med_cached
    requests = REQUESTS[family]
    limit = (LATENCY.connect + requests * LATENCY.round_trip) / (requests * LATENCY.round_trip)
    case = f"{family} ({requests} request{'s' if requests > 1 else ''})"
    b = "1 poll latency"
    report.add(b, case, "median poll, cached link", med_cached * 1000, "ms")
    report.add(b, case, "median poll, connect per poll", med_per_poll * 1000, "ms")
    report.add(b, case, "polls measured (cached / per poll)", f"{len(cached)} / {len(per_poll)}")
    report.add(b, case, "clients opened (cached / per poll)", f"{opened_cached} / {opened_per_poll}")
    report.add(b, case, "failed polls", len(failed))
    report.add(b, case, "link limit (connect + round trips) / round trips", limit, "x")
    report.add(
        b, case, "speed-up of the cache", ratio, "x",
        target=f">= {0.9 * limit:.1f} (90 % of the link limit)", met=ratio >= 0.9 * limit,
    )
    assert not failed
    assert proxy.leaked == 0
