"""Benchmark 3: scale and fairness, 50 devices over 5 virtual proxies x 3 slots.

Every device polls every 30 s with the realistic latency model, for one simulated hour
after Home Assistant start-up (all 50 entries set up at once). Devices alternate JBD and
Battery Service and are spread round-robin, 10 per proxy, each in range of one proxy.
15 slots for 50 devices: slots do not allow keeping every link, so every policy has to
rotate. Policies compared (the manager's eviction is the same in all; only the idle
window differs):

- keep forever: keep window 24 h, a link is only closed when evicted for another device;
- connect per poll: keep window 0;
- ours: the default keep window (90 s), evicting the idle link whose device polls last;
- ours with LRU eviction: the manager's previous rule (`bench.prototype.LruManager`),
  to keep measuring what the eviction rule is worth.

The same four run with 15 devices (3 per proxy), where the slots do allow keeping every
link, to check the "at most one connect per device-hour" claim where it applies.

A poll is on time when it delivers data within 5 s of the coordinator asking for it.
"""

from __future__ import annotations

import pytest
from freezegun import api as freezegun_api
from homeassistant.core import HomeAssistant

from blesim import Latency
from custom_components.ble_battery_solar import get_manager

from . import prototype
from .harness import PollRecorder, build_fleet, poll_stats
from .report import Report
from .simclock import SimClock

DEVICES = 50
PROXIES = 5
SLOTS = 3
INTERVAL = 30
HOUR = 3600.0
GRACE = 5.0
POLICIES = {
    "keep forever": 86400.0,
    "connect per poll": 0.0,
    "ours (default)": None,
    "ours with LRU eviction (previous rule)": None,
}


async def run_scale(
    hass: HomeAssistant, clock: SimClock, report: Report, policy: str,
    keep_alive: float | None, *, devices: int = DEVICES, seconds: float = HOUR,
    benchmark: str = "3 scale",
) -> None:
    """Run the fleet for `seconds` under one policy and record its figures."""
    started = freezegun_api.real_perf_counter()
    recorder = PollRecorder(clock)
    if "LRU" in policy:
        prototype.install(hass)
    with recorder.installed():
        fleet = await build_fleet(
            hass, clock, devices=devices, proxies=PROXIES, slots=SLOTS,
            latency=Latency(connect=1.5, round_trip=0.06), interval=INTERVAL,
            keep_alive=keep_alive,
        )
        setup_done = clock.now()
        loaded = sum(entry.state.name == "LOADED" for entry in fleet.entries)
        opened_before = sum(fleet.opened().values())
        # Time each proxy had a slot free for other integrations' devices: the state seen
        # at a jump is the one settled after the previous jump, held in between.
        free_time = [0.0]
        last = [clock.now()]

        def on_jump(now: float) -> None:
            free = sum(p.in_use() < p.slots for p in fleet.proxies)
            free_time[0] += (now - last[0]) * free / len(fleet.proxies)
            last[0] = now

        await clock.run_for(seconds, on_jump=on_jump)
        end = clock.now()
        connects = sum(fleet.opened().values()) - opened_before
        totals = get_manager(hass).totals()
        slot_waits = sum(s.slot_waits for s in get_manager(hass).stats.values())
        stats = poll_stats(
            recorder, [d.address for d in fleet.devices], setup_done, end,
            grace=GRACE, connects=connects,
        )
        violations = sum(p.slot_violations for p in fleet.proxies)
        peak = max(p.peak for p in fleet.proxies)
        rejected = sum(p.rejected_no_slot for p in fleet.proxies)
        await fleet.unload(clock)
        leaked = sum(p.leaked for p in fleet.proxies)
    wall = freezegun_api.real_perf_counter() - started

    b, case = f"{benchmark}, {devices} devices", policy
    ours = policy == "ours (default)"
    fits = devices <= PROXIES * SLOTS
    report.add(b, case, "entries loaded at start-up", f"{loaded}/{devices}")
    report.add(b, case, "start-up (simulated)", setup_done - recorder_first(recorder), "s")
    report.add(b, case, "polls attempted", stats.polls)
    report.add(b, case, "polls ok", stats.ok)
    report.add(
        b, case, f"polls on time (data within {GRACE:.0f} s)", 100 * stats.on_time_fraction, "%",
        target=">= 99 %" if ours else "",
        met=stats.on_time_fraction >= 0.99 if ours else None,
    )
    report.add(b, case, "failures by kind", ", ".join(
        f"{k}={v}" for k, v in sorted(stats.failures.items())) or "none")
    report.add(b, case, "poll duration p50 / p99",
               f"{stats.p50_duration:.2f} / {stats.p99_duration:.2f}", "s")
    report.add(b, case, "max data age", stats.max_age, "s")
    report.add(b, case, "slot overruns (proxy saw > slots)", violations, target="0",
               met=violations == 0)
    report.add(b, case, "peak links on one proxy", f"{peak}/{SLOTS}")
    report.add(b, case, "connects refused by a proxy for lack of slot", rejected)
    report.add(b, case, "time a proxy had a slot free for other integrations",
               100 * free_time[0] / max(1e-9, end - setup_done), "%")
    report.add(
        b, case, "connects per device-hour", stats.connects_per_device_hour,
        target=("<= 1 (slots allow)" if fits else
                f"<= 1 where slots allow (not here: {devices} devices, {PROXIES * SLOTS} slots)"),
        met=stats.connects_per_device_hour <= 1 if fits and ours else None,
    )
    report.add(b, case, "evictions / slot waits", f"{totals.get('evictions', 0)} / {slot_waits}")
    report.add(b, case, "clients leaked after unload", leaked, target="0", met=leaked == 0)
    report.add(b, case, "simulated / wall-clock", f"{stats.seconds:.0f} s / {wall:.0f} s")


def recorder_first(recorder: PollRecorder) -> float:
    """When the first poll of the run started (HA start-up begins just before)."""
    return min((recs[0].start for recs in recorder.records.values() if recs), default=0.0)


@pytest.mark.parametrize("devices", [DEVICES, PROXIES * SLOTS])
@pytest.mark.parametrize("policy", list(POLICIES))
async def test_scale(
    hass: HomeAssistant, clock: SimClock, report: Report, policy: str, devices: int
) -> None:
    """One simulated hour of the fleet under one policy."""
    await run_scale(hass, clock, report, policy, POLICIES[policy], devices=devices)
