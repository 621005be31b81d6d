"""Topband BMS (Ective, KiloVault, StartCraft): service 0xFFE0, notify 0xFFE4, no requests.

Once notifications are enabled the BMS streams, once a second, a start byte
(0x5E for Ective) and 112 ASCII-hex characters (56 little-endian bytes, the
last two a 16-bit sum), followed by filler, in 32-byte notifications.
"""

from __future__ import annotations

from ..devices import NOTIFY, SimDevice, uuid16
from ..framing import sum16, u

FILLER = b"\x11" * 8


class TopbandDevice(SimDevice):
    """Topband / Ective BMS streaming its status."""

    family = "topband"
    local_name = "NWJ20221223010388"
    service_uuids = (uuid16(0xFFE0),)
    # company 0x0000 as on ZM/NWJ boards; 0xFFFF (also seen) is claimed by HA's kegtron too
    manufacturer_data = {0x0000: bytes.fromhex("fc45c3bcd6a8")}
    gatt = {
        uuid16(0xFFE0): {uuid16(0xFFE4): NOTIFY},
        uuid16(0xFFE5): {uuid16(0xFFE9): ("write", "write-without-response")},
    }
    notify_uuid = uuid16(0xFFE4)
    mtu = 35
    stream_period = 1.0
    start_byte = 0x5E

    def stream_frames(self) -> list[bytes]:
        self.model.step()
        m = self.model
        data = bytearray(56)
        data[0:4] = u(m.voltage * 1000, 4, "little")
        data[4:8] = u(m.current * 1000, 4, "little", signed=True)
        data[8:12] = u(m.remaining_ah * 1000, 4, "little")
        data[12:14] = u(m.cycles, 2, "little")
        data[14:16] = u(m.soc * 100, 2, "little")
        data[16:18] = u(m.temperatures[0] * 10 + 2731.5, 2, "little")
        for i, v in enumerate(m.cell_voltages[:16]):
            data[22 + 2 * i : 24 + 2 * i] = u(v * 1000, 2, "little")
        data[54:56] = u(sum16(bytes(data[:54])), 2)
        return [bytes((self.start_byte,)) + bytes(data).hex().upper().encode() + FILLER]

    def corrupt_frame(self, frame: bytes) -> bytes:
        # change one hex digit of the checksum into another hex digit
        pos = 1 + 2 * 54
        digit = b"0" if frame[pos : pos + 1] != b"0" else b"1"
        return frame[:pos] + digit + frame[pos + 1 :]
