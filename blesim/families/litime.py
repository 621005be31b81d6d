"""LiTime / Redodo battery (service 0xFFE0, notify 0xFFE1, write 0xFFE2).

Answers the status request ``00 00 04 01 13 55 AA 17`` with
``00 00 65 01 93 55 AA <data> <sum8>`` (105 bytes, little-endian values).
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import sum8, u
from ..model import BatteryModel

STATUS_REQUEST = bytes.fromhex("000004011355aa17")
LENGTH = 105


class LiTimeDevice(SimDevice):
    """LiTime 12 V 100 Ah LiFePO4 battery."""

    family = "litime"
    local_name = "L-12100BNNA70-A09683"
    service_uuids = (uuid16(0xFFE0),)
    manufacturer_data = {0x585A: bytes.fromhex("c8478015de04")}
    gatt = {uuid16(0xFFE0): {uuid16(0xFFE1): NOTIFY, uuid16(0xFFE2): WRITE}}
    notify_uuid = uuid16(0xFFE1)

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, temperatures=[22.0, 23.0])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFE2) or data != STATUS_REQUEST:
            return []
        self.model.step()
        m = self.model
        f = bytearray(LENGTH)
        f[0:7] = bytes((0x00, 0x00, LENGTH - 4, 0x01, 0x93, 0x55, 0xAA))
        f[12:16] = u(m.voltage * 1000, 4, "little")
        for i, v in enumerate(m.cell_voltages[:16]):
            f[16 + 2 * i : 18 + 2 * i] = u(v * 1000, 2, "little")
        f[48:52] = u(m.current * 1000, 4, "little", signed=True)
        for i, t in enumerate(m.temperatures[:5]):
            f[52 + 2 * i : 54 + 2 * i] = u(t, 2, "little", signed=True)
        f[62:64] = u(m.remaining_ah * 100, 2, "little")
        f[64:68] = u(m.capacity_ah * 100, 4, "little")
        f[84:88] = u(m.balancing, 4, "little")
        f[90:92] = u(m.soc * 100, 2, "little")
        f[92:96] = u(m.health, 4, "little")
        f[96:100] = u(m.cycles, 4, "little")
        f[-1] = sum8(bytes(f[:-1]))
        return [bytes(f)]
