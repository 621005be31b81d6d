"""The checks of a soak run (bench/soak.py): leaks, slots, recovery, growth, logs.

`check()` turns what a finished run recorded into figures and violations; an empty
violation list means the run passed. See bench/soak.py for the faults.

Checks (`SoakResult.violations`; empty means the run passed):
- zero leaked clients: after unloading, every proxy has opened == closed and no link; no
  proxy ever had more links than slots (its own `slot_violations`/`peak` accounting);
- recovery: after every fault window clears (windows closer than an update interval are
  merged), the device delivers data within one update interval plus `RECOVERY_SLACK`
  (the connect latency, a slot wait, or the tail of a poll that was failing when the
  fault cleared); the measured worst case is reported;
- every failed poll is explained by a fault (no spontaneous failures);
- no unbounded growth: asyncio tasks, live timers and HA-tracked tasks stay bounded;
  traced memory (tracemalloc, without harness memory) does not grow from the mean
  of the second quarter's samples to the mean of the last quarter's by more than
  `MEMORY_TOLERANCE` (caches fill during the first hours: growth that goes on is the leak); log records at WARNING
  or above (what HA writes by default) stay proportional to the faults, not to time;
- no traceback logged at ERROR or above (an expected fault is never an exception report).
"""

from __future__ import annotations

import bisect
import logging
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .harness import STORAGE_WRITES, Fleet, PollRecorder

if TYPE_CHECKING:
    from .soak import Soak, SoakResult

RECOVERY_SLACK = 10.0  # s on top of one update interval
MEMORY_TOLERANCE = 256 * 1024  # bytes of growth accepted over the second half of a run
LOGS_PER_FAULT = 10  # WARNING+ records allowed per injected fault (plus a per-device allowance)


class LogWatch(logging.Handler):
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
class RunData:
    """What a finished run hands to the checks."""

    fleet: Fleet
    recorder: PollRecorder
    start: float
    end: float
    samples: list[dict[str, int]]
    peak_links: dict[str, int]
    watch: LogWatch


def windows_merge(
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


def check(soak: Soak, result: SoakResult, run: RunData) -> None:
    """Fill `result` with the run's figures and every violation of the soak's checks."""
    p, figures, violations = soak.profile, result.figures, result.violations
    fleet, recorder, start, end = run.fleet, run.recorder, run.start, run.end
    samples, peak_links, watch = run.samples, run.peak_links, run.watch
    figures["devices / proxies x slots"] = f"{p.devices} / {p.proxies} x {p.slots}"
    figures["faults injected"] = dict(soak.fault_counts)
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
        merged = windows_merge(
            soak.windows.get(address, []), p.interval + RECOVERY_SLACK
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
    if soak.profile.trace_memory:
        # Caches fill during the first hours; what must not happen is growth that goes
        # on: compare the mean of the second quarter's samples with the last quarter's.
        # Means, not single samples: what is in flight at a sampling instant (poll tasks,
        # the ESPHome path's API buffers) varies by up to ~200 KiB from one to the next.
        quarter = max(1, len(samples) // 4)

        def mean(window: list[dict[str, int]]) -> float:
            return sum(s["bytes"] for s in window) / len(window)

        growth = mean(samples[-quarter:]) - mean(samples[quarter : 2 * quarter] or samples[:1])
        figures["traced memory first/last sample (KiB)"] = (
            f"{first['bytes'] / 1024:.0f}/{last['bytes'] / 1024:.0f}"
        )
        figures["memory growth, 2nd to 4th quarter means (KiB)"] = round(growth / 1024, 1)
        figures["traced memory at each sample (KiB)"] = " ".join(
            f"{s['bytes'] / 1024:.0f}" for s in samples
        )
        if growth > MEMORY_TOLERANCE:
            violations.append(
                f"traced memory grew by {growth / 1024:.0f} KiB from the second quarter to the last"
            )
    # Logs.
    faults = sum(soak.fault_counts.values())
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
