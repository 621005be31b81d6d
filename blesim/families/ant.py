"""ANT BMS, current "7E A1" protocol (service 0xFFE0, characteristic 0xFFE1).

Answers the status request ``7E A1 01 0000 BE <CRC> AA 55`` with
``7E A1 11 0000 <len> <data> <CRC16/Modbus LE over [1:-4]> AA 55`` in 20-byte
notifications; variant "legacy" answers ``DB DB 00 00 00 00`` with the
140-byte ``AA 55 AA FF`` frame instead.
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import crc16_modbus, sum16, u
from ..model import BatteryModel

CHAR = uuid16(0xFFE1)
LEGACY_REQUEST = bytes.fromhex("dbdb00000000")
TEMP_SENSORS = 2


class AntDevice(SimDevice):
    """ANT BMS with an 8-cell pack."""

    family = "ant"
    local_name = "ANT-BLE24C-001"
    service_uuids = (uuid16(0xFFE0),)
    manufacturer_data = {0x2313: bytes.fromhex("88a0aabbcc900001")}
    gatt = {uuid16(0xFFE0): {CHAR: (*NOTIFY, *WRITE)}}
    notify_uuid = CHAR

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=8, capacity_ah=120.0, temperatures=[24.0, 24.5])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != CHAR:
            return []
        if self.variant == "legacy":
            return [self.legacy_status()] if data == LEGACY_REQUEST else []
        if len(data) != 10 or data[:2] != b"\x7e\xa1" or data[-2:] != b"\xaa\x55":
            return []
        if crc16_modbus(data[1:6]) != int.from_bytes(data[6:8], "little") or data[2] != 0x01:
            return []
        return [self.status()]

    def status(self) -> bytes:
        """The 7E A1 status reply."""
        self.model.step()
        m = self.model
        cells = m.cell_voltages
        temps = (m.temperatures * 2)[:TEMP_SENSORS]
        shift = 2 * (len(cells) + TEMP_SENSORS)
        f = bytearray(116 + shift)  # data length 106 + shift, as real boards send
        f[0:6] = bytes((0x7E, 0xA1, 0x11, 0x00, 0x00, len(f) - 10))
        f[8], f[9] = TEMP_SENSORS, len(cells)
        for i, v in enumerate(cells):
            f[34 + 2 * i : 36 + 2 * i] = u(v * 1000, 2, "little")
        at = 34 + 2 * len(cells)
        for i, t in enumerate((*temps, temps[0] + 5, temps[0] + 2)):  # sensors, MOSFET, balancer
            f[at + 2 * i : at + 2 * i + 2] = u(t, 2, "little", signed=True)

        def put(offset: int, data: bytes) -> None:
            f[offset + shift : offset + shift + len(data)] = data

        put(38, u(m.voltage * 100, 2, "little"))
        put(40, u(m.current * 10, 2, "little", signed=True))
        put(42, u(m.soc * 100, 2, "little"))
        put(44, u(m.health, 2, "little"))
        put(46, bytes((0x01 if m.soc < 1.0 else 0x04, 0x01 if m.soc > 0.0 else 0x04)))
        put(48, bytes((0x04 if m.balancing else 0x00,)))
        put(50, u(m.capacity_ah * 1e6, 4, "little"))
        put(54, u(m.remaining_ah * 1e6, 4, "little"))
        put(58, u((m.cycles + 0.5) * m.capacity_ah * 1000, 4, "little"))
        put(62, u(m.voltage * m.current, 4, "little", signed=True))
        f[-4:-2] = u(crc16_modbus(bytes(f[1:-4])), 2, "little")
        f[-2:] = b"\xaa\x55"
        return bytes(f)

    def legacy_status(self) -> bytes:
        """The legacy 140-byte AA 55 AA FF status frame (big-endian, + = discharging)."""
        self.model.step()
        m = self.model
        f = bytearray(140)
        f[0:4] = b"\xaa\x55\xaa\xff"
        f[4:6] = u(m.voltage * 10, 2)
        for i, v in enumerate(m.cell_voltages[:32]):
            f[6 + 2 * i : 8 + 2 * i] = u(v * 1000, 2)
        f[70:74] = u(-m.current * 10, 4, signed=True)
        f[74] = round(m.soc * 100)
        f[75:79] = u(m.capacity_ah * 1e6, 4)
        f[79:83] = u(m.remaining_ah * 1e6, 4)
        f[83:87] = u((m.cycles + 0.5) * m.capacity_ah * 1000, 4)
        for i, t in enumerate((m.temperatures * 4)[:4]):
            f[91 + 2 * i : 93 + 2 * i] = u(t, 2, signed=True)
        f[103] = 0x01 if m.soc < 1.0 else 0x04
        f[104] = 0x01 if m.soc > 0.0 else 0x04
        f[105] = 0x04 if m.balancing else 0x00
        f[123] = len(m.cell_voltages)
        f[138:140] = u(sum16(bytes(f[4:138])), 2)
        return bytes(f)
