"""Greenway BMS (service 0xFFF0, characteristic 0xFFF1 for writes and notifications).

Answers ``46 16 01 <type> <len> <sum8>`` with ``47 16 01 <type> <len> <data LE> <sum8>``.
"""

from __future__ import annotations

from typing import Any

from ..devices import SimDevice, uuid16
from ..framing import sum8, u
from ..model import BatteryModel

CHAR = uuid16(0xFFF1)


def frame(message: int, data: bytes) -> bytes:
    """A Greenway response frame."""
    body = b"\x47\x16\x01" + bytes((message, len(data))) + data
    return body + bytes((sum8(body),))


class GreenwayDevice(SimDevice):
    """A 20-cell Greenway pack (Talaria motorcycle battery)."""

    family = "greenway"
    local_name = "56C00253A00037"
    default_address = "C4:A9:B8:12:00:37"  # discovery needs the module vendor's prefix
    service_uuids = (uuid16(0xFFF0),)
    gatt = {uuid16(0xFFF0): {CHAR: ("read", "write", "write-without-response", "notify")}}
    notify_uuid = CHAR

    def default_model(self) -> Any:
        return BatteryModel(cells=20, capacity_ah=38.0)

    def data(self, message: int) -> bytes | None:
        """Data of one message type, None for a type this device does not know."""
        m = self.model
        le = "little"
        if message == 0x08:
            probes = [*m.temperatures, m.ambient, m.ambient, m.ambient, m.ambient, m.ambient][:7]
            return b"".join(u(t, 1, le, signed=True) for t in probes).ljust(32, b"\x00")
        values = {
            0x09: u(m.voltage * 1000, 4, le),
            0x0A: u(m.current * 1000, 4, le, signed=True),
            0x0D: u(m.soc * 100, 4, le),
            0x0E: u(m.health, 4, le),
            0x0F: u(m.remaining_ah * 1000, 4, le),
            0x16: bytes(16),
            0x17: u(m.cycles, 4, le),
            0x18: u(m.capacity_ah * 1000, 4, le),
            0x1A: bytes((63, 3, 3, 0)) + b"UD01",
            0x21: b"DM3372008".ljust(32, b"\x00"),
            0x23: self.name.encode()[:32].ljust(32, b"\x00"),
        }
        if message in (0x24, 0x25):
            cells = m.cell_voltages[:16] if message == 0x24 else m.cell_voltages[16:32]
            return b"".join(u(v * 1000, 2, le) for v in cells).ljust(32, b"\x00")
        return values.get(message)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != CHAR or len(data) != 6 or data[:3] != b"\x46\x16\x01":
            return []
        if sum8(data[:-1]) != data[-1]:
            return []
        self.model.step()
        payload = self.data(data[3])
        return [] if payload is None else [frame(data[3], payload)]
