"""Benchmark 6: scale-out over ESPHome proxies, 20 devices over 4 nodes x 3 slots.

Every connection goes through HA's real esphome integration (aioesphomeapi,
bleak-esphome, habluetooth) to blesim's ESPHome nodes. Each device is heard by
1 to 3 nodes at different signal strengths (seeded), and polls every 30 s with
the realistic latency model. Over 30 simulated minutes:

- from the start: devices connect through the strongest node with a free slot;
- at 10 min the node carrying most links of devices that others hear reboots (back after 60 s): its
  devices that another node hears move there; "time to move" runs from the
  reboot to a device's first good poll through another node;
- at 20 min three devices "move": a node that heard them weakly now hears them
  best; after their links are released, the next connect uses that node unless
  its slots are all taken (HA routes to the strongest node with a free slot);
- throughout: no node ever sees more links than it has slots.
"""

from __future__ import annotations

import random

from freezegun import api as freezegun_api
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from blesim import Latency
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.const import DOMAIN

from .harness import PollRecorder, build_fleet, poll_stats
from .report import Report
from .simclock import SimClock

DEVICES = 20
NODES = 4
SLOTS = 3
INTERVAL = 30
GRACE = 5.0
SEED = 15
REBOOT_AT, REBOOT_FOR = 600.0, 60.0
MOVE_AT, END_AT = 1200.0, 1800.0


async def test_esphome_scale_out(hass: HomeAssistant, clock: SimClock, report: Report,
                                 socket_enabled: None) -> None:
    """20 devices over 4 ESPHome nodes x 3 slots: routing, failover, moves, slot limits."""
    started = freezegun_api.real_perf_counter()
    rng = random.Random(SEED)
    recorder = PollRecorder(clock)
    manager_stats = None
    with recorder.installed():
        fleet = await build_fleet(
            hass, clock, devices=DEVICES, proxies=NODES, slots=SLOTS,
            latency=Latency(connect=1.5, round_trip=0.06), interval=INTERVAL,
            path="esphome", setup=False,
        )
        nodes = fleet.proxies
        heard_by: dict[str, list[str]] = {}
        for device in fleet.devices:
            home = fleet.proxy_of[device.address]
            home.set_rssi(device, rng.randint(-70, -50))
            others = [n for n in nodes if n is not home]
            for node in rng.sample(others, rng.randint(0, 2)):
                node.add(device, rssi=rng.randint(-95, -72))
            heard_by[device.address] = [n.source for n in nodes if device.address in n.devices]
        await clock.settle()
        assert await clock.run_until_done(async_setup_component(hass, DOMAIN, {}), limit=900)
        manager = manager_stats = get_manager(hass)
        t0 = clock.now()
        peak = dict.fromkeys((n.source for n in nodes), 0)

        def on_jump(_now: float) -> None:
            for node in nodes:
                peak[node.source] = max(peak[node.source], len(node.links))

        await clock.run_until(t0 + REBOOT_AT, on_jump=on_jump)
        best = sum(
            manager.device_stats(d.address).source
            == max((n for n in nodes if d.address in n.devices),
                   key=lambda n: n.rssi[d.address]).source
            for d in fleet.devices if manager.device_stats(d.address).source is not None
        )
        rebooted = max(nodes, key=lambda n: sum(len(heard_by[a]) > 1 for a in n.links))
        on_rebooted = [a for a in rebooted.links if len(heard_by[a]) > 1]
        reboot_time = clock.now()
        rebooted.restart(after=REBOOT_FOR)
        await clock.run_until(t0 + MOVE_AT, on_jump=on_jump)
        moved_after: list[float] = []
        for address in on_rebooted:
            later = [r for r in recorder.records.get(address, [])
                     if r.start >= reboot_time and r.ok]
            if later:
                moved_after.append(later[0].end - reboot_time)

        movers = [d for d in fleet.devices if len(heard_by[d.address]) > 1][:3]
        targets = {}
        for device in movers:
            current = manager.device_stats(device.address).source
            target = next(n for n in nodes
                          if device.address in n.devices and n.source != current)
            for node in nodes:
                if device.address in node.devices:
                    node.set_rssi(device, -45 if node is target else -90)
            targets[device.address] = target.source
            await clock.run_until_done(manager.release(device.address))
        await clock.run_until(clock.now() + INTERVAL + GRACE, on_jump=on_jump)
        followed = sum(manager.device_stats(a).source == s for a, s in targets.items())
        await clock.run_until(t0 + END_AT, on_jump=on_jump)
        end = clock.now()
        stats = poll_stats(recorder, [d.address for d in fleet.devices], t0, end, grace=GRACE,
                           connects=sum(fleet.opened().values()))
        overruns = sum(n.slot_violations for n in nodes) + sum(
            peak[n.source] > n.slots for n in nodes)
        await fleet.unload(clock)
        leaked = sum(n.leaked for n in nodes)
    wall = freezegun_api.real_perf_counter() - started
    assert manager_stats is not None

    b, case = "6 ESPHome scale-out", f"{DEVICES} devices / {NODES} nodes x {SLOTS} slots"
    report.add(b, case, "devices heard by 1 / 2 / 3 nodes", " / ".join(
        str(sum(len(h) == k for h in heard_by.values())) for k in (1, 2, 3)))
    report.add(b, case, "links through the strongest node that hears the device (at 10 min)",
               f"{best}/{DEVICES}")
    report.add(b, case, f"polls on time (data within {GRACE:.0f} s)",
               100 * stats.on_time_fraction, "%")
    report.add(b, case, "polls attempted / ok", f"{stats.polls} / {stats.ok}")
    report.add(b, case, "failures by kind", ", ".join(
        f"{k}={v}" for k, v in sorted(stats.failures.items())) or "none")
    report.add(b, case, "failovers after a node reboot (moved / movable)",
               f"{len(moved_after)}/{len(on_rebooted)}", target="all",
               met=len(moved_after) == len(on_rebooted))
    report.add(b, case, "time from the reboot to their next good poll, worst",
               max(moved_after, default=0.0), "s",
               target=f"<= {INTERVAL + GRACE:.0f} s",
               met=max(moved_after, default=0.0) <= INTERVAL + GRACE)
    report.add(b, case, "devices heard best by another node whose next connect used it",
               f"{followed}/{len(targets)}")
    report.add(b, case, "slot overruns (node saw > slots)", overruns, target="0",
               met=overruns == 0)
    report.add(b, case, "peak links per node", " ".join(str(v) for v in peak.values()))
    report.add(b, case, "connects refused by a node for lack of slot",
               sum(n.rejected_no_slot for n in nodes))
    report.add(b, case, "clients leaked after unload", leaked, target="0", met=leaked == 0)
    report.add(b, case, "simulated / wall-clock", f"{end - t0:.0f} s / {wall:.0f} s")
    assert overruns == 0
    assert leaked == 0
