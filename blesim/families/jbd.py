"""JBD / Xiaoxiang BMS (service 0xFF00, notify 0xFF01, write 0xFF02).

Answers ``DD A5 <cmd> 00 <chk> 77`` with ``DD <cmd> 00 <len> <data> <chk16 BE> 77``:
0x03 basic info, 0x04 cell voltages, 0x05 hardware version.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import u


def frame(cmd: int, data: bytes, status: int = 0) -> bytes:
    """A JBD response frame."""
    body = bytes((status, len(data))) + data
    return bytes((0xDD, cmd)) + body + u((0x10000 - sum(body)) & 0xFFFF, 2) + b"\x77"


class JbdDevice(SimDevice):
    """JBD / Xiaoxiang BMS: answers 0x03 basic info, 0x04 cell voltages, 0x05 version."""

    family = "jbd"
    local_name = "SIM-JBD-SP04S"
    service_uuids = (uuid16(0xFF00),)
    manufacturer_data = {0x9A02: bytes.fromhex("2837c2a5")}
    gatt = {uuid16(0xFF00): {uuid16(0xFF01): NOTIFY, uuid16(0xFF02): WRITE}}
    notify_uuid = uuid16(0xFF01)

    # kept for callers of the first blesim version
    _frame = staticmethod(frame)

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid == uuid16(0xFF02) and len(data) == 9 and data[:2] == b"\xdd\x5a":
            return self._on_register_write(data)
        if char_uuid != uuid16(0xFF02) or len(data) != 7 or data[:2] != b"\xdd\xa5":
            return []
        m = self.model
        m.step()
        if data[2] == 0x03:
            fets = 0x01 * m.charge_mosfet | 0x02 * m.discharge_mosfet
            payload = (
                u(m.voltage * 100, 2)
                + u(m.current * 100, 2, signed=True)
                + u(m.remaining_ah * 100, 2)
                + u(m.capacity_ah * 100, 2)
                + u(m.cycles, 2)
                + b"\x2c\x7c"  # production date
                + u(0x5 if m.balancing else 0, 4)  # balance bits
                + u(self.problem_code & 0xFFFF, 2)  # protection bits
                + b"\x80"  # software version
                + bytes((round(m.soc * 100), fets, m.cells, len(m.temperatures)))
                + b"".join(u(t * 10 + 2731, 2) for t in m.temperatures)
            )
            return [frame(0x03, payload)]
        if data[2] == 0x04:
            return [frame(0x04, b"".join(u(v * 1000, 2) for v in m.cell_voltages))]
        if data[2] == 0x05:
            return [frame(0x05, b"SIM-JBD-SP04S-V1")]
        return [frame(data[2], b"", status=0x80)]

    def _on_register_write(self, data: bytes) -> list[bytes]:
        """``DD 5A <register> 02 <value BE> <chk> 77``: 0xE1 switches the MOSFETs (bit 0
        set: charging off, bit 1: discharging off); 0x01 leaves factory mode."""
        body = data[2:6]
        if data[3] != 2 or data[8] != 0x77 or int.from_bytes(data[6:8], "big") != (
            0x10000 - sum(body)
        ) & 0xFFFF:
            return []
        register, value = data[2], int.from_bytes(data[4:6], "big")
        if register == 0xE1:
            if self.faults.ignore_control:
                return []
            if self.faults.refuse_control:
                return [frame(register, b"", status=0x80)]
            self.model.set_switches(charge=not value & 0x01, discharge=not value & 0x02)
        return [frame(register, b"")]
