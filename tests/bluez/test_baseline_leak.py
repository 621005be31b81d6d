"""Harness baseline: the check can fail.

A deliberately naive connect-per-poll loop (real bleak BleakClient, BlueZ
backend) that drops clients on errors without awaiting disconnect() leaks one
D-Bus connection per failed poll, until the private system bus refuses with
the error BlueZ users see.
"""

from __future__ import annotations

import asyncio
import os

import bleak
from bleak.exc import BleakError
from dbus_fast.aio import MessageBus

from blesim.devices import uuid16
from blesim.families.jbd import JbdDevice
from fakebluez import LIMIT_ERROR, FakeBluez, PrivateSystemBus

from .conftest import our_connections

ADDRESS = "A5:C2:37:10:00:01"
REQUEST = bytes.fromhex("dda50300fffd77")


async def test_naive_loop_exhausts_the_bus(
    system_bus: PrivateSystemBus, fake: FakeBluez, observer: MessageBus
) -> None:
    """Every poll's link drops mid-request; the naive loop just moves on."""
    dev = fake.add_device(JbdDevice(ADDRESS))
    baseline = await our_connections(observer)
    limit = system_bus.max_connections_per_user
    leaked: list[bleak.BleakClient] = []
    refusal: Exception | None = None
    async with asyncio.timeout(60):
        for _cycle in range(limit + 20):
            client = bleak.BleakClient(fake.ble_device(ADDRESS))
            try:
                await client.connect(timeout=5)
                dev.faults.disconnect_during_io = 1  # the peripheral drops the link
                await client.write_gatt_char(uuid16(0xFF02), REQUEST, response=True)
            except BleakError:
                leaked.append(client)  # the bug under test: no `await client.disconnect()`
                continue
            except Exception as err:
                refusal = err
                break
            await client.disconnect()
        at_refusal = await our_connections(observer)

    message = f"The maximum number of active connections for UID {os.getuid()} has been reached"
    assert refusal is not None, f"no refusal after {len(leaked)} leaked clients"
    # The daemon answered the refused client's Hello with LimitsExceeded (dbus-fast
    # 5.0.x takes the error text for its unique name, then the daemon hangs up).
    refused_bus = client._backend._bus  # type: ignore[attr-defined]
    assert refused_bus is None or refused_bus.unique_name in (message, None)
    # Any new connection now gets exactly that D-Bus error, and the daemon logs it.
    assert system_bus.probe_hello() == (LIMIT_ERROR, message)
    assert message in system_bus.log()
    # Every connection the daemon allows for our UID is ours: baseline + leaks + bleak's manager.
    assert at_refusal == limit
    assert len(leaked) == limit - baseline - 1  # -1: bleak's global BlueZ manager connection

    # Releasing the leaked buses brings the count back: the measurement sees both ways.
    for client in leaked:
        await client.disconnect()
    async with asyncio.timeout(10):
        while await our_connections(observer) > baseline + 1:  # noqa: ASYNC110 - polls the daemon
            await asyncio.sleep(0.02)
    assert await our_connections(observer) == baseline + 1
