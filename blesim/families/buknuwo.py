"""Buknuwo battery: Modbus slave 0x01; status 0x0000 x 13, MOSFET probe 0x0039, probes 0x002E x 11."""

from __future__ import annotations

from ..framing import u
from .modbus import ModbusDevice, words

SERVICE = "00002760-08c2-11e1-9073-0e8ac72e1001"
WRITE_UUID = "00002760-08c2-11e1-9073-0e8ac72e0001"
NOTIFY_UUID = "00002760-08c2-11e1-9073-0e8ac72e0002"


class BuknuwoDevice(ModbusDevice):
    """Buknuwo 12 V LiFePO4 pack advertising its name (CDZG…).

    The real pack also sends manufacturer id 0xFFFF, which Home Assistant's kegtron
    integration claims as well; the simulation leaves it out.
    """

    family = "buknuwo"
    local_name = "CDZG202512050020000242 "
    gatt = {SERVICE: {WRITE_UUID: ("write", "write-without-response"), NOTIFY_UUID: ("notify",)}}
    notify_uuid = NOTIFY_UUID
    write_uuid = WRITE_UUID
    slave_ids = (0x01,)

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        m = self.model
        fets = (0x0400 if m.soc < 1.0 else 0) | (0x0800 if m.soc > 0.0 else 0)
        status = (
            u(m.current * 100, 2, signed=True) + u(m.voltage * 100, 2) + u(m.soc * 100, 2)
            + u(m.health, 2) + u(m.remaining_ah * 100, 2) + u(m.capacity_ah * 100, 2)
            + u(m.capacity_ah * 100, 2) + u(m.cycles, 2) + bytes(2) + bytes(4) + u(fets, 2)
            + bytes(4)
        )
        probes = m.temperatures[:10]
        block = u(len(probes), 2) + b"".join(u(t * 10, 2, signed=True) for t in probes)
        block = block.ljust(22, b"\x00")
        mosfet = u((probes[0] + 3) * 10, 2, signed=True)
        regs = words(status, 0x0000) | words(block, 0x002E) | words(mosfet, 0x0039)
        return regs | words(u(m.capacity_ah * 100, 2), 0x00A2)
