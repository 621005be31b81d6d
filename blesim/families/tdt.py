"""TDT / Wattcycle BMS (service 0xFFF0, notify 0xFFF1, write 0xFFF2).

Answers ``7E 00 01 03 00 <cmd> 00 00 <CRC BE> 0D`` (head 0x7E or 0x1E) with
``7E 00 01 03 00 <cmd> <len16> <data> <CRC16/Modbus BE> 0D``: 0x8C values,
0x8D status, 0x92 device info; sent in 27-byte notifications like the real module.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import crc16_modbus, u


def frame(cmd: int, data: bytes) -> bytes:
    """A TDT response frame."""
    body = bytes((0x7E, 0x00, 0x01, 0x03, 0x00, cmd)) + u(len(data), 2) + data
    return body + u(crc16_modbus(body), 2) + b"\x0d"


def text(value: str) -> bytes:
    """A 20-byte NUL-padded ASCII field."""
    return value.encode().ljust(20, b"\x00")


class TdtDevice(SimDevice):
    """TDT BMS answering values, status and device-info requests."""

    family = "tdt"
    local_name = "TDT-SIM"
    manufacturer_data = {54976: bytes.fromhex("3c4fac50ff")}
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF1): NOTIFY, uuid16(0xFFF2): WRITE,
                             uuid16(0xFFFA): ("read", "write")}}
    notify_uuid = uuid16(0xFFF1)
    mtu = 30

    def advertisement(self) -> dict[str, object]:
        adv = super().advertisement()
        adv["local_name"] = None  # TDT modules advertise no name, only the company id
        return adv

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFF2) or len(data) != 11 or data[0] not in (0x7E, 0x1E):
            return []
        m = self.model
        m.step()
        cmd = data[5]
        probes = [m.ambient, m.temperatures[0] + 2.0, *m.temperatures]
        if cmd == 0x8C:
            raw = round(abs(m.current) * 10) | 0x4000 | (0x8000 if m.current < 0 else 0)
            payload = (
                bytes((m.cells,)) + b"".join(u(v * 1000, 2) for v in m.cell_voltages)
                + bytes((len(probes),)) + b"".join(u(t * 10 + 2731, 2) for t in probes)
                + u(raw, 2) + u(m.voltage * 100, 2) + u(m.remaining_ah * 10, 2)
                + u(m.capacity_ah * 10, 2) + u(m.cycles, 2) + u(m.capacity_ah * 10, 2)
                + u(m.soc * 100, 2)
            )
        elif cmd == 0x8D:
            fets = 0x04 * (m.soc < 1.0) | 0x02 * (m.soc > 0.0)
            payload = (bytes((m.cells,)) + bytes(m.cells) + bytes((len(probes),))
                       + bytes(len(probes)) + bytes(6) + bytes((fets,)) + bytes(8))
        elif cmd == 0x92:
            payload = text("SIM_TDT_FW_1.0") + text("SIM") + text("SIM0000000001")
        else:
            return []
        return [frame(cmd, payload)]
