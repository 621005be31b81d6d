"""Device side of Modbus RTU over BLE, shared by the Daly, Renogy, Seplos V3 and EG4 devices.

A simulated Modbus device owns a register map (rebuilt from its model on every
request) and answers any read inside it, like a real slave: function 3/4 read
registers, 1/2 read coils; a range outside the map gets exception 0x02
(illegal data address); requests to other slave ids are ignored.
"""

from __future__ import annotations

from ..devices import SimDevice
from ..framing import crc16_modbus

ILLEGAL_FUNCTION, ILLEGAL_ADDRESS = 0x01, 0x02


def with_crc(body: bytes) -> bytes:
    """A Modbus frame: body and its CRC16 (little-endian)."""
    return body + crc16_modbus(body).to_bytes(2, "little")


def words(data: bytes, start: int) -> dict[int, int]:
    """Registers (16-bit big-endian words) from `start` holding `data`."""
    data = data + b"\x00" * (len(data) % 2)
    return {start + i // 2: int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)}


class ModbusDevice(SimDevice):
    """A Modbus slave over a BLE write/notify pair."""

    write_uuid: str = ""
    slave_ids: tuple[int, ...] = ()

    def registers(self, slave: int, function: int) -> dict[int, int]:
        """Register map of a slave for read function 3 or 4 (fresh from the model)."""
        return {}

    def coils(self, slave: int, function: int) -> dict[int, bool]:
        """Coil map of a slave for read function 1 or 2."""
        return {}

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != self.write_uuid or len(data) != 8:
            return []
        if crc16_modbus(data[:6]) != int.from_bytes(data[6:], "little"):
            return []  # a real slave drops frames with a bad CRC
        slave, function = data[0], data[1]
        if slave not in self.slave_ids:
            return []
        start, count = int.from_bytes(data[2:4], "big"), int.from_bytes(data[4:6], "big")
        self.model.step()
        if function in (0x03, 0x04):
            regs = self.registers(slave, function)
            if not count or any(r not in regs for r in range(start, start + count)):
                return [self.exception(slave, function, ILLEGAL_ADDRESS)]
            payload = b"".join(regs[r].to_bytes(2, "big") for r in range(start, start + count))
        elif function in (0x01, 0x02):
            coils = self.coils(slave, function)
            if not count or any(c not in coils for c in range(start, start + count)):
                return [self.exception(slave, function, ILLEGAL_ADDRESS)]
            bits = [coils[c] for c in range(start, start + count)]
            payload = bytes(
                sum(1 << j for j, on in enumerate(bits[i : i + 8]) if on)
                for i in range(0, len(bits), 8)
            )
        else:
            return [self.exception(slave, function, ILLEGAL_FUNCTION)]
        return [with_crc(bytes((slave, function, len(payload))) + payload)]

    @staticmethod
    def exception(slave: int, function: int, code: int) -> bytes:
        """An exception reply."""
        return with_crc(bytes((slave, function | 0x80, code)))
