"""E&J Technology BMS (Nordic UART service; Lithtech, Supervolt v1, Elektronicx ...).

Answers the ASCII requests ``:000250000E03~`` (real-time data) and
``:001031000E05~`` (capacity) with ``:`` + hex + ``~`` frames whose length
field counts the frame's characters and whose checksum is the ASCII
character sum XOR 0xFF. Like the real Bluetooth module, it sends ``AT\\r\\n``
before the first answer on a link.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice
from ..framing import u

SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


def ascii_frame(cmd: int, version: int, data: bytes) -> bytes:
    """A response frame: address 0, command | 0x80, data; length and checksum filled in."""
    chars = 1 + 2 * (5 + len(data) + 1) + 1
    body = (bytes((0x00, cmd | 0x80, version)) + chars.to_bytes(2, "big") + data).hex().upper()
    check = (sum(body.encode()) % 256) ^ 0xFF
    return f":{body}{check:02X}~".encode()


class EjDevice(SimDevice):
    """Lithtech 12 V LiFePO4 battery with an E&J BMS (two-frame firmware)."""

    family = "ej"
    local_name = "LT-12V-1544"
    service_uuids = (SERVICE,)
    manufacturer_data = {33384: bytes.fromhex("0102000781b54e")}
    gatt = {SERVICE: {RX: WRITE, TX: NOTIFY}}
    notify_uuid = TX
    _greeted = False

    def on_connect(self) -> None:
        self._greeted = False

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != RX or len(data) < 5 or data[:1] != b":":
            return []
        m = self.model
        m.step()
        greeting = [] if self._greeted else [b"AT\r\n"]
        self._greeted = True
        if data[3:5] == b"02":
            cells = b"".join(u(v * 1000, 2) for v in m.cell_voltages[:16]).ljust(32, b"\0")
            fets = 0x1000 * (m.soc > 0.0) | 0x2000 * (m.soc < 1.0)
            payload = (
                bytes(7)
                + cells
                + u(max(m.current, 0) * 100, 2)
                + u(max(-m.current, 0) * 100, 2)
                + b"".join(u(t + 40, 1) for t in (m.temperatures + [0.0] * 4)[:4])
                + u(fets, 2)
                + b"\x00"  # heater
                + u(0x0005 if m.balancing else 0, 2)
                + u(m.cycles, 2)
                + b"\x00\x00"
                + u(m.soc * 100, 1)
            )
            return [*greeting, ascii_frame(0x02, 0x31, payload)]
        if data[3:5] == b"10":
            payload = bytes(2) + u(m.remaining_ah * 10, 2) + u(0, 2) + u(m.capacity_ah * 10, 2)
            return [*greeting, ascii_frame(0x10, 0x31, payload)]
        return []
