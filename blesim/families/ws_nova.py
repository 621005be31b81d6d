"""Wattstunde Nova Core (service 0xFFF0, characteristic 0xFFF1): XOR-keyed hex frames ``:…~``.

Answers ``:015150000EFE~`` with the status frame (decoded type 01 54, 118 bytes
in 236 hex digits); the fourth byte carries the key, which changes per frame.
"""

from __future__ import annotations

from typing import Any

from ..devices import SimDevice, uuid16
from ..framing import sum8, u
from ..model import BatteryModel

CHAR = uuid16(0xFFF1)


class WsNovaDevice(SimDevice):
    """A 4-cell 200 Ah Nova Core pack."""

    family = "ws_nova"
    local_name = "Power-1"
    default_address = "60:6E:41:12:34:56"  # discovery needs the module's prefix
    service_uuids = (uuid16(0xFFF0),)
    manufacturer_data = {0x6E60: bytes.fromhex("41123456")}
    gatt = {uuid16(0xFFF0): {CHAR: ("read", "write", "write-without-response", "notify")}}
    notify_uuid = CHAR
    _key = 0x20

    def default_model(self) -> Any:
        return BatteryModel(capacity_ah=200.0)

    def status(self) -> bytes:
        """The decoded status bytes (key byte 0, checksum byte last)."""
        m = self.model
        data = bytearray(118)
        data[0:12] = bytes.fromhex("015401 00 ec 0001026918a0e1".replace(" ", ""))
        for i, v in enumerate(m.cell_voltages[:16]):
            data[12 + 2 * i : 14 + 2 * i] = u(v * 1000, 2)
        data[44:46] = b"\xf0\x02"  # high and low bits are no alarms
        probes = [*m.temperatures, m.ambient, m.ambient][:4]
        data[48:52] = b"".join(u(t + 40, 1) for t in probes)
        data[52:54] = b"\x10\xc8"
        data[54:58] = u(abs(m.current) * 1000 + (1 << 31 if m.current < 0 else 0), 4)
        data[58:62] = b"\x7f\xff\xff\xff"
        data[62:64] = u(m.voltage * 1000, 2)
        data[67:69] = u(m.cycles, 2)
        data[69] = round(m.soc * 100)
        data[70:74] = u(m.capacity_ah * 1000, 4)
        data[74:78] = u(m.remaining_ah * 1000, 4)
        data[78:82] = u(m.capacity_ah * 1000, 4)
        data[86:88] = b"\x02\x06"
        data[88:104] = b"WSN5500724211093"
        data[117] = sum8(bytes(data[:117]))  # the real algorithm is unknown
        return bytes(data)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != CHAR or data != b":015150000EFE~":
            return []
        self.model.step()
        self._key = (self._key + 0x11) & 0xFF
        encoded = bytes(b ^ self._key for b in self.status())
        return [b":" + encoded.hex().upper().encode() + b"~"]

    def corrupt_frame(self, frame: bytes) -> bytes:
        # no checksum to break: a damaged frame shows a character that is no hex digit
        return frame[:20] + b"G" + frame[21:]
