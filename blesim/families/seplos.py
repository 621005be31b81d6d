"""Seplos V3 BMS (service 0xFFF0, notify 0xFFF1, write 0xFFF2): Modbus RTU.

Slave 0x00 is the system: input registers 0x2000 EIA and 0x2100 EIB, coils
0x2200 EIC. Slave n is pack n: input registers 0x1000 PIA and 0x1100 PIB.
32-bit values are stored low word first. `packs` packs share the model's
current; each pack has the model's cells. Variant "v3:<n>" sets `packs`.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, uuid16
from ..framing import u
from .modbus import ModbusDevice, words


def swapped32(value: float, *, signed: bool = False) -> bytes:
    """32-bit value as two big-endian words, low word first."""
    raw = int.from_bytes(u(value, 4, signed=signed), "big")
    return (raw & 0xFFFF).to_bytes(2, "big") + (raw >> 16).to_bytes(2, "big")


def kelvin(celsius: float) -> bytes:
    """Temperature in 0.1 K."""
    return u(celsius * 10 + 2731, 2)


class SeplosDevice(ModbusDevice):
    """Seplos V3 system with `packs` packs (1 by default)."""

    family = "seplos"
    local_name = "SP51B2407270006"
    service_uuids = (uuid16(0xFFF0),)
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF1): NOTIFY, uuid16(0xFFF2): WRITE}}
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF2)
    default_packs = 1

    @property
    def packs(self) -> int:
        """Packs in the system: the variant "v3:<n>" says how many, else `default_packs`."""
        variant = self.variant or ""
        if variant.startswith("v3:") and variant[3:].isdigit():
            return max(1, min(16, int(variant[3:])))
        return self.default_packs

    @property
    def slave_ids(self) -> tuple[int, ...]:  # type: ignore[override]
        return tuple(range(self.packs + 1))

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x04:
            return {}
        m = self.model
        if slave == 0:
            eia = bytearray(52)
            eia[0:4] = swapped32(m.voltage * 100)
            eia[4:8] = swapped32(m.current * 10 * self.packs, signed=True)
            eia[8:12] = swapped32(m.remaining_ah * 100 * self.packs)
            eia[20:24] = swapped32(m.capacity_ah * 100 * self.packs)
            eia[44:46] = u(self.packs, 2)
            eia[46:48] = u(m.cycles, 2)
            eia[48:50] = u(m.soc * 1000, 2)
            eia[50:52] = u(m.health * 10, 2)
            return {**words(bytes(eia), 0x2000), **words(bytes(44), 0x2100)}
        pia = bytearray(34)
        pia[0:2] = u(m.voltage * 100, 2)
        pia[2:4] = u(m.current * 100, 2, signed=True)
        pia[10:12] = u(m.soc * 1000, 2)
        pia[14:16] = u(m.cycles, 2)
        pib = bytearray(52)
        for i, v in enumerate(m.cell_voltages[:16]):
            pib[2 * i : 2 * i + 2] = u(v * 1000, 2)
        temps = (m.temperatures * 4)[:4]
        for i, t in enumerate(temps):
            pib[32 + 2 * i : 34 + 2 * i] = kelvin(t)
        pib[48:50] = kelvin(m.ambient)
        pib[50:52] = kelvin(m.temperatures[0] + 4)
        return {**words(bytes(pia), 0x1000), **words(bytes(pib), 0x1100)}

    def coils(self, slave: int, function: int) -> dict[int, bool]:
        if slave != 0 or function != 0x01:
            return {}
        m = self.model
        states = 0x01 * (m.soc > 0.0) | 0x02 * (m.soc < 1.0) | 0x04 * m.balancing
        eic = bytearray(10)
        eic[7] = states
        alarms = (self.problem_code & (1 << 72) - 1).to_bytes(9, "big")  # EIC bytes 1-9
        eic[1:10] = bytes(a | b for a, b in zip(alarms, eic[1:10], strict=True))
        return {0x2200 + i: bool(eic[i // 8] >> (i % 8) & 1) for i in range(0x50)}
