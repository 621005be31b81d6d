"""Renogy smart lithium battery behind a BT-2 module (Modbus slave 0x30; 0xFF for "pro").

Variant "hub:<n>": n batteries behind one hub answer at 0x30, 0x31 ... (the
same model for each, the n-th battery's remaining charge 1 Ah lower per id).

Service 0xFFD0 with write 0xFFD1, notifications on 0xFFF1 (service 0xFFF0).
Registers 0x1388-0x13A9 cells and temperatures, 0x13B2-0x13B8 pack status,
0x13EC-0x13F3 alarm and status bits.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, uuid16
from ..framing import u
from .modbus import ModbusDevice, words

BT_GATT = {uuid16(0xFFD0): {uuid16(0xFFD1): WRITE}, uuid16(0xFFF0): {uuid16(0xFFF1): NOTIFY}}


class RenogyBatteryDevice(ModbusDevice):
    """Renogy battery (legacy BT-2 protocol: current 0.01 A, cells 0.1 V)."""

    family = "renogy_battery"
    local_name = "BT-TH-66EDFC11"
    service_uuids = (uuid16(0xFFD0),)
    manufacturer_data = {0x9860: bytes.fromhex("66edfc11")}
    gatt = BT_GATT
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFD1)

    @property
    def slave_ids(self) -> tuple[int, ...]:  # type: ignore[override]
        if self.variant in ("pro", "rngpro"):
            return (0xFF,)
        if self.variant is not None and self.variant.startswith("hub:"):
            return tuple(range(0x30, 0x30 + max(1, min(16, int(self.variant[4:])))))
        return (0x30,)

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        m = self.model
        cells = m.cell_voltages[:16]
        temps = m.temperatures[:16]
        cell_block = bytearray(68)
        cell_block[0:2] = u(len(cells), 2)
        for i, v in enumerate(cells):
            cell_block[2 + 2 * i : 4 + 2 * i] = u(v * 10, 2)
        cell_block[34:36] = u(len(temps), 2)
        for i, t in enumerate(temps):
            cell_block[36 + 2 * i : 38 + 2 * i] = u(t * 10, 2, signed=True)
        scale = 10 if self.variant == "pro" else 100
        pack = (
            u(m.current * scale, 2, signed=True) + u(m.voltage * 10, 2)
            + u(max(0.0, m.remaining_ah - (slave - 0x30) % 0x10) * 1000, 4)
            + u(m.capacity_ah * 1000, 4) + u(m.cycles, 2)
        )
        status = bytearray(16)
        status[13] = 0x02 * (m.soc < 1.0) | 0x04 * (m.soc > 0.0)
        return {**words(bytes(cell_block), 0x1388), **words(pack, 0x13B2),
                **words(bytes(status), 0x13EC), **words(b"RBT100LFP12-BT  ", 0x13F6)}
