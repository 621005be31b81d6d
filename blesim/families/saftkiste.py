"""Saftkiste BMS (Nordic UART service 6e400001-…, notify …0003, write …0002).

Answers ``F0 FF 43 …`` with the 107-byte table reply (49 values) and ``F0 FF 02`` with
the 47-byte status; each reply ends with the low byte of its CRC-32.
"""

from __future__ import annotations

import zlib

from ..devices import NOTIFY, WRITE, SimDevice
from ..framing import u
from ..model import BatteryModel

SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


def checked(body: bytes) -> bytes:
    """A reply with its check byte."""
    return body + bytes((zlib.crc32(body) & 0xFF,))


class SaftkisteDevice(SimDevice):
    """A 4S 300 Ah Saftkiste pack."""

    family = "saftkiste"
    local_name = "3000SARKYA"
    # the real module also sends company 89 (Nordic), which HA's switchbot integration claims
    manufacturer_data = {4660: bytes.fromhex("0102030405060708")}
    gatt = {SERVICE: {RX: WRITE, TX: NOTIFY}}
    notify_uuid = TX
    mtu = 247

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, capacity_ah=300.0, soc=0.99, current=-0.11,
                            temperatures=[6.9, 7.7])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != RX or not data.startswith(b"\xf0\xff") or len(data) < 3:
            return []
        if data[2] == 0x43:
            table = b"".join(u(9071 - 72 * i, 2, "little") for i in range(49))
            return [checked(data[:8] + table)]
        if data[2] != 0x02:
            return []
        m = self.model
        m.step()
        body = (b"\xf0\xff\x02" + u(m.capacity_ah * 1000, 4, "little")
                + u(m.remaining_ah * 1000, 4, "little") + u(m.capacity_ah, 2, "little")
                + u(m.voltage * 1000, 2, "little") + u(m.current * 100, 2, "little", signed=True)
                + b"".join(u(v * 1000, 2, "little") for v in m.cell_voltages[:4])
                + u(m.cycles, 2, "little")
                + b"".join(u(t * 100, 2, "little", signed=True) for t in m.temperatures[:2])
                + bytes((0, 1, int(m.balancing), 0, 0)) + b"\x04\x0e"  # heater, ?, balancer
                + bytes(2) + bytes.fromhex("000300030100"))  # problem word, then unknown bytes
        return [checked(body)]

    def corrupt_frame(self, frame: bytes) -> bytes:
        return frame[:-1] + bytes((frame[-1] ^ 0x5A,))
