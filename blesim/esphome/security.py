"""Pairing on an `EspHomeNode`: the PAIR and UNPAIR device requests, and bond checks.

What the firmware does and the node mirrors: a node advertises the PAIRING
feature flag only when it can pair (bleak-esphome raises NotImplementedError
from `pair()` otherwise and never sends the request); PAIR on a link is
answered ``BluetoothDevicePairingResponse`` once the security procedure ends
(``paired`` and the SMP failure reason as ``error``), at once when the link
is paired already, and ``paired=False, error=-1`` without a link; UNPAIR
removes the bond (``BluetoothDeviceUnpairingResponse``) and leaves the link
up. A device that requires bonding answers every GATT operation on its
characteristics from a central it holds no bond with with ATT error 0x05
(Insufficient Authentication) or 0x0F (Insufficient Encryption), as ESP-IDF
reports them; a write without response is dropped silently.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aioesphomeapi import api_pb2 as pb

from .wire import int_to_mac

if TYPE_CHECKING:
    from .link import Link
    from .session import ApiSession

GATT_NOT_CONNECTED = -1  # ESPHome: no connection for this address
SMP_PAIRING_NOT_SUPPORTED = 0x05  # SMP failure reason of a device that rejects the bond
R = pb.BluetoothDeviceRequestType


def refusal(link: Link) -> int | None:
    """The ATT error the link's device answers a GATT operation with for lack of a bond."""
    if link.device is None:
        return None
    return link.device.refusal(link.session.node.source)


def handle_request(session: ApiSession, msg: pb.BluetoothDeviceRequest) -> None:
    """Answer a PAIR or UNPAIR device request (a node without pairing ignores both, as
    firmware without the feature does)."""
    node = session.node
    if not node.pairing:
        return
    if msg.request_type == R.BLUETOOTH_DEVICE_REQUEST_TYPE_UNPAIR:
        if (device := node.devices.get(int_to_mac(msg.address))) is not None:
            device.unpair(node.source)
        if (link := node.conns.get(msg.address)) is not None:
            link.paired = False  # the next PAIR must not be answered "paired already"
        session.send(pb.BluetoothDeviceUnpairingResponse(address=msg.address, success=True))
        return
    link = node.conns.get(msg.address)
    if link is None or not link.connected:
        session.send(pb.BluetoothDevicePairingResponse(
            address=msg.address, paired=False, error=GATT_NOT_CONNECTED))
    elif link.paired:
        session.send(pb.BluetoothDevicePairingResponse(address=msg.address, paired=True))
    else:
        link.spawn(_pair(session, link))


async def _pair(session: ApiSession, link: Link) -> None:
    """The security procedure: one radio round trip, then the device's verdict."""
    latency = session.node.latency
    if rtt := latency.scaled(latency.round_trip):
        await asyncio.sleep(rtt)
    if not link.connected or link.device is None:
        return  # the link dropped: its connection response already told the client
    if link.device.pair(session.node.source):
        link.paired = True
        link.session.send(pb.BluetoothDevicePairingResponse(address=link.address, paired=True))
    else:
        link.session.send(pb.BluetoothDevicePairingResponse(
            address=link.address, paired=False, error=SMP_PAIRING_NOT_SUPPORTED))
