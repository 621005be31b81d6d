"""NEEY BMS v2 / Heltec active balancer (service 0xFFE0, char 0xFFE1 for writes and notifications).

Answers ``AA 55 11 01 <type> ...`` with ``55 AA 11 01 <type> 00 <length LE16> ... <sum8> FF``:
0x01 device info (100 bytes), 0x02 cell info (300 bytes, little-endian floats).
By default a NEEY BMS v2 (model "EK-B…": current, capacity, SOC); variant "v1"
is a GW- balancer (voltages, balancing and two probes only).
"""

from __future__ import annotations

import struct

from ..devices import SimDevice, uuid16
from ..framing import sum8


def frame(kind: int, body: bytes) -> bytes:
    """A response frame; body holds bytes 8 .. length-3."""
    length = len(body) + 10
    data = b"\x55\xaa\x11\x01" + bytes((kind, 0x00)) + length.to_bytes(2, "little") + body
    return data + bytes((sum8(data), 0xFF))


def put(buffer: bytearray, offset: int, value: float) -> None:
    """A little-endian float at a frame offset."""
    buffer[offset - 8 : offset - 4] = struct.pack("<f", value)


class NeeyDevice(SimDevice):
    """NEEY BMS v2 (or, variant "v1", a GW- active balancer)."""

    family = "neey"
    local_name = "EK-B24S8E200A"
    service_uuids = (uuid16(0xFFE0), uuid16(0xFEE7))
    gatt = {uuid16(0xFFE0): {uuid16(0xFFE1): ("write", "write-without-response", "notify")}}
    notify_uuid = uuid16(0xFFE1)
    mtu = 32

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFE1) or len(data) != 20 or data[:4] != b"\xaa\x55\x11\x01":
            return []
        m = self.model
        m.step()
        v1 = self.variant == "v1"
        if data[4] == 0x01:
            model = b"GW-24S4EB" if v1 else b"EK-B24S8E200A"
            info = model.ljust(16, b"\x00") + b"HW-2.0.0" + b"SW-2.0.0" + b"V1.3.36\x00"
            return [frame(0x01, info.ljust(90, b"\x00"))]
        if data[4] != 0x02:
            return []
        body = bytearray(290)
        cells = m.cell_voltages
        for i, v in enumerate(cells[:24]):
            put(body, 9 + 4 * i, v)
        put(body, 201, m.voltage)
        put(body, 209, m.delta)
        body[216 - 8] = 5 if m.balancing else 0
        if v1:
            for i in range(2):
                put(body, 221 + 4 * i, m.temperatures[i % len(m.temperatures)])
        else:
            put(body, 222, m.current)
            probes = [*m.temperatures, m.ambient, m.temperatures[0] + 3.0][:4]
            for i, t in enumerate(probes):
                put(body, 226 + 4 * i, t)
            put(body, 242, m.capacity_ah)
            put(body, 246, m.remaining_ah)
            put(body, 250, m.soc * 100)
        return [frame(0x02, bytes(body))]
