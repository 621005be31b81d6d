"""One native-API connection to an `EspHomeNode`, and the Bluetooth links it drives.

`ApiSession` answers the handshake (hello, device info, entity list), pings,
and the Bluetooth proxy requests: advertisement and slot subscriptions,
scanner mode, connect and disconnect, service discovery, reads, writes,
descriptor writes and notifications. Radio round trips run as tasks, so a
slow device never holds up the API connection, as on the ESP32.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from aioesphomeapi import BluetoothProxyFeature
from aioesphomeapi import api_pb2 as pb
from google.protobuf import message

from .gatt import GattTable
from .link import Link
from .security import handle_request, refusal
from .wire import decode, encode

if TYPE_CHECKING:
    from .node import EspHomeNode

API_VERSION = (1, 14)
FEATURES = (BluetoothProxyFeature.PASSIVE_SCAN | BluetoothProxyFeature.ACTIVE_CONNECTIONS
            | BluetoothProxyFeature.REMOTE_CACHING | BluetoothProxyFeature.CACHE_CLEARING
            | BluetoothProxyFeature.RAW_ADVERTISEMENTS
            | BluetoothProxyFeature.FEATURE_STATE_AND_MODE)
# ESP-IDF / ESPHome error codes the proxy reports
GATT_NOT_CONNECTED = -1  # ESPHome: no connection for this address
GATT_INVALID_HANDLE = 0x01
GATT_READ_NOT_PERMIT = 0x02
GATT_WRITE_NOT_PERMIT = 0x03
CONN_FAIL_ESTABLISH = 0x3E  # the peripheral never answered the connect
CONN_TERMINATE_PEER = 0x13  # the peripheral ended the link
CONNECT_TIMEOUT = 20.0  # seconds the ESP32 tries to reach a device that is not there
R = pb.BluetoothDeviceRequestType


class ApiSession:
    """The node's side of one API connection."""

    def __init__(self, node: EspHomeNode, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.node = node
        self.reader = reader
        self.writer = writer
        self.wants_slots = False
        self.scan_mode = pb.BLUETOOTH_SCANNER_MODE_ACTIVE
        self.closed = False

    def send(self, *msgs: message.Message) -> None:
        """Queue messages (one write: they reach the client in the same read)."""
        if not self.closed and not self.writer.is_closing():
            self.writer.write(b"".join(encode(m) for m in msgs))

    def abort(self) -> None:
        """Drop the TCP connection without a goodbye (power loss, Wi-Fi gone)."""
        self.closed = True
        self.writer.transport.abort()

    async def run(self) -> None:
        """Read and answer frames until the client or the node ends the connection."""
        buffer = bytearray()
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                buffer += data
                for msg in decode(buffer):
                    if isinstance(msg, tuple):
                        continue  # firmware ignores message types it does not know
                    self.handle(msg)
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            with contextlib.suppress(Exception):
                self.writer.close()

    # --- dispatch -----------------------------------------------------------------------

    def handle(self, msg: message.Message) -> None:
        """Answer one request."""
        node = self.node
        match msg:
            case pb.HelloRequest():
                self.send(pb.HelloResponse(api_version_major=API_VERSION[0],
                                           api_version_minor=API_VERSION[1],
                                           server_info=f"{node.name} (blesim)", name=node.name))
            case pb.DeviceInfoRequest():
                self.send(pb.DeviceInfoResponse(
                    name=node.name, friendly_name=node.name, mac_address=node.source,
                    bluetooth_mac_address=node.source, esphome_version=node.esphome_version,
                    compilation_time="Jan  1 2026, 00:00:00", model="esp32dev",
                    manufacturer="Espressif", bluetooth_proxy_feature_flags=int(
                        FEATURES | BluetoothProxyFeature.PAIRING if node.pairing else FEATURES)))
            case pb.ListEntitiesRequest():
                self.send(pb.ListEntitiesDoneResponse())
            case pb.PingRequest():
                self.send(pb.PingResponse())
            case pb.GetTimeRequest():
                self.send(pb.GetTimeResponse(epoch_seconds=int(time.time())))
            case pb.DisconnectRequest():
                self.send(pb.DisconnectResponse())
                self.closed = True
                self.writer.close()
            case pb.SubscribeBluetoothLEAdvertisementsRequest():
                if node.subscriber is None or node.subscriber is self:
                    # one subscriber per proxy; another one is ignored, as by the firmware
                    node.subscriber = self
                    self.send_scanner_state()
                    node.advertise()
            case pb.UnsubscribeBluetoothLEAdvertisementsRequest():
                if node.subscriber is self:
                    node.subscriber = None
            case pb.SubscribeBluetoothConnectionsFreeRequest():
                self.wants_slots = True
                self.send(node.connections_free())
            case pb.BluetoothScannerSetModeRequest():
                self.scan_mode = msg.mode
                self.send_scanner_state()
            case pb.BluetoothDeviceRequest():
                self.device_request(msg)
            case pb.BluetoothGATTGetServicesRequest():
                self.get_services(msg.address)
            case pb.BluetoothGATTReadRequest():
                self.with_link(msg.address, msg.handle, lambda link: self.read(link, msg.handle))
            case pb.BluetoothGATTReadDescriptorRequest():
                self.with_link(msg.address, msg.handle,
                               lambda link: self.read_descriptor(link, msg.handle))
            case pb.BluetoothGATTWriteRequest():
                self.with_link(msg.address, msg.handle, lambda link: self.write(link, msg))
            case pb.BluetoothGATTWriteDescriptorRequest():
                self.with_link(msg.address, msg.handle,
                               lambda link: self.write_descriptor(link, msg))
            case pb.BluetoothGATTNotifyRequest():
                self.with_link(msg.address, msg.handle, lambda link: self.notify(link, msg))
            case _:
                pass  # logs, states, services, voice ...: nothing to answer

    def send_scanner_state(self) -> None:
        """The scanner's state and mode (bleak-esphome waits for it after subscribing)."""
        self.send(pb.BluetoothScannerStateResponse(
            state=pb.BLUETOOTH_SCANNER_STATE_RUNNING, mode=self.scan_mode,
            configured_mode=pb.BLUETOOTH_SCANNER_MODE_ACTIVE))

    def send_connection(self, address: int, connected: bool, mtu: int, error: int) -> None:
        """A BluetoothDeviceConnectionResponse."""
        self.send(pb.BluetoothDeviceConnectionResponse(address=address, connected=connected,
                                                       mtu=mtu, error=error))

    def gatt_error(self, address: int, handle: int, error: int) -> None:
        """A BluetoothGATTErrorResponse."""
        self.send(pb.BluetoothGATTErrorResponse(address=address, handle=handle, error=error))

    def with_link(self, address: int, handle: int, op: Any) -> None:
        """Run a GATT operation on the connected link for `address`, or report 'not connected'."""
        link = self.node.conns.get(address)
        if link is None or not link.connected:
            self.gatt_error(address, handle, GATT_NOT_CONNECTED)
            return
        link.spawn(op(link))

    # --- connections --------------------------------------------------------------------

    def device_request(self, msg: pb.BluetoothDeviceRequest) -> None:
        """Connect, disconnect or clear the cache of one address."""
        node, address = self.node, msg.address
        kind = msg.request_type
        if kind in (R.BLUETOOTH_DEVICE_REQUEST_TYPE_CONNECT_V3_WITH_CACHE,
                    R.BLUETOOTH_DEVICE_REQUEST_TYPE_CONNECT_V3_WITHOUT_CACHE,
                    R.BLUETOOTH_DEVICE_REQUEST_TYPE_CONNECT):
            if (link := node.conns.get(address)) is not None:
                if link.connected:
                    assert link.device is not None
                    self.send_connection(address, True, link.device.mtu, 0)
                return
            if node.free() <= 0 or not node.online:
                node.rejected_no_slot += 1
                self.send_connection(address, False, 0, 0)
                return
            link = Link(node.subscriber or self, address)
            node.conns[address] = link  # allocated before connected=True is sent
            node.announce_slots()
            link.spawn(self.establish(link, msg))
        elif kind == R.BLUETOOTH_DEVICE_REQUEST_TYPE_DISCONNECT:
            if (link := node.conns.get(address)) is None:
                self.send_connection(address, False, 0, 0)
            else:
                node.end_link(link, by_owner=True)
        elif kind in (R.BLUETOOTH_DEVICE_REQUEST_TYPE_PAIR, R.BLUETOOTH_DEVICE_REQUEST_TYPE_UNPAIR):
            handle_request(self, msg)
        elif kind == R.BLUETOOTH_DEVICE_REQUEST_TYPE_CLEAR_CACHE:
            self.send(pb.BluetoothDeviceClearCacheResponse(address=address, success=True))

    async def establish(self, link: Link, msg: pb.BluetoothDeviceRequest) -> None:
        """Bring a link up after the radio's connect time, or fail as the ESP32 does."""
        node = self.node
        latency = node.latency
        device = node.devices.get(link.mac)
        delay = latency.connect + node.faults.connect_delay
        if device is not None:
            delay += device.faults.connect_delay
        if scaled := latency.scaled(delay):
            await asyncio.sleep(scaled)
        reachable = (device is not None and not device.faults.out_of_range
                     and (not msg.has_address_type
                          or msg.address_type == getattr(device, "address_type", 0)))
        if not reachable:
            await asyncio.sleep(latency.scaled(CONNECT_TIMEOUT) or CONNECT_TIMEOUT)
            node.end_link(link, by_owner=False, reason=CONN_FAIL_ESTABLISH)
            return
        assert device is not None
        if (node.faults.refuse_connect or device.faults.refuse_connect
                or device.faults.held_by_phone or device.centrals):
            node.end_link(link, by_owner=False, reason=CONN_FAIL_ESTABLISH)
            return
        link.device = device
        link.table = GattTable.of(device)
        link.connected = True
        node.link_established(link)
        link.session.send_connection(link.address, True, device.mtu, 0)

    def get_services(self, address: int) -> None:
        """Every service in one message each, then done."""
        link = self.node.conns.get(address)
        if link is None or not link.connected or link.table is None:
            self.gatt_error(address, 0, GATT_NOT_CONNECTED)
            return
        self.send(*link.table.responses(address),
                  pb.BluetoothGATTGetServicesDoneResponse(address=address))

    # --- GATT -----------------------------------------------------------------------------

    async def round_trip(self, link: Link) -> bool:
        """Wait one radio round trip; False if the link ended meanwhile."""
        latency = self.node.latency
        if rtt := latency.scaled(latency.round_trip):
            await asyncio.sleep(rtt)
        return link.connected

    async def read(self, link: Link, handle: int) -> None:
        """Read a characteristic; a device that never answers lets the client time out."""
        assert link.table is not None
        assert link.device is not None
        char = link.table.by_handle.get(handle)
        if char is None or "read" not in char.properties:
            self.gatt_error(link.address, handle,
                            GATT_INVALID_HANDLE if char is None else GATT_READ_NOT_PERMIT)
            return
        if not await self.round_trip(link):
            return
        device = link.device
        if (error := refusal(link)) is not None:
            self.gatt_error(link.address, handle, error)
            return
        if device.faults.no_answer:
            return
        if device.faults.drop_mid_response:
            self.node.end_link(link, by_owner=False, reason=CONN_TERMINATE_PEER)
            return
        self.send(pb.BluetoothGATTReadResponse(address=link.address, handle=handle,
                                               data=device.read(char.uuid)))

    async def read_descriptor(self, link: Link, handle: int) -> None:
        """Read a CCCD: whether notifications are on."""
        assert link.table is not None
        char = link.table.by_cccd.get(handle)
        if char is None:
            self.gatt_error(link.address, handle, GATT_INVALID_HANDLE)
            return
        if await self.round_trip(link):
            value = b"\x01\x00" if char.handle in link.enabled else b"\x00\x00"
            self.send(pb.BluetoothGATTReadResponse(address=link.address, handle=handle,
                                                   data=value))

    async def write(self, link: Link, msg: pb.BluetoothGATTWriteRequest) -> None:
        """Write a characteristic; the device's answer comes as notifications."""
        assert link.table is not None
        assert link.device is not None
        char = link.table.by_handle.get(msg.handle)
        needed = "write" if msg.response else "write-without-response"
        if char is None or needed not in char.properties:
            self.gatt_error(link.address, msg.handle,
                            GATT_INVALID_HANDLE if char is None else GATT_WRITE_NOT_PERMIT)
            return
        if msg.response:
            if not await self.round_trip(link):
                return
            if (error := refusal(link)) is not None:
                self.gatt_error(link.address, msg.handle, error)
                return
            self.send(pb.BluetoothGATTWriteResponse(address=link.address, handle=msg.handle))
        elif not await self.round_trip(link):
            return  # request out, first notification back: one round trip
        elif refusal(link) is not None:
            return  # a write command gets no response: the device drops it
        if frames := link.device.respond(char.uuid, bytes(msg.data)):
            await self.deliver(link, frames)

    async def write_descriptor(self, link: Link, msg: pb.BluetoothGATTWriteDescriptorRequest
                               ) -> None:
        """Write a CCCD: notifications (or indications) on or off; streams start at once."""
        assert link.table is not None
        assert link.device is not None
        char = link.table.by_cccd.get(msg.handle)
        if char is None:
            self.gatt_error(link.address, msg.handle, GATT_INVALID_HANDLE)
            return
        if not await self.round_trip(link):
            return
        if (error := refusal(link)) is not None:
            self.gatt_error(link.address, msg.handle, error)
            return
        device = link.device
        if bytes(msg.data[:1]) in (b"\x01", b"\x02"):
            link.enabled.add(char.handle)
        else:
            link.enabled.discard(char.handle)
        self.send(pb.BluetoothGATTWriteResponse(address=link.address, handle=msg.handle))
        streams = device.stream_period is not None and char.uuid == device.notify_uuid
        if streams and char.handle in link.enabled and link.stream_task is None:
            # a streaming device pushes its first frame as soon as it is subscribed: it
            # reaches the client in the same read as the reply to this write
            link.stream_task = asyncio.get_running_loop().create_task(self.stream(link))
        elif streams and char.handle not in link.enabled and link.stream_task is not None:
            link.stream_task.cancel()
            link.stream_task = None

    async def notify(self, link: Link, msg: pb.BluetoothGATTNotifyRequest) -> None:
        """Register (or unregister) for a characteristic's notifications on the ESP32."""
        assert link.table is not None
        char = link.table.by_handle.get(msg.handle)
        if char is None or not {"notify", "indicate"} & set(char.properties):
            self.gatt_error(link.address, msg.handle, GATT_INVALID_HANDLE)
            return
        if msg.enable:
            link.registered.add(char.handle)
        else:
            link.registered.discard(char.handle)
        self.send(pb.BluetoothGATTNotifyResponse(address=link.address, handle=msg.handle))

    async def deliver(self, link: Link, frames: list[bytes]) -> None:
        """Notify whole frames in MTU-sized chunks; a drop fault ends the link after one."""
        assert link.table is not None
        assert link.device is not None
        device = link.device
        char = link.table.handle_of(device.notify_uuid or "")
        if char is None:
            return
        latency = self.node.latency
        size = max(1, device.mtu - 3)
        chunks = [f[i : i + size] for f in frames for i in range(0, len(f), size)]
        drop_at = min(1, len(chunks) - 1) if device.faults.drop_mid_response else -1
        async with link.send_lock:
            for index, chunk in enumerate(chunks):
                if not link.connected:
                    return
                if index == drop_at:
                    self.node.end_link(link, by_owner=False, reason=CONN_TERMINATE_PEER)
                    return
                if char.handle in link.registered and char.handle in link.enabled:
                    link.session.send(pb.BluetoothGATTNotifyDataResponse(
                        address=link.address, handle=char.handle, data=chunk))
                if gap := latency.scaled(latency.chunk_interval):
                    await asyncio.sleep(gap)

    async def stream(self, link: Link) -> None:
        """Frames a streaming device pushes by itself while subscribed."""
        assert link.device is not None
        device = link.device
        latency = self.node.latency
        period = latency.stream_period or latency.scaled(device.stream_period or 1.0)
        while link.connected:
            if frames := device.stream():
                await self.deliver(link, frames)
            await asyncio.sleep(period)
