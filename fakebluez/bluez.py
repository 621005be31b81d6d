"""A fake BlueZ daemon: org.bluez objects on a (private) D-Bus system bus.

It implements the part of BlueZ's D-Bus API that bleak's BlueZ backend
(bleak 3.x, bleak/backends/bluezdbus) and bleak-retry-connector use:

- org.freedesktop.DBus.ObjectManager on "/" (GetManagedObjects,
  InterfacesAdded/InterfacesRemoved; provided by dbus-fast for exported objects);
- org.bluez.Adapter1 (StartDiscovery, StopDiscovery, SetDiscoveryFilter,
  GetDiscoveryFilters, RemoveDevice, properties);
- org.bluez.Device1 (Connect, Disconnect, properties with PropertiesChanged);
- org.bluez.GattService1 and org.bluez.GattCharacteristic1 (ReadValue,
  WriteValue, StartNotify, StopNotify, AcquireNotify, AcquireWrite; Value
  PropertiesChanged notifications).

Devices are blesim simulated devices: a write is answered by
`SimDevice.respond()` and the whole response frames are chunked by MTU-3 into
Value notifications, so the real protocol traffic flows. `BusFaults` injects
failures at the D-Bus level (connect aborts, InProgress, hangs, services that
never resolve, link drops during I/O, device removal, StartNotify failures).
"""


import asyncio
import contextlib
import itertools
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Annotated, Any

from bleak.backends.device import BLEDevice
from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusBytes,
    DBusDict,
    DBusInt16,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt16,
)
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property

from blesim.devices import SimDevice

_LOGGER = logging.getLogger(__name__)

BLUEZ_SERVICE = "org.bluez"
ADAPTER_IFACE = "org.bluez.Adapter1"
DEVICE_IFACE = "org.bluez.Device1"
SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"

ERR_FAILED = "org.bluez.Error.Failed"
ERR_IN_PROGRESS = "org.bluez.Error.InProgress"
ERR_NOT_CONNECTED = "org.bluez.Error.NotConnected"
ERR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"
ERR_NOT_PERMITTED = "org.bluez.Error.NotPermitted"
ERR_NOT_SUPPORTED = "org.bluez.Error.NotSupported"
ABORT_BY_LOCAL = "le-connection-abort-by-local"

DBusStrList = Annotated[list[str], DBusSignature("as")]
DBusPathList = Annotated[list[str], DBusSignature("ao")]
DBusManufacturerData = Annotated[dict[int, Variant], DBusSignature("a{qv}")]
DBusFdMtu = Annotated[tuple[int, int], DBusSignature("hq")]


@dataclass
class Timing:
    """Radio timings of the fake adapter in seconds (0 = instant)."""

    connect: float = 0.0  # Connect call until Connected
    resolve: float = 0.0  # Connected until ServicesResolved
    round_trip: float = 0.0  # write until the first notification
    hang_limit: float = 30.0  # a hanging Connect gives up after this, at the latest


@dataclass
class BusFaults:
    """D-Bus level faults of one device; each counter is the number of times it still fires."""

    connect_abort: int = 0  # Connected goes True then False, Connect fails le-connection-abort-by-local
    connect_in_progress: int = 0  # Connect fails org.bluez.Error.InProgress
    connect_hang: int = 0  # Connect never answers until Disconnect (or Timing.hang_limit)
    services_never_resolve: int = 0  # connects, but ServicesResolved never becomes True
    disconnect_during_io: int = 0  # a read/write: the link drops, the call fails
    remove_during_io: int = 0  # a read/write: the device object is removed (link dropped first)
    remove_silently: bool = False  # removals skip the Connected=False signal (bleak's edge case)
    start_notify_fail: int = 0  # StartNotify fails with an ATT error

    def take(self, name: str) -> bool:
        """Consume one firing of counter `name`; whether it fired."""
        left = getattr(self, name)
        if left > 0:
            setattr(self, name, left - 1)
            return True
        return False

    def clear(self) -> None:
        """Switch every fault off."""
        for name, value in BusFaults().__dict__.items():
            setattr(self, name, value)


@dataclass
class FakeStats:
    """What the fake adapter saw, for assertions and reports."""

    connect_calls: int = 0
    connects: int = 0
    disconnect_calls: int = 0
    link_drops: int = 0
    removals: int = 0
    writes: int = 0
    reads: int = 0
    notifications: int = 0
    faults_fired: dict[str, int] = field(default_factory=dict)

    def fired(self, name: str) -> None:
        """Count one injected fault."""
        self.faults_fired[name] = self.faults_fired.get(name, 0) + 1


def _dev_path(adapter_path: str, address: str) -> str:
    return f"{adapter_path}/dev_{address.upper().replace(':', '_')}"


class _PropsMixin:
    """Property storage with PropertiesChanged emission."""

    _props: dict[str, Any]

    def update(self, **changed: Any) -> None:
        """Set properties and emit PropertiesChanged for those that changed."""
        diff = {k: v for k, v in changed.items() if self._props.get(k) != v}
        if not diff:
            return
        self._props.update(diff)
        assert isinstance(self, ServiceInterface)
        self.emit_properties_changed(diff)


class AdapterInterface(_PropsMixin, ServiceInterface):
    """org.bluez.Adapter1 of the fake adapter."""

    def __init__(self, fake: "FakeBluez", address: str) -> None:
        super().__init__(ADAPTER_IFACE)
        self._fake = fake
        self._filter: dict[str, Variant] = {}
        self._props = {
            "Address": address, "AddressType": "public", "Name": "fakebluez",
            "Alias": "fakebluez", "Class": 0, "Powered": True, "Discoverable": False,
            "Pairable": True, "Discovering": False,
            "UUIDs": ["00001801-0000-1000-8000-00805f9b34fb",
                      "00001800-0000-1000-8000-00805f9b34fb"],
            "Modalias": "usb:v1D6Bp0246d0540", "Roles": ["central", "peripheral"],
        }

    @dbus_method()
    def StartDiscovery(self) -> None:
        """Start scanning: devices advertise (RSSI changes) periodically."""
        self.update(Discovering=True)
        self._fake._start_advertising()

    @dbus_method()
    def StopDiscovery(self) -> None:
        """Stop scanning."""
        if not self._props["Discovering"]:
            raise DBusError("org.bluez.Error.NotReady", "No discovery started")
        self.update(Discovering=False)
        self._fake._stop_advertising()

    @dbus_method()
    def SetDiscoveryFilter(self, properties: DBusDict) -> None:
        """Store the discovery filter (not applied)."""
        self._filter = dict(properties)

    @dbus_method()
    def GetDiscoveryFilters(self) -> DBusStrList:
        """Filters BlueZ supports."""
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable"]

    @dbus_method()
    def RemoveDevice(self, device: DBusObjectPath) -> None:
        """Remove a device object (disconnecting it first)."""
        dev = self._fake._by_path.get(device)
        if dev is None or not dev.exported:
            raise DBusError(ERR_DOES_NOT_EXIST, "Does Not Exist")
        self._fake.remove_device(dev.address)

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self._props["Address"]

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return self._props["AddressType"]

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self._props["Name"]

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return self._props["Alias"]

    @dbus_property(access=PropertyAccess.READ)
    def Class(self) -> Annotated[int, DBusSignature("u")]:
        return self._props["Class"]

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> DBusBool:
        return self._props["Powered"]

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> DBusBool:
        return self._props["Discoverable"]

    @dbus_property(access=PropertyAccess.READ)
    def Pairable(self) -> DBusBool:
        return self._props["Pairable"]

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> DBusBool:
        return self._props["Discovering"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrList:
        return self._props["UUIDs"]

    @dbus_property(access=PropertyAccess.READ)
    def Modalias(self) -> DBusStr:
        return self._props["Modalias"]

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> DBusStrList:
        return self._props["Roles"]


class DeviceInterface(_PropsMixin, ServiceInterface):
    """org.bluez.Device1 of one simulated peripheral."""

    def __init__(self, dev: "FakeDevice") -> None:
        super().__init__(DEVICE_IFACE)
        self._dev = dev
        sim = dev.sim
        self._props = {
            "Address": sim.address.upper(), "AddressType": "public", "Name": sim.name,
            "Alias": sim.name, "Paired": False, "Bonded": False, "Trusted": False,
            "Blocked": False, "LegacyPairing": False, "Connected": False,
            "ServicesResolved": False, "RSSI": sim.rssi, "TxPower": 0,
            "ManufacturerData": {k: Variant("ay", v) for k, v in sim.manufacturer_data.items()},
            "ServiceData": {}, "UUIDs": list(sim.service_uuids),
            "Adapter": dev.fake.adapter_path, "AdvertisingFlags": b"\x06",
        }

    @dbus_method()
    async def Connect(self) -> None:
        """Connect the peripheral (with the device's faults applied)."""
        await self._dev.fake._connect(self._dev)

    @dbus_method()
    def Disconnect(self) -> None:
        """Disconnect the peripheral, or cancel a pending Connect."""
        self._dev.fake._disconnect(self._dev)

    @dbus_method()
    def Pair(self) -> None:
        """Pairing is not simulated."""
        raise DBusError(ERR_NOT_SUPPORTED, "Pairing is not simulated")

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> DBusStr:
        return self._props["Address"]

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> DBusStr:
        return self._props["AddressType"]

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> DBusStr:
        return self._props["Name"]

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> DBusStr:
        return self._props["Alias"]

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> DBusBool:
        return self._props["Paired"]

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> DBusBool:
        return self._props["Bonded"]

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> DBusBool:
        return self._props["Trusted"]

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> DBusBool:
        return self._props["Blocked"]

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> DBusBool:
        return self._props["LegacyPairing"]

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> DBusBool:
        return self._props["Connected"]

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> DBusBool:
        return self._props["ServicesResolved"]

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> DBusInt16:
        return self._props["RSSI"]

    @dbus_property(access=PropertyAccess.READ)
    def TxPower(self) -> DBusInt16:
        return self._props["TxPower"]

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> DBusManufacturerData:
        return self._props["ManufacturerData"]

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> DBusDict:
        return self._props["ServiceData"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> DBusStrList:
        return self._props["UUIDs"]

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> DBusObjectPath:
        return self._props["Adapter"]

    @dbus_property(access=PropertyAccess.READ)
    def AdvertisingFlags(self) -> DBusBytes:
        return self._props["AdvertisingFlags"]


class ServiceObject(ServiceInterface):
    """org.bluez.GattService1 of a connected peripheral."""

    def __init__(self, uuid: str, device_path: str, handle: int) -> None:
        super().__init__(SERVICE_IFACE)
        self._uuid, self._device, self._handle = uuid, device_path, handle

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> DBusObjectPath:
        return self._device

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> DBusPathList:
        return []

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> DBusUInt16:
        return self._handle


class CharacteristicObject(_PropsMixin, ServiceInterface):
    """org.bluez.GattCharacteristic1 of a connected peripheral."""

    def __init__(self, dev: "FakeDevice", uuid: str, service_path: str, handle: int,
                 flags: tuple[str, ...]) -> None:
        super().__init__(CHAR_IFACE)
        self._dev = dev
        self.uuid = uuid
        self._props = {"UUID": uuid, "Service": service_path, "Value": b"",
                       "Notifying": False, "Flags": list(flags), "MTU": dev.sim.mtu,
                       "Handle": handle}

    @dbus_method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        """Read the characteristic (SimDevice.on_read)."""
        return self._dev.fake._read(self._dev, self)

    @dbus_method()
    def WriteValue(self, value: DBusBytes, options: DBusDict) -> None:
        """Write to the characteristic; the device's answer arrives as notifications."""
        self._dev.fake._write(self._dev, self, bytes(value))

    @dbus_method()
    def StartNotify(self) -> None:
        """Enable notifications (Value PropertiesChanged)."""
        self._dev.fake._start_notify(self._dev, self)

    @dbus_method()
    def StopNotify(self) -> None:
        """Disable notifications."""
        self.update(Notifying=False)

    @dbus_method()
    def AcquireNotify(self, options: DBusDict) -> DBusFdMtu:
        """A notification socket (only its MTU is meaningful here)."""
        return self._socket_and_mtu()

    @dbus_method()
    def AcquireWrite(self, options: DBusDict) -> DBusFdMtu:
        """A write socket (only its MTU is meaningful here)."""
        return self._socket_and_mtu()

    def _socket_and_mtu(self) -> tuple[int, int]:
        if not self._dev.connected:
            raise DBusError(ERR_NOT_CONNECTED, "Not connected")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.close()
        fd = theirs.detach()
        # dbus-fast dups the descriptor into the message; ours can be closed after sending.
        asyncio.get_running_loop().call_later(1.0, os.close, fd)
        return fd, self._dev.sim.mtu

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self._props["UUID"]

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self._props["Service"]

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self._props["Value"]

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self._props["Notifying"]

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> DBusStrList:
        return self._props["Flags"]

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> DBusUInt16:
        return self._props["MTU"]

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> DBusUInt16:
        return self._props["Handle"]


class FakeDevice:
    """One simulated peripheral as the fake adapter knows it."""

    def __init__(self, fake: "FakeBluez", sim: SimDevice) -> None:
        self.fake = fake
        self.sim = sim
        self.address = sim.address.upper()
        self.path = _dev_path(fake.adapter_path, sim.address)
        self.faults = BusFaults()
        self.iface = DeviceInterface(self)
        self.exported = False
        self.connected = False
        self.pending: asyncio.Future[None] | None = None  # a Connect in flight
        self.gatt: list[tuple[str, ServiceInterface]] = []  # exported GATT objects
        self.chars: dict[str, CharacteristicObject] = {}  # uuid -> characteristic
        self._rssi_toggle = itertools.cycle((0, -1))

    def build_gatt(self) -> None:
        """Export the GATT table (sim.gatt) under the device path."""
        handle = 0x000C
        for service_uuid, chars in self.sim.gatt.items():
            service_path = f"{self.path}/service{handle:04x}"
            service = ServiceObject(service_uuid, self.path, handle)
            self.gatt.append((service_path, service))
            for char_uuid, flags in chars.items():
                handle += 1
                char_path = f"{service_path}/char{handle:04x}"
                char = CharacteristicObject(self, char_uuid, service_path, handle, flags)
                self.gatt.append((char_path, char))
                self.chars[char_uuid] = char
                handle += 1  # the value handle
            handle += 1
        bus = self.fake.bus
        for path, iface in self.gatt:
            bus.export(path, iface)

    def drop_gatt(self) -> None:
        """Unexport the GATT table (deepest objects first)."""
        bus = self.fake.bus
        for path, _iface in reversed(self.gatt):
            bus.unexport(path)
        self.gatt.clear()
        self.chars.clear()


class FakeBluez:
    """The fake BlueZ service: one adapter with simulated devices, on the system bus.

    Connects to DBUS_SYSTEM_BUS_ADDRESS (a fakebluez.PrivateSystemBus in
    tests) and owns the name org.bluez.
    """

    def __init__(self, *, adapter: str = "hci0", adapter_address: str = "00:1A:7D:DA:71:13",
                 timing: Timing | None = None, advertise_every: float = 1.0) -> None:
        self.adapter = adapter
        self.adapter_path = f"/org/bluez/{adapter}"
        self.adapter_address = adapter_address
        self.timing = timing or Timing()
        self.advertise_every = advertise_every
        self.stats = FakeStats()
        self.devices: dict[str, FakeDevice] = {}
        self._by_path: dict[str, FakeDevice] = {}
        self._bus: MessageBus | None = None
        self._adapter_iface: AdapterInterface | None = None
        self._advertiser: asyncio.Handle | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def bus(self) -> MessageBus:
        """The fake's own connection to the bus."""
        assert self._bus is not None, "FakeBluez is not started"
        return self._bus

    async def start(self) -> "FakeBluez":
        """Connect, export the adapter and own org.bluez."""
        self._bus = await MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True).connect()
        self._adapter_iface = AdapterInterface(self, self.adapter_address)
        self._bus.add_message_handler(self._unknown_object)
        self._bus.export(self.adapter_path, self._adapter_iface)
        await self._bus.request_name(BLUEZ_SERVICE)
        return self

    async def stop(self) -> None:
        """Disconnect every device, cancel timers and leave the bus."""
        self._stop_advertising()
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for dev in self.devices.values():
            if dev.pending is not None and not dev.pending.done():
                dev.pending.cancel()
        if self._bus is not None:
            self._bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._bus.wait_for_disconnect(), 2)
            self._bus = None

    def _unknown_object(self, msg: Message) -> Message | None:
        """Calls to removed org.bluez objects get UnknownObject, as from BlueZ."""
        if (msg.message_type != MessageType.METHOD_CALL or not msg.path
                or not msg.path.startswith("/org/bluez/")
                or msg.interface in (None, "org.freedesktop.DBus.Introspectable")):
            return None
        exported = self.bus._path_exports.get(msg.path)
        if exported and (msg.interface == "org.freedesktop.DBus.Properties"
                         or msg.interface in exported):
            return None
        return Message.new_error(
            msg, "org.freedesktop.DBus.Error.UnknownObject",
            f'Method "{msg.member}" with signature "{msg.signature}" on interface '
            f'"{msg.interface}" doesn\'t exist',
        )

    # --- devices ----------------------------------------------------------------------

    def add_device(self, sim: SimDevice) -> FakeDevice:
        """Make a simulated device known to the adapter (InterfacesAdded)."""
        dev = self.devices.get(sim.address.upper())
        if dev is None:
            dev = FakeDevice(self, sim)
            self.devices[dev.address] = dev
            self._by_path[dev.path] = dev
        if not dev.exported:
            self.bus.export(dev.path, dev.iface)
            dev.exported = True
        return dev

    def device(self, address: str) -> FakeDevice:
        """The fake device with this address."""
        return self.devices[address.upper()]

    def ble_device(self, address: str) -> BLEDevice:
        """A BLEDevice like the one bleak's BlueZ scanner reports for the device."""
        dev = self.device(address)
        props = {k: (v.value if isinstance(v, Variant) else v)
                 for k, v in dev.iface._props.items()}
        props["ManufacturerData"] = {k: v.value for k, v in
                                     dev.iface._props["ManufacturerData"].items()}
        return BLEDevice(dev.address, dev.sim.name, {"path": dev.path, "props": props})

    def remove_device(self, address: str, *, silently: bool | None = None) -> None:
        """Remove the device object (InterfacesRemoved), dropping its link first.

        With silently=True the Connected=False signal is skipped, as BlueZ
        sometimes does (bleak's manager races InterfacesRemoved for this reason).
        """
        dev = self.device(address)
        if silently is None:
            silently = dev.faults.remove_silently
        if dev.connected:
            self._drop_link(dev, announce=not silently)
        if dev.pending is not None and not dev.pending.done():
            dev.pending.set_exception(DBusError(ERR_FAILED, "Device removed"))
        if dev.exported:
            self.bus.unexport(dev.path)
            dev.exported = False
            self.stats.removals += 1
            # BlueZ makes a fresh object when the device is seen again.
            dev.iface = DeviceInterface(dev)
            dev.iface._props["RSSI"] = dev.sim.rssi

    def restore_device(self, address: str) -> None:
        """The removed device advertises again (InterfacesAdded)."""
        self.add_device(self.device(address).sim)

    # --- advertising ------------------------------------------------------------------

    def _start_advertising(self) -> None:
        if self._advertiser is None and self.advertise_every > 0:
            self._advertiser = asyncio.get_running_loop().call_soon(self._advertise)

    def _stop_advertising(self) -> None:
        if self._advertiser is not None:
            self._advertiser.cancel()
            self._advertiser = None

    def _advertise(self) -> None:
        """Every device in range changes its RSSI a little: an advertisement."""
        for dev in self.devices.values():
            if dev.exported and not dev.sim.faults.out_of_range:
                dev.iface.update(RSSI=dev.sim.rssi + next(dev._rssi_toggle))
        self._advertiser = asyncio.get_running_loop().call_later(
            self.advertise_every, self._advertise
        )

    def advertise_now(self) -> None:
        """Send one round of advertisements at once."""
        for dev in self.devices.values():
            if dev.exported and not dev.sim.faults.out_of_range:
                dev.iface.update(RSSI=dev.sim.rssi + next(dev._rssi_toggle))

    # --- links ------------------------------------------------------------------------

    def _later(self, delay: float, fn: Any, *args: Any) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def run() -> None:
            self._timers.discard(handle)
            fn(*args)

        handle = loop.call_later(delay, run)
        self._timers.add(handle)

    async def _connect(self, dev: "FakeDevice") -> None:
        self.stats.connect_calls += 1
        faults, sim = dev.faults, dev.sim
        if not dev.exported:
            raise DBusError("org.freedesktop.DBus.Error.UnknownObject", "Device removed")
        if dev.connected:
            return
        if dev.pending is not None and not dev.pending.done():
            raise DBusError(ERR_IN_PROGRESS, "In Progress")
        if faults.take("connect_in_progress"):
            self.stats.fired("connect_in_progress")
            raise DBusError(ERR_IN_PROGRESS, "In Progress")
        if faults.take("connect_abort"):
            self.stats.fired("connect_abort")
            # BlueZ really connected: Connected flips True, then False.
            dev.iface.update(Connected=True)
            dev.iface.update(Connected=False)
            raise DBusError(ERR_FAILED, ABORT_BY_LOCAL)
        if sim.faults.refuse_connect or sim.faults.held_by_phone or sim.faults.out_of_range:
            self.stats.fired("sim_refuse")
            raise DBusError(ERR_FAILED, ABORT_BY_LOCAL if sim.faults.refuse_connect
                            else "Software caused connection abort")
        loop = asyncio.get_running_loop()
        dev.pending = pending = loop.create_future()
        hang = faults.take("connect_hang")
        if hang:
            self.stats.fired("connect_hang")
            delay = self.timing.hang_limit
        else:
            delay = self.timing.connect + sim.faults.connect_delay
        try:
            async with asyncio.timeout(delay):
                await pending  # resolved by Disconnect (cancel) or device removal
        except TimeoutError:
            if hang:
                raise DBusError(ERR_FAILED, "Timeout was reached") from None
        finally:
            dev.pending = None
        if not dev.exported:
            raise DBusError(ERR_FAILED, "Device removed")
        dev.connected = True
        self.stats.connects += 1
        sim.centrals.add(self)
        dev.iface.update(Connected=True)
        never = faults.take("services_never_resolve")
        if never:
            self.stats.fired("services_never_resolve")
        self._later(self.timing.resolve, self._resolve_services, dev, never)

    def _resolve_services(self, dev: "FakeDevice", never: bool) -> None:
        if not dev.connected or dev.gatt:
            return
        dev.build_gatt()
        if not never:
            dev.iface.update(ServicesResolved=True)

    def _disconnect(self, dev: "FakeDevice") -> None:
        self.stats.disconnect_calls += 1
        if dev.pending is not None and not dev.pending.done():
            dev.pending.set_exception(DBusError(ERR_FAILED, "Operation was cancelled"))
            return
        if not dev.connected:
            raise DBusError(ERR_NOT_CONNECTED, "Not Connected")
        self._drop_link(dev)

    def _drop_link(self, dev: "FakeDevice", *, announce: bool = True) -> None:
        """The link is gone: ServicesResolved/Connected False, GATT objects removed."""
        if not dev.connected:
            return
        dev.connected = False
        dev.sim.centrals.discard(self)
        self.stats.link_drops += 1
        if announce:
            dev.iface.update(ServicesResolved=False, Connected=False)
        else:
            dev.iface._props.update(ServicesResolved=False, Connected=False)
        dev.drop_gatt()

    def _io_faults(self, dev: "FakeDevice") -> None:
        if not dev.connected:
            raise DBusError(ERR_FAILED, "Not connected")
        if dev.faults.take("disconnect_during_io"):
            self.stats.fired("disconnect_during_io")
            self._drop_link(dev)
            raise DBusError(ERR_FAILED, "Not connected")
        if dev.faults.take("remove_during_io"):
            self.stats.fired("remove_during_io")
            self.remove_device(dev.address)
            raise DBusError(ERR_FAILED, "Not connected")

    def _read(self, dev: "FakeDevice", char: CharacteristicObject) -> bytes:
        self._io_faults(dev)
        self.stats.reads += 1
        value = dev.sim.on_read(char.uuid)
        if dev.sim.faults.truncate and value:
            value = value[:-1]
        char._props["Value"] = value
        return value

    def _write(self, dev: "FakeDevice", char: CharacteristicObject, data: bytes) -> None:
        self._io_faults(dev)
        self.stats.writes += 1
        frames = dev.sim.respond(char.uuid, data)
        notify_uuid = dev.sim.notify_uuid
        if not frames or notify_uuid is None or notify_uuid not in dev.chars:
            return
        size = max(1, dev.sim.mtu - 3)
        chunks = [f[i:i + size] for f in frames for i in range(0, len(f), size)]
        drop = dev.sim.faults.drop_mid_response
        self._later(self.timing.round_trip, self._notify, dev, dev.chars[notify_uuid],
                    chunks, drop)

    def _notify(self, dev: "FakeDevice", char: CharacteristicObject, chunks: list[bytes],
                drop_after_first: bool) -> None:
        for i, chunk in enumerate(chunks):
            if not dev.connected or dev.chars.get(char.uuid) is not char:
                return
            if char._props["Notifying"]:
                # Value changes on every notification, even when equal bytes repeat.
                char._props["Value"] = None
                char.update(Value=chunk)
                self.stats.notifications += 1
            if drop_after_first and i == 0:
                self._drop_link(dev)
                return

    def _start_notify(self, dev: "FakeDevice", char: CharacteristicObject) -> None:
        if not dev.connected:
            raise DBusError(ERR_FAILED, "Not connected")
        if dev.faults.take("start_notify_fail"):
            self.stats.fired("start_notify_fail")
            raise DBusError(ERR_FAILED, "Operation failed with ATT error: 0x0e")
        if "notify" not in char._props["Flags"] and "indicate" not in char._props["Flags"]:
            raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")
        char.update(Notifying=True)
