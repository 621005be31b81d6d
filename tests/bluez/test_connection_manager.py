"""ConnectionManager is leak-free on the real BlueZ code path.

Home Assistant's real bluetooth stack runs on the fake adapter (see
ha_bluez.py); ConnectionManager connects through habluetooth's client wrapper,
bleak-retry-connector and bleak's BlueZ backend to the fake BlueZ, which
injects D-Bus level faults. After every cycle the bus daemon's count of this
process's connections equals the baseline plus the number of cached links.

One fault is kept out of the 1000-cycle run and tested on its own: a device
object removed while connected *without* a Connected=False signal. bleak
3.0.2's BlueZ `disconnect()` then fails (UnknownObject) and raises before it
closes its bus, so ConnectionManager's "await disconnect()" is not enough;
`dbus_monitor.release_client_bus()` is the fallback the manager needs.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from dbus_fast.aio import MessageBus
from homeassistant.core import HomeAssistant

from blesim import BatteryServiceDevice, JbdDevice
from custom_components.ble_battery_solar.connection import ConnectionManager, LinkError
from custom_components.ble_battery_solar.protocol import Driver, get_driver
from fakebluez import FakeBluez, connections_of_pid

from .ha_bluez import FAULTS, fast_retry_timing, ha_bluetooth_on, run_cycles, wait_seen

JBD = "A5:C2:37:10:00:01"
BBS = "C0:FF:EE:00:00:0F"
SEED = 20261123
CYCLES = int(os.environ.get("LEAKCHECK_CYCLES", "1000"))
WITH_SILENT_REMOVAL = os.environ.get("LEAKCHECK_SILENT_REMOVAL") == "1"


def _drivers() -> dict[str, Driver]:
    drivers = {JBD: get_driver("jbd")(), BBS: get_driver("ble_battery_service")()}
    for driver in drivers.values():
        driver.response_timeout = 1.0  # type: ignore[misc]
    return drivers


async def test_thousand_cycles_with_faults_leak_nothing(
    hass: HomeAssistant, fake: FakeBluez, observer: MessageBus
) -> None:
    """1000 seeded random polls and faults; connections settle at baseline + cached links."""
    fake.add_device(JbdDevice(JBD))
    fake.add_device(BatteryServiceDevice(BBS))
    faults = dict(FAULTS)
    factory: Any = ConnectionManager
    if not WITH_SILENT_REMOVAL:
        faults.pop("remove_silently")
    async with ha_bluetooth_on(hass, fake):
        with fast_retry_timing():
            report = await run_cycles(hass, fake, observer, _drivers(), cycles=CYCLES, seed=SEED,
                                      faults=faults, manager_factory=factory)
    print("\n" + report.summary())
    if path := os.environ.get("LEAKCHECK_REPORT"):
        with open(path, "w") as out:  # noqa: ASYNC230 - tiny file at the end
            json.dump(report.__dict__, out, default=dict, indent=1)

    assert not report.violations, report.violations[:10]
    assert report.after_shutdown == report.baseline
    assert report.peak <= report.baseline + report.max_open_links + 1, report.summary()
    if not WITH_SILENT_REMOVAL:
        assert report.failed_disconnects == 0, report.summary()
    # The run really exercised the fault paths and the cache.
    assert report.polls_ok > CYCLES // 3
    assert report.manager_totals["reuses"] > 0
    fired = report.faults_fired
    for fault in ("connect_abort", "connect_in_progress", "connect_hang",
                  "services_never_resolve", "disconnect_during_io", "remove_during_io",
                  "start_notify_fail"):
        assert fired.get(fault, 0) > 0, (fault, fired)


async def _silent_removal(
    hass: HomeAssistant, fake: FakeBluez, observer: MessageBus, manager: ConnectionManager
) -> tuple[int, int, int]:
    """Cache a link, remove the device silently, poll; (baseline, with link, after)."""
    fake.add_device(JbdDevice(JBD))
    driver = _drivers()[JBD]
    await wait_seen(hass, fake, JBD)
    baseline = await connections_of_pid(observer)
    await manager.poll(JBD, driver, keep_alive=30)
    with_link = await connections_of_pid(observer)
    fake.remove_device(JBD, silently=True)
    with pytest.raises(LinkError):
        await manager.poll(JBD, driver, keep_alive=30)
    fake.restore_device(JBD)
    await manager.async_shutdown()
    after = await connections_of_pid(observer)
    for _ in range(50):
        if after == baseline:
            break
        await asyncio.sleep(0.01)
        after = await connections_of_pid(observer)
    return baseline, with_link, after


async def test_silent_removal_releases_the_bus(
    hass: HomeAssistant, fake: FakeBluez, observer: MessageBus
) -> None:
    """bleak's disconnect() fails when the device vanished silently; the bus is still closed."""
    async with ha_bluetooth_on(hass, fake):
        manager = ConnectionManager(hass)
        baseline, with_link, after = await _silent_removal(hass, fake, observer, manager)
    assert with_link == baseline + 1
    assert after == baseline
    assert manager.failed_disconnects == 1
