"""SRNE ML2440 charge controller behind a BT-1 module (Modbus, the Renogy controller map).

Answers at the broadcast id 0xFF and its own address 1, adds the version and
serial registers and the whole fault word (0x0121-0x0122, `device.problem_code`)
to the Rover's map, and reports an SRNE model string. Driven by a `SolarModel`.
"""

from __future__ import annotations

from .modbus import words
from .renogy_controller import RenogyControllerDevice


class SrneDevice(RenogyControllerDevice):
    """SRNE ML2440 (20 A MPPT) with a BT-1 module; `device.model` is a SolarModel."""

    family = "srne"
    local_name = "BT-TH-73C8EA91"
    manufacturer_data = {0x9860: bytes.fromhex("73c8ea91")}
    slave_ids = (0xFF, 0x01)

    def registers(self, slave: int, function: int) -> dict[int, int]:
        regs = super().registers(slave, function)
        if not regs:
            return regs
        regs.update(words(b"      ML2440    ", 0x000C))
        regs.update(words(bytes.fromhex("00010203" "00010100" "18100042"), 0x0014))
        regs[0x001A] = 0x0001
        regs[0x0121] = self.problem_code >> 16 & 0xFFFF
        regs[0x0122] = self.problem_code & 0xFFFF
        return regs
