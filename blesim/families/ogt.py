"""Offgridtec Smart Pro type B battery (service 0xFFF0, notify 0xFFF4, write 0xFFF6).

Requests ``+R16<reg><len>`` and responses ``+RD,<reg><value>\\r\\n`` are
XOR-scrambled with a key derived from the serial in the advertised name;
unknown registers (cells beyond the pack's) answer ``+RD,Erro\\0``.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..model import BatteryModel

TABLE = (2, 5, 4, 3, 1, 4, 1, 6, 8, 3, 7, 2, 5, 8, 9, 3)


class OgtDevice(SimDevice):
    """Offgridtec LiFePO4 Smart Pro 12 V, type B (cell registers from 63 down)."""

    family = "ogt"
    local_name = "SmartBat-B15051"
    service_uuids = (uuid16(0xFFF0),)
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF4): NOTIFY, uuid16(0xFFF6): WRITE}}
    notify_uuid = uuid16(0xFFF4)

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, temperatures=[22.0])

    @property
    def key(self) -> int:
        serial = int(self.name[10:])
        return 8 + sum(TABLE[int(digit, 16)] for digit in format(serial, "04X"))

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFF6):
            return []
        text = bytes(b ^ self.key for b in data)
        if len(text) != 8 or not text.startswith(b"+R16"):
            return []
        reg = int(text[4:6], 16)
        m = self.model
        m.step()
        cells = {63 - i: round(v * 1000) for i, v in enumerate(m.cell_voltages[:16])}
        plain = {8: round(m.temperatures[0] * 10 + 2731.5), 9: round(m.voltage * 1000),
                 13: round(m.soc * 100), 18: 0xFFFF if m.current >= 0 else round(
                     m.remaining_ah / -m.current * 60), 23: m.cycles} | cells
        scaled = {10: round(m.current * 100), 15: round(m.remaining_ah * 100)}  # x10 multiplier
        if reg in plain:
            value = plain[reg].to_bytes(2, "little").hex().upper()
        elif reg in scaled:
            value = scaled[reg].to_bytes(2, "little", signed=True).hex().upper() + "0A"
        else:
            return [bytes(b ^ self.key for b in b"+RD,Erro\x00")]
        return [bytes(b ^ self.key for b in f"+RD,{reg:02X}{value}\r\n".encode())]
