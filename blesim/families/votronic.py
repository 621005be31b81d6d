"""Votronic MPP solar charger behind a Bluetooth Connector S-BC: streams 19-byte frames.

No requests: once notifications are on, the connector pushes one little-endian
solar-charger frame a second on 971ccec2-…; the battery-computer characteristic
exists too (no Battery Computer attached, so it stays silent). No checksum: a
corrupt frame is one whose battery-voltage bytes are garbage. Driven by a `SolarModel`.
"""

from __future__ import annotations

from ..devices import NOTIFY, SimDevice
from ..framing import u
from ..model import SolarModel

MONITORING = "d0cb6aa7-8548-46d0-99f8-2d02611e5270"
SOLAR_CHARGER = "971ccec2-521d-42fd-b570-cf46fe5ceb65"
BATTERY_COMPUTER = "9a082a4e-5bcc-4b1d-9958-a97cfccfa5ec"
PHASE_BITS = {"deactivated": 0x00, "mppt": 0x01, "boost": 0x02, "floating": 0x04}


class VotronicDevice(SimDevice):
    """Votronic MPP 250 Duo Dig solar charger; `device.model` is a SolarModel."""

    family = "votronic"
    local_name = "Votronic S-BC"
    gatt = {MONITORING: {SOLAR_CHARGER: NOTIFY, BATTERY_COMPUTER: NOTIFY}}
    notify_uuid = SOLAR_CHARGER
    stream_period = 1.0

    def default_model(self) -> SolarModel:
        return SolarModel()

    def stream_frames(self) -> list[bytes]:
        s: SolarModel = self.model
        s.step()
        frame = bytearray(19)
        frame[0:2] = u(s.battery.voltage * 100, 2, "little")
        frame[2:4] = u(s.pv_voltage * 100, 2, "little")
        frame[4:6] = u(s.pv_current * 10, 2, "little")
        frame[8] = PHASE_BITS[s.charging_state]
        frame[12] = 0x08 if s.pv_power > 0 else 0x00
        frame[13:15] = u(s.energy_today / max(s.battery.voltage, 1.0), 2, "little")
        frame[15:17] = u(s.energy_today / 10, 2, "little")
        frame[17:19] = u(s.pv_power * 10, 2, "little")
        return [bytes(frame)]

    def corrupt_frame(self, frame: bytes) -> bytes:
        return b"\xff\xff" + frame[2:]
