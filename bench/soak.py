"""Soak run: a fleet under seeded random faults for simulated hours, with leak and recovery checks.

Faults (all from one `random.Random(seed)`, so a run is reproducible):
- link drops: the peripheral ends the link (idle or mid-poll);
- corrupt frames: every response frame of a JBD device is corrupted with probability
  `corrupt_rate` (1 %); Battery Service reads have no checksum to corrupt;
- out of range: a device stops advertising and refuses connects for some minutes (its link,
  if any, drops);
- proxy restarts: a proxy goes offline (`stop()`: every link drops, the scanner leaves HA)
  and comes back (`start()`) after up to two minutes;
- phone app: the vendor's app takes a device for ten minutes (`held_by_phone`; our link drops).

Checks (`SoakResult.violations`; empty means the run passed):
- zero leaked clients: after unloading, every proxy has opened == closed and no link; no
  proxy ever had more links than slots (its own `slot_violations`/`peak` accounting);
- recovery: after every fault window clears (windows closer than an update interval are
  merged), the device delivers data within one update interval plus `RECOVERY_SLACK`
  (the connect latency, a slot wait, or the tail of a poll that was failing when the
  fault cleared); the measured worst case is reported;
- every failed poll is explained by a fault (no spontaneous failures);
- no unbounded growth: asyncio tasks, live timers and HA-tracked tasks stay bounded;
  traced memory (tracemalloc, without harness memory) does not grow from the
  sample at half-time to the mean of the last three by more than `MEMORY_TOLERANCE`
  (caches fill during the first hours: growth that goes on is the leak); log records at WARNING
  or above (what HA writes by default) stay proportional to the faults, not to time;
- no traceback logged at ERROR or above (an expected fault is never an exception report).

Logging runs at Home Assistant's default level, WARNING (see `harness.production_logging`).
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import random
import statistics
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from freezegun import api as freezegun_api
from homeassistant.core import HomeAssistant

from blesim import JbdDevice, Latency, SimDevice
from blesim.esphome import EspHomeNode

from .harness import (
    STORAGE_WRITES,
    Fleet,
    PollRecorder,
    build_fleet,
    node_ready,
    production_logging,
    sample,
)
from .simclock import SimClock

RECOVERY_SLACK = 10.0  # s on top of one update interval
MEMORY_TOLERANCE = 256 * 1024  # bytes of growth accepted over the second half of a run
LOGS_PER_FAULT = 10  # WARNING+ records allowed per injected fault (plus a per-device allowance)


@dataclass(frozen=True)
class SoakProfile:
    """Size, duration and fault rates of a soak run."""

    hours: float = 24.0
    devices: int = 20
    proxies: int = 3
    slots: int = 3
    interval: int = 30
    seed: int = 20261004
    latency: Latency = field(default_factory=Latency)
    link_drops_per_device_hour: float = 0.5
    corrupt_rate: float = 0.01
    out_of_range_per_device_hour: float = 1 / 8
    out_of_range_minutes: tuple[float, float] = (2.0, 10.0)
    proxy_restarts_per_proxy_hour: float = 1 / 6
    proxy_downtime_seconds: tuple[float, float] = (20.0, 120.0)
    phone_holds_per_device_hour: float = 1 / 12
    phone_hold_minutes: float = 10.0
    samples: int = 12  # resource samples over the run
    trace_memory: bool = True
    # True: recovery is timed from the moment the fault clears (the brief's criterion).
    # False: from the end of the poll that was in flight when it cleared, i.e. the check is
    # that the device's next poll attempt succeeds (see docs/benchmarks.md, soak findings).
    strict_recovery: bool = True
    # "blesim": blesim's own scanner; "esphome": ESPHome nodes through HA's esphome
    # integration. There a restarted proxy is back once HA has reconnected to it
    # (aioesphomeapi retries with a backoff of up to 60 s): its devices' fault window
    # ends then, not when the node came online.
    path: str = "blesim"


@dataclass
class SoakResult:
    """Figures and violations of a soak run."""

    profile: SoakProfile
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)


@dataclass(order=True)
class _Event:
    time: float
    action: str = field(compare=False)
    target: str = field(compare=False)


class _LogWatch(logging.Handler):
    """Counts log records by level and keeps those at ERROR+ that carry a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.by_level: Counter[str] = Counter()
        self.warning_times: list[float] = []
        self.tracebacks: list[str] = []
        self.error_messages: Counter[str] = Counter()
        self.now: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        self.by_level[record.levelname] += 1
        if record.levelno >= logging.WARNING:
            self.warning_times.append(self.now() if self.now else 0.0)
        if record.levelno >= logging.ERROR:
            self.error_messages[f"{record.name}: {record.getMessage()[:120]}"] += 1
            if record.exc_info or record.exc_text or record.stack_info:
                self.tracebacks.append(f"{record.name}: {record.getMessage()[:200]}")


@dataclass
class _RunData:
    """What a finished run hands to the checks."""

    fleet: Fleet
    recorder: PollRecorder
    start: float
    end: float
    samples: list[dict[str, int]]
    peak_links: dict[str, int]
    watch: _LogWatch


def _windows_merge(
    windows: list[tuple[float, float, str]], gap: float
) -> list[tuple[float, float, str]]:
    """Merge fault windows that overlap or lie closer than `gap` (their kinds joined)."""
    merged: list[tuple[float, float, str]] = []
    for start, end, kind in sorted(windows):
        if merged and start <= merged[-1][1] + gap:
            m0, m1, kinds = merged[-1]
            if kind not in kinds.split("+"):
                kinds = f"{kinds}+{kind}"
            merged[-1] = (m0, max(m1, end), kinds)
        else:
            merged.append((start, end, kind))
    return merged


class Soak:
    """One soak run over a fleet on the simulated clock."""

    def __init__(self, hass: HomeAssistant, clock: SimClock, profile: SoakProfile) -> None:
        self.hass = hass
        self.clock = clock
        self.profile = profile
        self.rng = random.Random(profile.seed)
        self.windows: dict[str, list[tuple[float, float, str]]] = {}
        self.fault_counts: Counter[str] = Counter()
        self.fleet: Fleet | None = None
        self.proxy_devices: dict[str, list[str]] = {}
        self.down_since: dict[str, float] = {}  # proxy source -> stopped at
        self.reconnecting: dict[str, EspHomeNode] = {}  # nodes back online, not yet in HA
        self.oor_since: dict[str, float] = {}  # address -> out of range since
        self.hold_since: dict[str, float] = {}  # address -> held by the phone app since

    # --- schedule -------------------------------------------------------------------

    def _poisson_times(self, rate_per_hour: float, start: float, end: float) -> list[float]:
        times = []
        if rate_per_hour <= 0:
            return times
        t = start
        while True:
            t += self.rng.expovariate(rate_per_hour / 3600)
            if t >= end:
                return times
            times.append(t)

    def schedule(self, fleet: Fleet, start: float, end: float) -> list[_Event]:
        """Random fault events over [start, end); every kind occurs at least once."""
        p, rng = self.profile, self.rng
        events: list[_Event] = []
        span = end - start
        addresses = [d.address for d in fleet.devices]

        def at_least_once(times: list[float]) -> list[float]:
            return times or [start + rng.uniform(0.1, 0.6) * span]

        for kind, rate in (("drop", p.link_drops_per_device_hour),):
            for address in addresses:
                for t in self._poisson_times(rate, start, end):
                    events.append(_Event(t, kind, address))
        if not any(e.action == "drop" for e in events):
            events.append(_Event(at_least_once([])[0], "drop", rng.choice(addresses)))
        # Long device faults: never two at once on one device; must end before the run does.
        busy: dict[str, list[tuple[float, float]]] = {a: [] for a in addresses}

        def place(address: str, t0: float, length: float) -> bool:
            t1 = t0 + length
            if t1 > end - 3 * p.interval:
                return False
            if any(t0 < b1 + p.interval and b0 < t1 + p.interval for b0, b1 in busy[address]):
                return False
            busy[address].append((t0, t1))
            return True

        for kind, rate, length in (
            ("oor", p.out_of_range_per_device_hour, lambda: 60 * rng.uniform(*p.out_of_range_minutes)),
            ("hold", p.phone_holds_per_device_hour, lambda: 60 * p.phone_hold_minutes),
        ):
            placed = 0
            for address in addresses:
                for t in self._poisson_times(rate, start, end):
                    duration = length()
                    if place(address, t, duration):
                        events += [_Event(t, f"{kind}_start", address),
                                   _Event(t + duration, f"{kind}_end", address)]
                        placed += 1
            for _ in range(20):  # guarantee one of each kind
                if placed:
                    break
                address, duration = rng.choice(addresses), length()
                t = start + rng.uniform(0.1, 0.5) * span
                if place(address, t, duration):
                    events += [_Event(t, f"{kind}_start", address),
                               _Event(t + duration, f"{kind}_end", address)]
                    placed += 1
        restarts = 0
        for proxy in fleet.proxies:
            last_end = start
            for t in self._poisson_times(p.proxy_restarts_per_proxy_hour, start, end):
                down = rng.uniform(*p.proxy_downtime_seconds)
                if t < last_end + p.interval or t + down > end - 3 * p.interval:
                    continue
                events += [_Event(t, "proxy_stop", proxy.source),
                           _Event(t + down, "proxy_start", proxy.source)]
                last_end = t + down
                restarts += 1
        if not restarts:
            proxy = rng.choice(fleet.proxies)
            t = start + rng.uniform(0.3, 0.6) * span
            events += [_Event(t, "proxy_stop", proxy.source),
                       _Event(t + rng.uniform(*p.proxy_downtime_seconds), "proxy_start",
                              proxy.source)]
        return sorted(events)

    # --- faults ---------------------------------------------------------------------

    def _fault(self, address: str, kind: str, start: float, end: float | None = None) -> None:
        self.windows.setdefault(address, []).append(
            (start, start if end is None else end, kind)
        )

    def _drop_link(self, address: str) -> None:
        assert self.fleet is not None
        proxy = self.fleet.proxy_of[address]
        if (client := proxy.links.get(address)) is not None:
            client.peripheral_dropped()

    def _install_corruption(self, device: SimDevice) -> None:
        """Corrupt each response frame of a JBD device with probability corrupt_rate."""
        if not isinstance(device, JbdDevice) or self.profile.corrupt_rate <= 0:
            return
        rng, rate, soak = self.rng, self.profile.corrupt_rate, self
        original = device.respond

        def respond(char_uuid: str, data: bytes) -> list[bytes]:
            device.faults.corrupt = rng.random() < rate
            if device.faults.corrupt:
                soak.fault_counts["corrupt_frame"] += 1
                soak._fault(device.address, "corrupt_frame", soak.clock.now())
            return original(char_uuid, data)

        device.respond = respond  # type: ignore[method-assign]

    def apply(self, event: _Event) -> None:
        """Carry out one scheduled fault event."""
        assert self.fleet is not None
        now = self.clock.now()
        action, target = event.action, event.target
        if action in {"proxy_stop", "proxy_start"}:
            proxy = next(p for p in self.fleet.proxies if p.source == target)
            if action == "proxy_stop":
                self.fault_counts["proxy_restart"] += 1
                self.down_since[target] = now
                proxy.stop()
            else:
                proxy.start()
                if isinstance(proxy, EspHomeNode):
                    self.reconnecting[target] = proxy  # the window ends when HA is back
                    return
                stopped = self.down_since.pop(target)
                for address in self.proxy_devices[target]:
                    self._fault(address, "proxy_restart", stopped, now)
            return
        device = next(d for d in self.fleet.devices if d.address == target)
        if action == "drop":
            if self.fleet.proxy_of[target].links.get(target) is not None:
                self.fault_counts["link_drop"] += 1
                self._fault(target, "link_drop", now)
                self._drop_link(target)
        elif action == "oor_start":
            self.fault_counts["out_of_range"] += 1
            device.faults.out_of_range = True
            self._drop_link(target)
            self.oor_since[target] = now
        elif action == "oor_end":
            device.faults.out_of_range = False
            self._fault(target, "out_of_range", self.oor_since.pop(target), now)
        elif action == "hold_start":
            self.fault_counts["phone_hold"] += 1
            self._drop_link(target)
            device.faults.held_by_phone = True
            self.hold_since[target] = now
        elif action == "hold_end":
            device.faults.held_by_phone = False
            self._fault(target, "phone_hold", self.hold_since.pop(target), now)

    def _note_reconnects(self, now: float) -> None:
        """End the fault windows of the ESPHome nodes that HA has reconnected to."""
        for source, node in list(self.reconnecting.items()):
            if node_ready(node):
                del self.reconnecting[source]
                stopped = self.down_since.pop(source)
                for address in self.proxy_devices[source]:
                    self._fault(address, "proxy_restart", stopped, now)

    # --- run ------------------------------------------------------------------------

    async def run(self) -> SoakResult:
        """Set up the fleet, run the profile, unload, and check everything."""
        p, clock, hass = self.profile, self.clock, self.hass
        result = SoakResult(p)
        # HA's coordinators draw their refresh jitter from the global generator: seed it too,
        # so that a run is reproducible.
        random.seed(p.seed)
        wall0 = freezegun_api.real_perf_counter()
        watch = _LogWatch()
        watch.now = clock.now
        STORAGE_WRITES.clear()
        recorder = PollRecorder(clock)
        if p.trace_memory:
            tracemalloc.start(1)
        try:
            with recorder.installed(), production_logging():
                fleet = self.fleet = await build_fleet(
                    hass, clock, devices=p.devices, proxies=p.proxies, slots=p.slots,
                    latency=p.latency, interval=p.interval, path=p.path,
                )
                for proxy in fleet.proxies:
                    self.proxy_devices[proxy.source] = [
                        a for a, px in fleet.proxy_of.items() if px is proxy
                    ]
                for device in fleet.devices:
                    self._install_corruption(device)
                start = clock.now()
                end = start + p.hours * 3600
                events = self.schedule(fleet, start, end)
                sample_times = [start + (n + 1) * (end - start) / p.samples
                                for n in range(p.samples)]
                samples: list[dict[str, int]] = []
                peak_links = dict.fromkeys((px.source for px in fleet.proxies), 0)

                def on_jump(now: float) -> None:
                    for px in fleet.proxies:
                        peak_links[px.source] = max(peak_links[px.source], len(px.links))
                    self._note_reconnects(now)

                logging.getLogger().addHandler(watch)
                try:
                    timeline = sorted([(e.time, 0, e) for e in events]
                                      + [(t, 1, None) for t in sample_times],
                                      key=lambda item: (item[0], item[1]))
                    for t, kind, event in timeline:
                        await clock.run_until(t, on_jump=on_jump)
                        if kind == 0:
                            self.apply(event)
                        else:
                            samples.append(self._sample(fleet))
                except Exception:
                    # Unload on the simulated clock, or HA's teardown waits forever for
                    # refreshes sleeping on the frozen one.
                    with contextlib.suppress(Exception):
                        await fleet.unload(clock)
                    raise
                finally:
                    logging.getLogger().removeHandler(watch)
                stats_end = clock.now()
                await fleet.unload(clock)
        finally:
            if p.trace_memory:
                tracemalloc.stop()
        wall = freezegun_api.real_perf_counter() - wall0
        run = _RunData(fleet, recorder, start, stats_end, samples, peak_links, watch)
        self._check(result, run)
        result.figures["wall_clock_seconds"] = round(wall, 1)
        result.figures["simulated_hours"] = p.hours
        return result

    def _sample(self, fleet: Fleet) -> dict[str, int]:
        return sample(self.hass, fleet.devices, memory=self.profile.trace_memory)

    # --- checks ---------------------------------------------------------------------

    def _check(self, result: SoakResult, run: _RunData) -> None:
        p, figures, violations = self.profile, result.figures, result.violations
        fleet, recorder, start, end = run.fleet, run.recorder, run.start, run.end
        samples, peak_links, watch = run.samples, run.peak_links, run.watch
        figures["devices / proxies x slots"] = f"{p.devices} / {p.proxies} x {p.slots}"
        figures["faults injected"] = dict(self.fault_counts)
        # Leaks and slots.
        for proxy in fleet.proxies:
            if proxy.leaked or proxy.links:
                violations.append(
                    f"{proxy.name}: opened {proxy.opened}, closed {proxy.closed}, "
                    f"links left {list(proxy.links)}"
                )
            if proxy.slot_violations or proxy.peak > proxy.slots:
                violations.append(f"{proxy.name}: peak {proxy.peak} links > {proxy.slots} slots")
        figures["clients opened / closed"] = (
            f"{sum(px.opened for px in fleet.proxies)} / {sum(px.closed for px in fleet.proxies)}"
        )
        figures["peak links per proxy (slots)"] = (
            f"{max(*peak_links.values(), *(px.peak for px in fleet.proxies))} ({p.slots})"
        )
        # Polls, failures, recovery.
        window = recorder.between(start, end)
        polls = sum(len(r) for r in window.values())
        failed = [r for recs in window.values() for r in recs if not r.ok]
        figures["polls / failed"] = f"{polls} / {len(failed)}"
        figures["failures by kind"] = dict(Counter(r.kind for r in failed))
        recoveries: list[float] = []
        by_kind: dict[str, list[float]] = {}
        worst_by_kind: dict[str, float] = {}
        worst_after_attempt = 0.0
        late_strict = 0
        unexplained = 0
        for device in fleet.devices:
            address = device.address
            recs = recorder.records.get(address, [])
            ends_ok = [r.end for r in recs if r.ok]
            merged = _windows_merge(
                self.windows.get(address, []), p.interval + RECOVERY_SLACK
            )
            for w0, w1, kinds in merged:
                i = bisect.bisect_left(ends_ok, w1)
                if i == len(ends_ok):
                    violations.append(f"{address}: no data after the fault window ({kinds}) "
                                      f"ending {w1 - start:.0f} s into the run")
                    continue
                recovery = ends_ok[i] - w1
                # The poll in flight when the fault cleared (if any) ends at `settled`.
                settled = max([w1, *(r.end for r in recs if r.start < w1 < r.end)])
                after_attempt = ends_ok[i] - settled
                recoveries.append(recovery)
                by_kind.setdefault(kinds, []).append(recovery)
                worst_by_kind[kinds] = max(worst_by_kind.get(kinds, 0.0), recovery)
                worst_after_attempt = max(worst_after_attempt, after_attempt)
                late = recovery > p.interval + RECOVERY_SLACK
                late_strict += late
                if (p.strict_recovery and late) or after_attempt > p.interval + RECOVERY_SLACK:
                    around = [
                        f"{r.start - w1:+.1f}..{r.end - w1:+.1f} {'ok' if r.ok else r.kind}"
                        for r in recs if w0 - p.interval <= r.start <= ends_ok[i]
                    ]
                    violations.append(
                        f"{address}: recovered {recovery:.1f} s after its fault ({kinds}, "
                        f"{w1 - w0:.0f} s) cleared (limit {p.interval + RECOVERY_SLACK:.0f} s); "
                        f"polls relative to the clearing: {'; '.join(around)}"
                    )
            for rec in window.get(address, []):
                if rec.ok:
                    continue
                if not any(w0 - p.interval - RECOVERY_SLACK <= rec.end
                           and rec.start <= w1 + RECOVERY_SLACK for w0, w1, _k in merged):
                    unexplained += 1
                    violations.append(
                        f"{address}: poll failed ({rec.kind}) at {rec.start - start:.0f} s "
                        "with no fault injected"
                    )
        figures["fault windows checked"] = len(recoveries)
        figures["worst recovery after a fault cleared (s)"] = round(max(recoveries, default=0), 1)
        figures["worst recovery by fault kind (s)"] = {
            k: round(v, 1) for k, v in sorted(worst_by_kind.items())
        }
        figures["recovery median by fault kind (s)"] = {
            k: round(statistics.median(v), 1) for k, v in sorted(by_kind.items())
        }
        figures["recovery limit (s)"] = p.interval + RECOVERY_SLACK
        figures["recoveries later than the limit after the fault cleared"] = late_strict
        figures["worst recovery after the poll in flight at clearing ended (s)"] = round(
            worst_after_attempt, 1
        )
        figures["recovery timed from"] = (
            "fault cleared" if p.strict_recovery else "end of the poll in flight at clearing"
        )
        figures["unexplained failed polls"] = unexplained
        # Growth.
        first, last = samples[0], samples[-1]
        for key in ("tasks", "timers", "hass_tasks"):
            series = [s[key] for s in samples]
            figures[f"{key} (first/min/max/last sample)"] = (
                f"{first[key]}/{min(series)}/{max(series)}/{last[key]}"
            )
            if max(series) > first[key] + p.devices:
                violations.append(f"{key} grew from {first[key]} to {max(series)}")
        figures["storage writes (registry saves) after the first sample"] = sum(
            s["storage_writes"] for s in samples[1:]
        )
        figures["storage writes by store"] = dict(STORAGE_WRITES.most_common(6))
        if self.profile.trace_memory:
            # Caches fill during the first hours; what must not happen is growth that goes
            # on: compare the sample at half-time with the mean of the last three.
            mid = samples[len(samples) // 2]["bytes"]
            tail = sum(s["bytes"] for s in samples[-3:]) / len(samples[-3:])
            growth = tail - mid
            figures["traced memory first/last sample (KiB)"] = (
                f"{first['bytes'] / 1024:.0f}/{last['bytes'] / 1024:.0f}"
            )
            figures["memory growth over the second half (KiB)"] = round(growth / 1024, 1)
            figures["traced memory at each sample (KiB)"] = " ".join(
                f"{s['bytes'] / 1024:.0f}" for s in samples
            )
            if growth > MEMORY_TOLERANCE:
                violations.append(
                    f"traced memory grew by {growth / 1024:.0f} KiB over the second half"
                )
        # Logs.
        faults = sum(self.fault_counts.values())
        warnings = len(watch.warning_times)
        figures["log records by level"] = dict(watch.by_level)
        figures["WARNING+ records per fault"] = round(warnings / max(1, faults), 2)
        half = start + (end - start) / 2
        figures["WARNING+ records first / second half"] = (
            f"{sum(t < half for t in watch.warning_times)} / "
            f"{sum(t >= half for t in watch.warning_times)}"
        )
        if warnings > LOGS_PER_FAULT * faults + 5 * p.devices:
            violations.append(f"{warnings} WARNING+ log records for {faults} faults")
        figures["ERROR+ messages"] = dict(watch.error_messages.most_common(8))
        figures["tracebacks at ERROR+"] = len(watch.tracebacks)
        violations.extend(f"traceback logged: {tb}" for tb in watch.tracebacks[:10])


async def run_soak(hass: HomeAssistant, clock: SimClock, profile: SoakProfile) -> SoakResult:
    """Run one soak profile and return its figures and violations."""
    return await Soak(hass, clock, profile).run()

