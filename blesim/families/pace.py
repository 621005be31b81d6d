"""PACEEX BMS "PC-…" (service 0xFFF0, notify 0xFFF1, write 0xFFF2).

Answers ``9A 00 00 <group> <block> 00 00 <len> <data> <CRC16/Modbus BE> 9D``
requests with frames of the same shape: the system block (0A/00), the
pack-level block (0A/01) and cell block (0A/02) of pack 1, and the serial
number (00/02). Big-endian; temperatures in 0.1 K.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import crc16_modbus, u
from ..model import BatteryModel


def frame(kind: bytes, data: bytes) -> bytes:
    """A PACEEX frame; `kind` holds the six type bytes."""
    body = b"\x9a" + kind + bytes((len(data),)) + data
    return body + crc16_modbus(body).to_bytes(2, "big") + b"\x9d"


def kelvin(celsius: float) -> bytes:
    """A temperature in 0.1 K."""
    return u(celsius * 10 + 2731, 2)


class PaceDevice(SimDevice):
    """A 16-cell 48 V / 100 Ah PACEEX pack."""

    family = "pace"
    local_name = "PC-9662"
    manufacturer_data = {0x0001: bytes.fromhex("04b4c2e00101015043003132333435363738393031325a")}
    gatt = {uuid16(0xFFF0): {uuid16(0xFFF1): NOTIFY, uuid16(0xFFF2): WRITE}}
    notify_uuid = uuid16(0xFFF1)
    mtu = 185

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=16, capacity_ah=100.0, soc=0.74, current=-4.23,
                            temperatures=[22.2, 22.4, 22.7, 22.4])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFF2) or len(data) < 11 or data[0] != 0x9A or data[-1] != 0x9D:
            return []
        if crc16_modbus(data[:-3]) != int.from_bytes(data[-3:-1], "big"):
            return []
        kind = data[1:7]
        self.model.step()
        if kind == b"\x00\x00\x0a\x00\x00\x00":
            return [frame(kind, self._system())]
        if kind == b"\x00\x00\x0a\x01\x00\x00":
            return [frame(kind, self._pack())]
        if kind == b"\x00\x00\x0a\x02\x00\x00":
            return [frame(kind, self._cells())]
        if kind == b"\x00\x00\x00\x02\x00\x00":
            return [frame(kind, b"\x0d123456789012Z")]
        return []

    def _extremes(self) -> bytes:
        m = self.model
        cells, temps = m.cell_voltages, m.temperatures
        hi_c = max(range(len(cells)), key=cells.__getitem__)
        lo_c = min(range(len(cells)), key=cells.__getitem__)
        hi_t = max(range(len(temps)), key=temps.__getitem__)
        lo_t = min(range(len(temps)), key=temps.__getitem__)
        return (bytes((1, hi_c + 1)) + u(cells[hi_c] * 1000, 2) + bytes((1, lo_c + 1))
                + u(cells[lo_c] * 1000, 2) + bytes((1, hi_t + 1)) + kelvin(temps[hi_t])
                + bytes((1, lo_t + 1)) + kelvin(temps[lo_t]))

    def _system(self) -> bytes:
        m = self.model
        return (b"\x01" + u(m.current * 100, 4, signed=True) + u(m.voltage * 100, 4)
                + u(m.remaining_ah * 100, 4) + u(m.capacity_ah * 100, 4) * 2
                + bytes((round(m.soc * 100), round(m.health))) + u(m.cycles, 4) + bytes(8)
                + self._extremes())

    def _pack(self) -> bytes:
        m = self.model
        cells, temps = m.cell_voltages, m.temperatures
        hi_c = max(range(len(cells)), key=cells.__getitem__)
        lo_c = min(range(len(cells)), key=cells.__getitem__)
        hi_t = max(range(len(temps)), key=temps.__getitem__)
        lo_t = min(range(len(temps)), key=temps.__getitem__)
        return (b"\x02" + u(m.current * 100, 2, signed=True) + u(m.voltage * 100, 2)
                + u(m.remaining_ah * 100, 2) + u(m.capacity_ah * 100, 2) * 2
                + bytes((round(m.soc * 100), round(m.health))) + u(m.cycles, 2) + bytes(8)
                + u(m.voltage * 100 + 33, 2) + bytes(2)
                + bytes((hi_t + 1,)) + kelvin(temps[hi_t]) + bytes((lo_t + 1,)) + kelvin(temps[lo_t])
                + kelvin(temps[0] + 1.0) + kelvin(m.ambient)
                + bytes((hi_c + 1,)) + u(cells[hi_c] * 1000, 2)
                + bytes((lo_c + 1,)) + u(cells[lo_c] * 1000, 2))

    def _cells(self) -> bytes:
        m = self.model
        temps = list(m.temperatures)
        out = b"\x02" + u(m.voltage * 100, 2) + bytes((m.cells,))
        for i, v in enumerate(m.cell_voltages):
            out += u(v * 1000, 2) + (kelvin(temps[i]) if i < len(temps) else bytes(2))
        return out
