"""LiPower BMS / Ective (advertises 0xAF30; service 0xFFE0, characteristic 0xFFE1).

A Modbus slave with device id 0x22 (variant: another id, e.g. "0x0B"): the read
of 8 registers from 0x0400 is answered with remaining Ah, SOC, run time
(hours, minutes), direction, current 0.01 A, voltage 0.1 V and power W.
"""

from __future__ import annotations

from ..devices import uuid16
from ..model import BatteryModel
from .modbus import ModbusDevice, words


class LiPowerDevice(ModbusDevice):
    """An Ective 12 V / 120 Ah LiFePO4 battery with a LiPower BMS."""

    family = "lipower"
    local_name = "23-01-05-034"
    service_uuids = (uuid16(0xAF30),)
    gatt = {uuid16(0xFFE0): {uuid16(0xFFE1): ("notify", "write-without-response")}}
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE1)

    @property
    def slave_ids(self) -> tuple[int, ...]:  # type: ignore[override]
        return (int(self.variant, 16),) if self.variant else (0x22,)

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, capacity_ah=120.0, soc=0.9, current=-2.01)

    def registers(self, slave: int, function: int) -> dict[int, int]:
        if function != 0x03:
            return {}
        m = self.model
        hours = m.remaining_ah / -m.current if m.current < 0 else 0.0
        values = (round(m.remaining_ah), round(m.soc * 100), int(hours),
                  int(hours * 60) % 60, 1 if m.current < 0 else 0, round(abs(m.current) * 100),
                  round(m.voltage * 10), round(abs(m.voltage * m.current)))
        return words(b"".join(v.to_bytes(2, "big") for v in values), 0x0400)

