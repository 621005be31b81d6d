"""Volta myVolta CAN-BLE adapter (service 00035b03-…-0300, notify …0301, no requests).

Streams the BMS's CAN messages once a second, each framed ``55 55 <body> 04 04``
with 0x04/0x05 escaped as ``05 <byte>``: a 0x83 status frame, metrics (0x00),
faults (0x01), cell voltages (0x11-0x14) and temperatures (0x21-0x29).
"""

from __future__ import annotations

from ..devices import NOTIFY, SimDevice
from ..framing import u
from ..model import BatteryModel

SERVICE = "00035b03-58e6-07dd-021a-08123a000300"
CHAR = "00035b03-58e6-07dd-021a-08123a000301"
NO_SENSOR = b"\x00\x80" * 4
COLD = b"\xdc\xfd" * 4


def stuffed(body: bytes) -> bytes:
    """A framed, byte-stuffed message."""
    out = bytearray(b"\x55\x55")
    for b in body:
        out += bytes((0x05, b)) if b in (0x04, 0x05) else bytes((b,))
    return bytes(out + b"\x04\x04")


def can(msg_type: int, data: bytes) -> bytes:
    """A CAN message of pack 2 with its checksum, framed."""
    body = bytes((0x01, msg_type, 0x02, 0, 0, 0, 0x08)) + data
    return stuffed(body + bytes((0xFF ^ (sum(body[1:]) & 0xFF),)))


class MyVoltaDevice(SimDevice):
    """A 14-cell pack behind a myVolta adapter."""

    family = "myvolta"
    local_name = "VPS-197B"
    service_uuids = (SERVICE,)
    gatt = {SERVICE: {CHAR: NOTIFY}}
    notify_uuid = CHAR
    mtu = 23
    stream_period = 1.0

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=14, capacity_ah=100.0, soc=0.94, current=-0.56,
                            temperatures=[17.1 + 0.1 * i for i in range(12)])

    def stream_frames(self) -> list[bytes]:
        m = self.model
        m.step()
        cells = [round(v * 1000) for v in m.cell_voltages] + [0] * (16 - m.cells)
        temps = [round(t * 10) for t in m.temperatures[:12]]
        temps += [temps[-1]] * (12 - len(temps))
        frames = [stuffed(bytes.fromhex("8300080174")),
                  can(0x00, u(m.voltage * 1000, 2, "little") + u(m.current * 100, 2, "little", signed=True)
                      + u(m.voltage * 1000, 2, "little") + u(m.soc * 1000, 2, "little")),
                  can(0x01, bytes.fromhex("030000170000" "63e0"))]
        frames += [can(0x11 + i, b"".join(u(c, 2, "little") for c in cells[4 * i : 4 * i + 4]))
                   for i in range(4)]
        frames += [can(0x21, NO_SENSOR), can(0x22, NO_SENSOR)]
        frames += [can(0x24 + i, b"".join(u(t, 2, "little", signed=True) for t in temps[4 * i : 4 * i + 4]))
                   for i in range(3)]
        frames += [can(t, COLD) for t in (0x27, 0x28, 0x29)]
        return [b"".join(frames)]

    def corrupt_frame(self, frame: bytes) -> bytes:
        # the checksum of the metrics frame (the byte before its end marker)
        start = frame.index(b"\x55\x55\x01\x00")
        end = frame.index(b"\x04\x04", start + 4)
        bad = frame[end - 1] ^ 0x5A
        bad = bad ^ 0x33 if bad in (0x04, 0x05, 0x55) else bad
        return frame[: end - 1] + bytes((bad,)) + frame[end:]
