"""Lithionics NeverDie / Li3 (service 0xFFE0, notify 0xFFE1, no requests).

Streams CRLF-terminated ASCII lines once a second: the primary line (comma
variant: voltage and four cells in 0.01 V, two probes in °F, current A, SOC,
status hex; variant "fixed": the zero-padded fixed-length layout of 16S packs)
and the ``&,`` status line with the remaining charge, in 20-byte notifications.
"""

from __future__ import annotations

from ..devices import NOTIFY, SimDevice, uuid16
from ..model import BatteryModel


def fahrenheit(celsius: float) -> int:
    """Whole degrees Fahrenheit."""
    return round(celsius * 9 / 5 + 32)


class LithionicsDevice(SimDevice):
    """A Lithionics Li3 battery streaming its status lines."""

    family = "lithionics"
    local_name = "Li3-061322094"
    service_uuids = (uuid16(0xFFE0),)
    manufacturer_data = {19784: bytes.fromhex("6c79b8000000")}
    gatt = {uuid16(0xFFE0): {uuid16(0xFFE1): NOTIFY}}
    notify_uuid = uuid16(0xFFE1)
    mtu = 23
    stream_period = 1.0

    def default_model(self) -> BatteryModel:
        if self.variant == "fixed":
            return BatteryModel(cells=16, capacity_ah=320.0, soc=0.5, current=-12.4)
        return BatteryModel(cells=4, capacity_ah=320.0, soc=0.9, current=-3.0)

    def stream_frames(self) -> list[bytes]:
        m = self.model
        m.step()
        if self.variant == "fixed":
            charging = 1 if m.current > 0 else 0
            line = (f"1,{round(m.remaining_ah * 10):05d},{round(m.voltage * 10):04d},"
                    f"{round(m.soc * 100):03d},{round(m.soc * 100):03d},{charging},"
                    f"{round(m.current * 10):05d},{round(abs(m.voltage * m.current)):06d},"
                    f"{fahrenheit(m.temperatures[0]):03d},000100")
            return [line.encode() + b"\r\n"]
        cells = ",".join(str(round(v * 100)) for v in m.cell_voltages[:4])
        primary = (f"{round(m.voltage * 100)},{cells},{fahrenheit(m.temperatures[0])},"
                   f"{fahrenheit(m.ambient)},{round(m.current)},{round(m.soc * 100)},000000")
        status = f"&,1,{round(m.remaining_ah)},006391,0136,2300,FF05,8700"
        return [primary.encode() + b"\r\n", status.encode() + b"\r\n"]

    def corrupt_frame(self, frame: bytes) -> bytes:
        # no checksum: a digit turns into a letter
        return frame[:1] + b"X" + frame[2:]
