"""KS48x00 BMS boards (Braun Power and others): service 0xFF00, notify 0xFF01, write 0xFF02.

Answers ``7B <cmd> 00 7D`` with ``7B <cmd> <len> <data> 7D`` (no checksum):
0x01 status, 0x02 cells, 0x03 probes, 0x74 board version, 0xF4 firmware.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import u


def frame(cmd: int, data: bytes) -> bytes:
    """A KS48x00 response frame."""
    return bytes((0x7B, cmd, len(data))) + data + b"\x7d"


class BraunPwrDevice(SimDevice):
    """A KS48x00 board answering status, cell, probe and version requests."""

    family = "braunpwr"
    local_name = "HSKS-25A-118"
    service_uuids = (uuid16(0xFF00),)
    manufacturer_data = {0x007B: bytes.fromhex("02ffff7b")}
    gatt = {uuid16(0xFF00): {uuid16(0xFF01): NOTIFY, uuid16(0xFF02): WRITE}}
    notify_uuid = uuid16(0xFF01)

    def corrupt_frame(self, frame: bytes) -> bytes:
        # no checksum to break: a wrong tail byte is what a damaged frame shows
        return frame[:-1] + b"\x00"

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFF02) or len(data) != 4 or data[0] != 0x7B:
            return []
        m = self.model
        m.step()
        cmd = data[1]
        if cmd == 0x01:
            status = bytearray(32)
            status[0:2] = u(m.soc * 100, 2)
            status[2:4] = u(m.voltage * 100, 2)
            status[4:6] = u(sum(m.temperatures) / len(m.temperatures) * 10, 2, signed=True)
            status[6:8] = u(m.ambient * 10, 2, signed=True)
            status[8:10] = u((m.temperatures[0] + 2.0) * 10, 2, signed=True)
            status[10:12] = u(m.current * 100, 2, signed=True)
            status[12:14] = u(m.remaining_ah * 100, 2)
            status[14:16] = u(m.capacity_ah * 100, 2)
            status[16:18] = u(m.capacity_ah * 100, 2)
            status[20:22] = u(m.cycles, 2)
            status[22:26] = u(0x0005 if m.balancing else 0, 4)
            status[26:28] = u(0x0004 * (m.soc < 1.0) | 0x0008 * (m.soc > 0.0), 2)
            status[30:32] = u(m.health, 2)
            return [frame(cmd, bytes(status))]
        if cmd == 0x02:
            return [frame(cmd, bytes((m.cells,)) + b"".join(u(v * 1000, 2) for v in m.cell_voltages))]
        if cmd == 0x03:
            temps = m.temperatures
            return [frame(cmd, bytes((len(temps),)) + b"".join(u(t * 10 + 2731, 2) for t in temps))]
        if cmd == 0x74:
            return [frame(cmd, b"KS_BLE_SIM_Ver1.0.0")]
        if cmd == 0xF4:
            return [frame(cmd, b"\x02\x03\x01")]
        return []
