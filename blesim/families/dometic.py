"""Dometic / Büttner battery module (company 2117; channel A write …0001, notify …0002).

Answers ``APP+AEN`` with ``MST+AEN``, ``APP+NET`` with ``MST+NET=`` and 11
bytes, and ``APP+RDN=1`` with ``MST+DCO=`` followed by one battery's 8-byte
``23 85`` frames (voltage and current, design capacity, SOC, temperature,
SOH, stored energy, cells).
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import u
from ..model import BatteryModel

BASE = "0000{:04x}-0000-1000-8000-008025000000"
NET = bytes.fromhex("858f0105000804030205" "01")


def frame(index: int, data: bytes, battery: int = 0) -> bytes:
    """One 8-byte data frame."""
    return b"\x23\x85" + bytes((battery, index)) + data.ljust(4, b"\xff")


class DometicDevice(SimDevice):
    """A Büttner 150 Ah battery."""

    family = "dometic"
    local_name = "KAA_500219_TLB150"
    service_uuids = (uuid16(0xFEFB),)
    manufacturer_data = {2117: bytes.fromhex("1485")}
    gatt = {uuid16(0xFEFB): {BASE.format(1): WRITE, BASE.format(2): NOTIFY,
                             BASE.format(3): WRITE, BASE.format(4): NOTIFY,
                             BASE.format(9): WRITE, BASE.format(10): NOTIFY}}
    notify_uuid = BASE.format(2)
    mtu = 23

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, capacity_ah=150.0, soc=0.92, current=-2.74,
                            temperatures=[14.0])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != BASE.format(1):
            return []
        if data == b"APP+AEN":
            return [b"MST+AEN"]
        if data == b"APP+NET":
            return [b"MST+NET=" + NET]
        if data != b"APP+RDN=1":
            return []
        m = self.model
        m.step()
        current = round(m.current * 100)
        raw = current if current >= 0 else 0x7FFF - current
        cells = [u(v * 1000, 2) for v in m.cell_voltages[:4]]
        return [b'MST+DCO=\x11"3@',
                frame(0x02, u(m.voltage * 100, 2) + u(raw, 2)),
                frame(0x07, u(m.capacity_ah, 4)),
                frame(0x0B, bytes((round(m.soc * 100),))),
                frame(0x0C, u(m.temperatures[0] * 10 + 500, 2)),
                frame(0x0E, bytes((round(m.health),))),
                frame(0x36, u(m.remaining_ah * m.voltage, 2)),
                frame(0x56, cells[0] + cells[1]),
                frame(0x57, cells[2] + cells[3])]

    def corrupt_frame(self, frame: bytes) -> bytes:
        # no checksum: a damaged cell frame reads an impossible cell voltage
        if frame.startswith(b"\x23\x85") and frame[3] == 0x56:
            return frame[:4] + b"\xff\xff" + frame[6:]
        return frame
