"""blesim's ESPHome node as aioesphomeapi's own client sees it (no Home Assistant).

What bleak-esphome and HA rely on: raw advertisements batched up to 16 per
message, one Bluetooth subscriber per proxy, a slot report whose allocated
addresses match limit - free, a connect without a free slot refused with
``connected=False, error=0``, and an API connection drop ending every link.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aioesphomeapi import APIClient

from blesim import Latency, make_device
from blesim.esphome import EspHomeNode

from ..conftest import wait_real


async def client_of(node: EspHomeNode) -> APIClient:
    """A connected aioesphomeapi client (plaintext, no password)."""
    cli = APIClient(node.host, node.port, "")
    await cli.connect(login=True)
    return cli


async def test_advertisements_slots_and_refusal(socket_enabled: None) -> None:
    node = EspHomeNode(slots=2, latency=Latency.instant())
    await node.serve()
    devices = [node.add(make_device("jbd", f"A5:C2:37:10:01:{i:02X}")) for i in range(20)]
    cli = await client_of(node)
    info = await cli.device_info()
    assert info.mac_address == node.source
    batches: list[int] = []
    cli.subscribe_bluetooth_le_raw_advertisements(lambda m: batches.append(len(m.advertisements)))
    slots: list[tuple[int, int, list[int]]] = []
    cli.subscribe_bluetooth_connections_free(lambda f, lim, alloc: slots.append((f, lim, alloc)))
    await wait_real(lambda: sum(batches) >= 20 and bool(slots))
    assert max(batches) == 16
    assert slots[-1] == (2, 2, [])

    second = await client_of(node)  # a second subscriber is ignored, as by the firmware
    ignored: list[Any] = []
    second.subscribe_bluetooth_le_raw_advertisements(ignored.append)
    await asyncio.sleep(0.05)
    node.advertise()
    await asyncio.sleep(0.05)
    assert ignored == []

    states: dict[int, tuple[bool, int]] = {}
    for device in devices[:2]:
        address = int(device.address.replace(":", ""), 16)
        await cli.bluetooth_device_connect(
            address, lambda c, _mtu, err, a=address: states.__setitem__(a, (c, err)),
            feature_flags=info.bluetooth_proxy_feature_flags, address_type=0)
    await wait_real(lambda: len(node.links) == 2)
    assert slots[-1][0] == 0
    assert sorted(slots[-1][2]) == sorted(int(d.address.replace(":", ""), 16)
                                          for d in devices[:2])
    node.hold_slots(0)
    third = int(devices[2].address.replace(":", ""), 16)
    refused: list[tuple[bool, int]] = []
    with contextlib.suppress(Exception):  # aioesphomeapi may raise on connected=False
        await cli.bluetooth_device_connect(
            third, lambda c, _mtu, err: refused.append((c, err)),
            feature_flags=info.bluetooth_proxy_feature_flags, address_type=0, timeout=2)
    assert refused == [(False, 0)]  # what real firmware answers when no slot is free
    assert node.rejected_no_slot == 1
    assert len(node.links) == 2

    node.stop()  # Wi-Fi gone: the API connection drops and every link with it
    assert node.links == {}
    assert node.dropped == 2
    assert node.opened == node.closed == 2
    await cli.disconnect(force=True)
    await second.disconnect(force=True)
    await node.close()
