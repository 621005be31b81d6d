"""Votronic solar chargers (SR/MPP since 2014) and the Battery Computer S with Smart
Shunt, through the Votronic Bluetooth Connector S-BC.

The connector streams by itself once notifications are on; nothing is written.
Its monitoring service d0cb6aa7-8548-46d0-99f8-2d02611e5270 has one
characteristic per attached device: solar charger 971ccec2-521d-42fd-b570-cf46fe5ceb65
(19-byte frames), battery computer 9a082a4e-5bcc-4b1d-9958-a97cfccfa5ec (20-byte
frames). A frame has no header and no checksum; every notification is one frame,
so frames are cut by their fixed size. The connector must be bonded first (press
its pairing key; the ESPHome component then asks for MITM encryption).

Solar charger frame, little-endian: 0-1 battery voltage 0.01 V, 2-3 PV voltage
0.01 V, 4-5 PV current 0.1 A, 8 battery status (bit 0 I phase, 1 U1, 2 U2,
3 U3; 0 standby), 12 controller status (bit 3 active, bit 4 current reduction,
bit 5 AES active), 13-14 charged capacity Ah and 15-16 charged energy in 10 Wh
(today's: the app resets them daily), 17-18 PV power 0.1 W; bytes 6-7, 9-11 are
not named by any source.

Battery computer frame: 0-1 battery voltage 0.01 V, 2-3 second battery voltage
0.01 V, 4-5 remaining capacity Ah, 8 SOC %, 10-12 current 0.001 A (signed 24-bit,
+ = charging), 13-14 nominal capacity 0.1 Ah; 6-7, 9, 15-19 unnamed.

Source: syssi/esphome-votronic (votronic_ble component, its faker and the PDUs
captured in docs/pdus). Votronic makes these devices for 12 and 24 V systems: a
battery voltage above 80 V or a PV voltage above 200 V cannot be real and fails
the decode (the frames have no checksum to catch a corrupt one). The integration
subscribes to one characteristic: the solar charger's by default, the battery
computer's in the ``battery_computer`` variant. Decoding without a variant takes
a stream of whole 20-byte frames (and no whole 19-byte ones) as battery-computer data.
The ESPHome components name every other bit of the status bytes "unused" and no
fault byte, so no `problem_code` and no alarms are reported.
"""

from __future__ import annotations

from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import Driver, Field, read_fields
from custom_components.ble_battery_solar.protocol.models import Sample

MONITORING = "d0cb6aa7-8548-46d0-99f8-2d02611e5270"
SOLAR_CHARGER = "971ccec2-521d-42fd-b570-cf46fe5ceb65"
BATTERY_COMPUTER = "9a082a4e-5bcc-4b1d-9958-a97cfccfa5ec"
SOLAR_LENGTH, BATTERY_LENGTH = 19, 20

SOLAR_FIELDS = (
    Field("voltage", 0, 2, 0.01, order="little"),
    Field("pv_voltage", 2, 2, 0.01, order="little"),
    Field("pv_current", 4, 2, 0.1, order="little"),
    Field("battery_status", 8, 1, kind="int"),
    Field("controller_status", 12, 1, kind="int"),
    Field("charged_ah", 13, 2, kind="int", order="little"),
    Field("energy_generated_today", 15, 2, 10, kind="int", order="little"),
    Field("pv_power", 17, 2, 0.1, order="little"),
)
BATTERY_FIELDS = (
    Field("voltage", 0, 2, 0.01, order="little"),
    Field("starter_voltage", 2, 2, 0.01, order="little"),
    Field("cycle_charge", 4, 2, kind="int", order="little"),
    Field("battery_level", 8, 1, kind="int"),
    Field("current", 10, 3, 0.001, signed=True, order="little"),
    Field("design_capacity", 13, 2, 0.1, order="little"),
)
MAX_BATTERY_VOLTAGE, MAX_PV_VOLTAGE = 80.0, 200.0
CURRENT_REDUCTION = 0x10
# battery status bits, highest phase first (as the ESPHome component reads them)
PHASES = ((0x08, "storage"), (0x04, "floating"), (0x02, "boost"), (0x01, "bulk"))


def charging_state(battery_status: int, controller_status: int) -> str:
    """Charging state from the battery and controller status bytes."""
    if controller_status & CURRENT_REDUCTION:
        return "current_limiting"
    for bit, state in PHASES:
        if battery_status & bit:
            return state
    return "standby" if battery_status == 0 else "unknown"


class VotronicDriver(Driver):
    """Votronic device behind a Bluetooth Connector S-BC; variant "battery_computer"."""

    family = "votronic"
    title = "Votronic solar charger / battery computer"
    kind = "controller"
    service_uuid = MONITORING
    notify_uuid: ClassVar[str | None] = SOLAR_CHARGER
    # The connector's advertisement is not recorded anywhere: the user picks it
    # ("identify unknown device" probes it).
    discoverable = False
    checksummed = False
    required_keys = ("voltage",)

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        if variant == "battery_computer":
            self.notify_uuid = BATTERY_COMPUTER  # type: ignore[misc]

    def frame_size(self, buffer: bytes) -> int:
        """Length of the frames: the variant's, else what the stream's length allows
        (whole 20-byte frames that are no whole 19-byte frames: a battery computer)."""
        if self.variant == "battery_computer" or (
            self.variant is None and len(buffer) % BATTERY_LENGTH == 0
            and len(buffer) % SOLAR_LENGTH != 0
        ):
            return BATTERY_LENGTH
        return SOLAR_LENGTH

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        # Every notification is one whole frame, so the stream ends on a frame boundary:
        # frames are counted back from the end and bytes before them are stale.
        size = self.frame_size(buffer)
        start = len(buffer) % size
        return [buffer[i : i + size] for i in range(start, len(buffer), size)], b""

    def decode_frames(self, frames: list[bytes]) -> Sample:
        frame = frames[-1]  # the newest reading
        if len(frame) == BATTERY_LENGTH:
            out: dict[str, Any] = read_fields(self.family, frame, BATTERY_FIELDS)
        else:
            out = read_fields(self.family, frame, SOLAR_FIELDS)
            out["charging_state"] = charging_state(out.pop("battery_status"),
                                                   out.pop("controller_status"))
            out.pop("charged_ah")
        if out["voltage"] > MAX_BATTERY_VOLTAGE:
            raise self.error(f"voltage {out['voltage']} V is above {MAX_BATTERY_VOLTAGE:g} V")
        if out.get("pv_voltage", 0.0) > MAX_PV_VOLTAGE:
            raise self.error(f"pv_voltage {out['pv_voltage']} V is above {MAX_PV_VOLTAGE:g} V")
        return out  # type: ignore[return-value]
