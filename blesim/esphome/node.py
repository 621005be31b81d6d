"""An ESPHome Bluetooth proxy on 127.0.0.1: the native API in front of blesim's devices.

`EspHomeNode` listens like an ESP32 running ESPHome's `bluetooth_proxy` and
`api` components (plaintext, no password). Home Assistant's own `esphome`
integration connects to it, and aioesphomeapi, bleak-esphome and habluetooth
carry every connection, exactly as with real hardware. It serves the same
`SimDevice` objects as `VirtualProxy` and keeps the same counters, so tests
can run on either path; its links live in its slots, which it reports with
`BluetoothConnectionsFree` (free, limit and the allocated addresses).

What the firmware does and the node mirrors: one Bluetooth subscriber per
proxy (a second one is ignored); a connect without a free slot is answered
``connected=False, error=0``; a link is allocated before ``connected=True``;
the API connection dropping (reboot, Wi-Fi loss) ends every link; a
disconnect for an address with no link is answered at once. Pairing (the
PAIRING feature flag, on by default as on ESP32 firmware; ``pairing=False``
simulates a proxy without it) is in `security.py`.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aioesphomeapi.api_pb2 import (  # type: ignore[attr-defined]
    BluetoothConnectionsFreeResponse,
    BluetoothLERawAdvertisement,
    BluetoothLERawAdvertisementsResponse,
)

from ..devices import SimDevice
from ..proxy import Latency, ProxyFaults
from .link import Link
from .session import ApiSession
from .wire import advertisement_records, mac_to_int

_node_ids = itertools.count(1)
ADVERTISEMENTS_PER_MESSAGE = 16  # ESPHome batches up to 16 raw advertisements
FOREIGN_BASE = 0xF0_0000_0000  # addresses shown for slots held by other clients


class EspHomeNode:
    """A virtual ESP32 Bluetooth proxy serving the native API with `slots` connection slots."""

    def __init__(self, *, name: str | None = None, source: str | None = None,
                 slots: int = 3, latency: Latency | None = None,
                 advertise_every: float = 5.0, esphome_version: str = "2026.11.0",
                 pairing: bool = True) -> None:
        n = next(_node_ids)
        self.name = name or f"blesim-esp-{n}"
        self.source = (source or f"B1:E5:E5:00:00:{n:02X}").upper()
        self.slots = slots
        self.latency = latency or Latency()
        self.advertise_every = advertise_every
        self.esphome_version = esphome_version
        self.pairing = pairing  # advertises the PAIRING feature and answers PAIR / UNPAIR
        self.host = "127.0.0.1"
        self.port = 0
        self.devices: dict[str, SimDevice] = {}
        self.rssi: dict[str, int] = {}
        self.faults = ProxyFaults()
        self.online = False
        self.foreign_slots = 0  # slots held by other clients of this proxy
        self.foreign_waiting = 0  # other clients that take the next freed slots at once
        self.report_allocated = True  # False: firmware that reports free and limit only
        self.conns: dict[int, Link] = {}  # allocated slots: connecting or connected links
        self.sessions: set[ApiSession] = set()
        self.subscriber: ApiSession | None = None  # the one Bluetooth subscriber
        # accounting, as VirtualProxy keeps it (plus who ended each link)
        self.opened = 0
        self.closed = 0  # links that ended, whoever ended them
        self.closed_by_owner = 0  # ... by a disconnect request of their client
        self.dropped = 0  # ... by the device, or the proxy (API connection lost)
        self.peak = 0
        self.slot_violations = 0
        self.rejected_no_slot = 0
        self.restarts = 0
        self.api_connects = 0
        self.opened_by_device: dict[str, int] = {}
        self.closed_by_device: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self._adv_timer: asyncio.TimerHandle | None = None
        self._restart_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<EspHomeNode {self.name} {self.source} :{self.port} {len(self.links)}/{self.slots}>"

    @property
    def mac(self) -> str:
        """The MAC address as the config entry's unique id spells it."""
        return self.source.lower()

    @property
    def links(self) -> dict[str, Link]:
        """Established links by device address."""
        return {link.mac: link for link in self.conns.values() if link.connected}

    # --- lifecycle --------------------------------------------------------------------

    async def serve(self) -> None:
        """Listen on 127.0.0.1 (an ephemeral port unless `port` was set) and go online."""
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
        self.start()

    async def close(self) -> None:
        """Go offline and stop listening."""
        self.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def start(self) -> None:
        """Come online: accept API connections again (clients reconnect on their own)."""
        self.online = True

    def stop(self) -> None:
        """Power off or lose Wi-Fi: every API connection drops, and with it every link."""
        for timer in (self._restart_timer, self._adv_timer):
            if timer is not None:
                timer.cancel()
        self._restart_timer = self._adv_timer = None
        self.online = False
        for session in list(self.sessions):
            session.abort()
            self.session_closed(session)

    def restart(self, after: float = 0.0) -> None:
        """Reboot: drop off now, accept connections again after `after` seconds."""
        self.stop()
        self.restarts += 1
        if after <= 0:
            self.start()
        else:
            self._restart_timer = asyncio.get_running_loop().call_later(after, self.start)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.online:
            writer.transport.abort()  # as good as a host that does not answer
            return
        session = ApiSession(self, reader, writer)
        self.sessions.add(session)
        self.api_connects += 1
        try:
            await session.run()
        finally:
            self.session_closed(session)

    def session_closed(self, session: ApiSession) -> None:
        """An API connection ended: its subscription ends, and the subscriber's links too."""
        if session not in self.sessions:
            return
        self.sessions.discard(session)
        if self.subscriber is session:
            self.subscriber = None
            if self._adv_timer is not None:
                self._adv_timer.cancel()
                self._adv_timer = None
            for link in list(self.conns.values()):
                self.end_link(link, by_owner=False, notify=False)

    # --- devices and advertisements ----------------------------------------------------

    def add(self, device: SimDevice, rssi: int | None = None) -> SimDevice:
        """Put a device in range (at `rssi`, default the device's own) and advertise it."""
        self.devices[device.address] = device
        self.rssi[device.address] = rssi if rssi is not None else device.rssi
        self.send_advertisements([device])
        return device

    def remove(self, device: SimDevice) -> None:
        """Take a device out of range; its link, if any, drops."""
        self.devices.pop(device.address, None)
        if (link := self.conns.get(mac_to_int(device.address))) is not None:
            self.end_link(link, by_owner=False, reason=0x08)  # supervision timeout

    def set_rssi(self, device: SimDevice, rssi: int) -> None:
        """Change the signal strength this proxy hears a device with, and advertise it."""
        self.rssi[device.address] = rssi
        self.send_advertisements([device])

    def advertise(self) -> None:
        """Send one advertisement of every device in range, then repeat periodically."""
        if self._adv_timer is not None:
            self._adv_timer.cancel()
        self._adv_timer = None
        self.send_advertisements(list(self.devices.values()))
        if self.advertise_every > 0 and self.subscriber is not None:
            self._adv_timer = asyncio.get_running_loop().call_later(
                self.advertise_every, self.advertise)

    def send_advertisements(self, devices: list[SimDevice]) -> None:
        """Raw advertisements of `devices` to the subscriber, 16 per message."""
        if self.subscriber is None or not self.online:
            return
        records = [
            BluetoothLERawAdvertisement(
                address=mac_to_int(d.address), rssi=self.rssi.get(d.address, d.rssi),
                address_type=getattr(d, "address_type", 0), data=data)
            for d in devices if not d.faults.out_of_range
            for data in advertisement_records(d.advertisement())
        ]
        for i in range(0, len(records), ADVERTISEMENTS_PER_MESSAGE):
            self.subscriber.send(BluetoothLERawAdvertisementsResponse(
                advertisements=records[i : i + ADVERTISEMENTS_PER_MESSAGE]))

    # --- slots --------------------------------------------------------------------------

    def in_use(self) -> int:
        """Slots taken: links (connecting or connected) and other clients' connections."""
        return len(self.conns) + self.foreign_slots

    def free(self) -> int:
        """Free connection slots."""
        return max(0, self.slots - self.in_use())

    def connections_free(self) -> BluetoothConnectionsFreeResponse:
        """The slot report: free, limit and exactly limit - free allocated addresses.

        Older firmware sends no allocated addresses (`report_allocated` False).
        """
        allocated = list(self.conns)
        allocated += [FOREIGN_BASE + i for i in range(self.foreign_slots)]
        if not self.report_allocated:
            allocated = []
        return BluetoothConnectionsFreeResponse(
            free=self.free(), limit=self.slots, allocated=allocated[: self.slots - self.free()])

    def announce_slots(self) -> None:
        """Send the slot report to every API connection that subscribed to it."""
        report = self.connections_free()
        for session in list(self.sessions):
            if session.wants_slots:
                session.send(report)

    def hold_slots(self, count: int, *, announce: bool = True) -> None:
        """Let `count` connections of other clients occupy slots (0 frees them).

        With ``announce=False`` the slot report is not sent: Home Assistant's
        free count is stale, as when another client took a slot a moment ago.
        """
        self.foreign_slots = count
        if announce:
            self.announce_slots()

    def take_freed_slots(self, count: int) -> None:
        """`count` other clients wait for a slot and take each one the moment it is freed."""
        self.foreign_waiting = count

    # --- links ----------------------------------------------------------------------------

    def link_established(self, link: Link) -> None:
        """Accounting for a link that came up (its slot was allocated at the request)."""
        device = link.device
        assert device is not None
        device.centrals.add(link)
        device.connects += 1
        device.on_connect()
        self.opened += 1
        self.opened_by_device[link.mac] = self.opened_by_device.get(link.mac, 0) + 1
        self.peak = max(self.peak, len(self.links))
        if len(self.conns) + self.foreign_slots > self.slots:
            self.slot_violations += 1

    def end_link(self, link: Link, *, by_owner: bool, reason: int = 0,
                 notify: bool = True) -> None:
        """Free a link's slot; tell the subscriber (``connected=False``) and report slots."""
        if self.conns.get(link.address) is not link:
            return
        del self.conns[link.address]
        was_connected = link.connected
        link.close()
        if was_connected:
            if link.device is not None:
                link.device.centrals.discard(link)
                link.device.disconnects += 1
                link.device.on_disconnect()
            self.closed += 1
            self.closed_by_device[link.mac] = self.closed_by_device.get(link.mac, 0) + 1
            if by_owner:
                self.closed_by_owner += 1
            else:
                self.dropped += 1
        if self.foreign_waiting > 0:
            self.foreign_waiting -= 1
            self.foreign_slots += 1
        if notify:
            link.session.send_connection(link.address, False, 0, reason)
            self.announce_slots()

    # --- accounting -----------------------------------------------------------------------

    @property
    def leaked(self) -> int:
        """Links that are still up although nobody may be using them (see `links`)."""
        return self.opened - self.closed

    def stats(self) -> dict[str, Any]:
        """Counters as plain data (benchmarks, logs)."""
        return {
            "name": self.name, "source": self.source, "slots": self.slots, "port": self.port,
            "online": self.online, "opened": self.opened, "closed": self.closed,
            "closed_by_owner": self.closed_by_owner, "leaked": self.leaked, "peak": self.peak,
            "links": len(self.links), "slot_violations": self.slot_violations,
            "rejected_no_slot": self.rejected_no_slot, "dropped": self.dropped,
            "restarts": self.restarts, "api_connects": self.api_connects,
            "opened_by_device": dict(self.opened_by_device),
            "closed_by_device": dict(self.closed_by_device),
        }
