"""Soak run: a fleet under seeded random faults for simulated hours, with leak and recovery checks.

Faults (all from one `random.Random(seed)`, so a run is reproducible):
- link drops: the peripheral ends the link (idle or mid-poll);
- corrupt frames: every response frame of a JBD device is corrupted with probability
  `corrupt_rate` (1 %); Battery Service reads have no checksum to corrupt;
- out of range: a device stops advertising and refuses connects for some minutes (its link,
  if any, drops);
- proxy restarts: a proxy goes offline (`stop()`: every link drops, the scanner leaves HA)
  and comes back (`start()`) after up to two minutes;
- phone app: the vendor's app takes a device for ten minutes (`held_by_phone`; our link drops);
- hung GATT operations: for up to a few minutes a device accepts writes (JBD) or reads
  (Battery Service) and never completes them (`hang_write` / `hang_read`);
- garbage floods: a device pushes `flood_notifications` junk notifications at once on its
  link (between polls, or into a poll that is waiting for its answer).

Checks: bench/soak_checks.py (`SoakResult.violations`; empty means the run passed).

Logging runs at Home Assistant's default level, WARNING (see `harness.production_logging`).
"""

from __future__ import annotations

import contextlib
import logging
import random
import tracemalloc
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from freezegun import api as freezegun_api
from homeassistant.core import HomeAssistant

from blesim import JbdDevice, Latency, SimDevice
from blesim.esphome import EspHomeNode
from custom_components.ble_battery_solar import DATA_MANAGER

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
from .soak_checks import LogWatch, RunData, check


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
    hangs_per_device_hour: float = 1 / 12
    hang_minutes: tuple[float, float] = (0.5, 3.0)
    floods_per_device_hour: float = 0.5
    flood_notifications: int = 20_000  # of 20 bytes each
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
        self.hang_since: dict[str, float] = {}  # address -> GATT operations hung since

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

        for address in addresses:
            for t in self._poisson_times(p.floods_per_device_hour, start, end):
                events.append(_Event(t, "flood", address))
        for kind, rate, length in (
            ("oor", p.out_of_range_per_device_hour, lambda: 60 * rng.uniform(*p.out_of_range_minutes)),
            ("hold", p.phone_holds_per_device_hour, lambda: 60 * p.phone_hold_minutes),
            ("hang", p.hangs_per_device_hour, lambda: 60 * rng.uniform(*p.hang_minutes)),
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
        elif action == "hang_start":
            self.fault_counts["hung_gatt"] += 1
            self._hang(device, True)
            self.hang_since[target] = now
        elif action == "hang_end":
            self._hang(device, False)
            self._fault(target, "hung_gatt", self.hang_since.pop(target), now)
        elif action == "flood":
            client = self.fleet.proxy_of[target].links.get(target)
            junk = [bytes([self.rng.randrange(256)]) * 20] * self.profile.flood_notifications
            if client is not None and client.push(junk):
                self.fault_counts["garbage_flood"] += 1
                self._fault(target, "garbage_flood", now)

    @staticmethod
    def _hang(device: SimDevice, on: bool) -> None:
        """Hang the GATT operation the device's polls use: writes, or reads without notify."""
        if device.notify_uuid is not None:
            device.faults.hang_write = on
        else:
            device.faults.hang_read = on

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
        watch = LogWatch()
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
                cache = hass.data[DATA_MANAGER].totals()
                await fleet.unload(clock)
        finally:
            if p.trace_memory:
                tracemalloc.stop()
        wall = freezegun_api.real_perf_counter() - wall0
        run = RunData(fleet, recorder, start, stats_end, samples, peak_links, watch)
        check(self, result, run)
        result.figures["junk notifications dropped / retries / in-poll reconnects"] = (
            " / ".join(str(cache.get(k, 0)) for k in ("dropped_notifications", "retries", "reconnects")))
        result.figures["wall_clock_seconds"] = round(wall, 1)
        result.figures["simulated_hours"] = p.hours
        return result

    def _sample(self, fleet: Fleet) -> dict[str, int]:
        return sample(self.hass, fleet.devices, memory=self.profile.trace_memory)


async def run_soak(hass: HomeAssistant, clock: SimClock, profile: SoakProfile) -> SoakResult:
    """Run one soak profile and return its figures and violations."""
    return await Soak(hass, clock, profile).run()

