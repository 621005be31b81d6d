"""Simulated devices: the device side of each protocol on a time-varying model."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

SIG = "0000{:04x}-0000-1000-8000-00805f9b34fb"


def uuid16(short: int) -> str:
    """128-bit form of a 16-bit UUID."""
    return SIG.format(short)


@dataclass
class Faults:
    """Faults a test can switch on for one device."""

    refuse_connect: bool = False  # connect fails at once
    connect_delay: float = 0.0  # extra seconds before a connect completes
    no_answer: bool = False  # requests are swallowed
    corrupt: bool = False  # responses get a wrong checksum
    truncate: bool = False  # responses lose their last byte
    drop_mid_response: bool = False  # the link drops after the first notification
    out_of_range: bool = False  # no advertisements, connects fail "not found"
    held_by_phone: bool = False  # the vendor's app holds the only connection


@dataclass
class BatteryModel:
    """A battery whose charge follows its current over (simulated) time."""

    cells: int = 4
    capacity_ah: float = 100.0
    soc: float = 0.8
    current: float = -2.5  # A, + = charging
    temperatures: list[float] = field(default_factory=lambda: [24.5, 25.1])
    cycles: int = 12
    clock: callable = time.monotonic  # type: ignore[valid-type]
    _last: float | None = None

    def step(self) -> None:
        """Advance the model to the current time."""
        now = self.clock()
        if self._last is not None:
            dt_h = (now - self._last) / 3600
            self.soc = min(1.0, max(0.0, self.soc + self.current * dt_h / self.capacity_ah))
        self._last = now

    @property
    def cell_voltages(self) -> list[float]:
        base = 3.0 + 0.4 * self.soc
        return [round(base + 0.003 * ((i * 7) % 5 - 2), 3) for i in range(self.cells)]

    @property
    def voltage(self) -> float:
        return round(sum(self.cell_voltages), 2)


class SimDevice:
    """Base of a simulated peripheral: advertisement, GATT table and protocol handler."""

    family = ""
    local_name = "SIM"
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: dict[int, bytes] = {}
    gatt: dict[str, dict[str, tuple[str, ...]]] = {}
    notify_uuid: str | None = None
    mtu = 23

    def __init__(self, address: str, name: str | None = None, *, rssi: int = -60,
                 model: BatteryModel | None = None) -> None:
        self.address = address
        self.name = name or self.local_name
        self.rssi = rssi
        self.model = model or BatteryModel()
        self.faults = Faults()
        self.requests_seen: list[bytes] = []
        self.centrals: set[object] = set()  # clients connected right now (any proxy)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        """Whole response frames to a write (chunked by the transport)."""
        return []

    def on_read(self, char_uuid: str) -> bytes:
        """Value of a characteristic read."""
        return b""

    def respond(self, char_uuid: str, data: bytes) -> list[bytes]:
        """on_write with the device's faults applied."""
        self.requests_seen.append(bytes(data))
        if self.faults.no_answer:
            return []
        frames = self.on_write(char_uuid, data)
        return [self._damage(f) for f in frames]

    def _damage(self, frame: bytes) -> bytes:
        if self.faults.corrupt and len(frame) > 3:
            frame = frame[:-3] + bytes([frame[-3] ^ 0x5A]) + frame[-2:]
        if self.faults.truncate:
            frame = frame[:-1]
        return frame


class BatteryServiceDevice(SimDevice):
    """A device with the standard Battery Service: Battery Level is read."""

    family = "ble_battery_service"
    local_name = "SIM Battery"
    service_uuids = (uuid16(0x180F),)
    gatt = {uuid16(0x180F): {uuid16(0x2A19): ("read", "notify")}}

    def on_read(self, char_uuid: str) -> bytes:
        if char_uuid != uuid16(0x2A19):
            return b""
        self.model.step()
        level = bytes([round(self.model.soc * 100)])
        return self._damage(level) if self.faults.truncate else level


class JbdDevice(SimDevice):
    """JBD / Xiaoxiang BMS: answers 0x03 basic info and 0x04 cell voltages."""

    family = "jbd"
    local_name = "SIM-JBD-SP04S"
    service_uuids = (uuid16(0xFF00),)
    manufacturer_data = {0x9A02: bytes.fromhex("2837c2a5")}
    gatt = {uuid16(0xFF00): {uuid16(0xFF01): ("notify",),
                             uuid16(0xFF02): ("write", "write-without-response")}}
    notify_uuid = uuid16(0xFF01)

    @staticmethod
    def _frame(cmd: int, data: bytes) -> bytes:
        body = bytes((0x00, len(data))) + data
        chk = (0x10000 - sum(body)) & 0xFFFF
        return bytes((0xDD, cmd)) + body + chk.to_bytes(2, "big") + b"\x77"

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFF02) or len(data) != 7 or data[:2] != b"\xdd\xa5":
            return []
        m = self.model
        m.step()
        if data[2] == 0x03:
            ntc = b"".join((round(t * 10) + 2731).to_bytes(2, "big") for t in m.temperatures)
            payload = (
                round(m.voltage * 100).to_bytes(2, "big")
                + round(m.current * 100).to_bytes(2, "big", signed=True)
                + round(m.soc * m.capacity_ah * 100).to_bytes(2, "big")
                + round(m.capacity_ah * 100).to_bytes(2, "big")
                + m.cycles.to_bytes(2, "big")
                + b"\x2c\x7c"  # production date
                + b"\x00\x00\x00\x00"  # balance bits
                + b"\x00\x00"  # protection bits
                + b"\x80"  # software version
                + bytes((round(m.soc * 100), 0x03, m.cells, len(m.temperatures)))
                + ntc
            )
            return [self._frame(0x03, payload)]
        if data[2] == 0x04:
            cells = b"".join(round(v * 1000).to_bytes(2, "big") for v in m.cell_voltages)
            return [self._frame(0x04, cells)]
        return [bytes((0xDD, data[2], 0x80, 0x00, 0xFF, 0x80, 0x77))]
