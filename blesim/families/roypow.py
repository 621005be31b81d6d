"""RoyPow / Epoch / Lion Energy BMS (service 0xFFE0, char 0xFFE1 for writes and notifications).

Answers ``EA D1 01 04 FF <cmd> <xor> F5`` with ``EA D1 01 <len> FF <cmd> <data> <xor> F5``
(0x02 cells, 0x03 status, 0x04 summary); like the real BLE module it sends an
``AT+STAT\\r\\n`` line of its own before each response.
"""

from __future__ import annotations

from ..devices import SimDevice, uuid16
from ..framing import u

HEAD = b"\xea\xd1\x01"
MODULE_LINE = b"AT+STAT\r\n"


def frame(cmd: int, data: bytes) -> bytes:
    """A RoyPow response frame."""
    body = bytes((len(data) + 4, 0xFF, cmd)) + data
    check = 0
    for byte in body:
        check ^= byte
    return HEAD + body + bytes((check, 0xF5))


class RoyPowDevice(SimDevice):
    """RoyPow BMS answering cells (0x02), status (0x03) and summary (0x04) requests."""

    family = "roypow"
    local_name = " B12100A 220600016 "
    service_uuids = (uuid16(0xFFE0), uuid16(0xFEE7))
    manufacturer_data = {0x01A8: bytes.fromhex("88a0126c143922b8")}
    gatt = {uuid16(0xFFE0): {uuid16(0xFFE1): ("write", "write-without-response", "notify")}}
    notify_uuid = uuid16(0xFFE1)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFE1) or len(data) != 8 or not data.startswith(HEAD):
            return []
        m = self.model
        m.step()
        cmd = data[5]
        if cmd == 0x02:
            payload = bytes((m.cells,) * 3) + b"".join(u(v * 1000, 2) for v in m.cell_voltages)
        elif cmd == 0x03:
            status = bytearray(20)
            status[0] = 0x32 | (m.current < 0)
            status[1:3] = u(abs(m.current) * 100, 2)
            status[7] = len(m.temperatures)
            for i, t in enumerate(m.temperatures):
                status[8 + i] = round(t) + 40
            status[18] = 0x04 * (m.soc < 1.0) | 0x02 * (m.soc > 0.0)
            payload = bytes(status)
        elif cmd == 0x04:
            design, charge = round(m.capacity_ah * 1000), round(m.remaining_ah * 1000)
            runtime = round(m.remaining_ah / -m.current * 60) if m.current < 0 else 0xFFFF
            payload = (
                bytes((0x01, round(m.soc * 100), 0x02)) + u(m.cycles, 2)
                + b"\x03" + u(design >> 16, 2) + b"\x04" + u(design & 0xFFFF, 2)
                + b"\x05" + u(design >> 16, 2) + b"\x06" + u(design & 0xFFFF, 2)
                + b"\x07" + u(charge >> 16, 2) + b"\x08" + u(charge & 0xFFFF, 2)
                + b"\x09" + u(min(runtime, 0xFFFE) if m.current < 0 else runtime, 2)
                + bytes(15) + u(m.voltage * 100, 2) + bytes(10)
            )
        else:
            return []
        return [MODULE_LINE, frame(cmd, payload)]
