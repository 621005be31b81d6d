"""Super-B Epsilon batteries, two generations (variants "v1" and "v2").

v1 (service 74b9c2d1-dc6d-42cf-a2e9-7398b8fc2e70, notify 6edadbe4-4f53-4a5a-96ed-02f93db93790):
the battery streams a 20-byte status frame without being asked: a lead byte 0x00,
a flag byte (bit 0 set = no warning, bit 7 = balancing), SOC %, SOH %, runtime
(u32 s), current and voltage as big-endian IEEE-754 floats (A, + = charging;
V), four zero bytes. Names "Epsilon-<serial>".

v2 (service cf9ccdf7-eee9-43ce-87a5-82b54af5324e): writing ``21 54 00`` to
cf9ccdfa-… makes the battery answer a 24-byte frame of type 0x00 on that
characteristic (SOC % at 1, cycles at 18, SOH % at 19, runtime u32 s at 20,
0xFFFFFFFF = not discharging); it pushes 24-byte frames of type 0x02 on a second
characteristic, e0fef452-9d2b-4005-a1e3-69fe1102b436 (current s32 mA at 6,
voltage u16 mV at 10), which the integration subscribes to as well
(`extra_notify_uuids`). Big-endian. Advertises manufacturer data "Epsilon V2"
under company id 0x50BE.

Neither generation has a checksum or a start marker: frames are recognised by
length, lead/type byte and plausible values (finite floats, a voltage of
1-100 V, percentages up to 100), so a stream joined mid-frame resynchronises on
the next frame that passes; a v2 status frame has little to check, so stale bytes
before it are recognised less surely than before a v1 or measurement frame. The
integration always knows the generation (from the advertisement); without a
variant (decoding captured frames) the frames tell it: a 0x00 frame whose float
voltage is plausible is v1, otherwise v2.

Source: patman15/aiobmsble aiobmsble/bms/superb_bms.py, superb_v2_bms.py,
tests/bms/test_superb_bms.py, test_superb_v2_bms.py and aiobmsble/test_data/superb_bms.json,
superb_v2_bms.json @b0567331025033d33729385fa89a1198275d6486 (advertisements from
BMS_BLE-HA issues 518, 609 and 546). The meaning of the other flag bits of v1 is
not known: `problem_code` is 1 when bit 0 is clear, as in the source. The source
leaves v2's alarm and balancer bits undecoded (position unknown); so does this driver.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, read_fields
from ..models import Advertisement, Sample

V1, V2 = "v1", "v2"
V1_LENGTH, V2_LENGTH = 20, 24
V1_LEAD = 0x00
V2_STATUS, V2_MEASUREMENT = 0x00, 0x02
V2_TYPES = frozenset((V2_STATUS, V2_MEASUREMENT))
V2_MANUFACTURER = 0x50BE
V2_MARK = b"Epsilon V2"
V2_REQUEST = b"\x21\x54\x00"
NO_RUNTIME = 0xFFFFFFFF
VOLTAGE_RANGE = (1.0, 100.0)
MAX_CURRENT = 5000.0

V1_FIELDS = (
    Field("flags", 1, 1, kind="int"),
    Field("battery_level", 2, 1, kind="int"),
    Field("battery_health", 3, 1, kind="int"),
    Field("runtime", 4, 4, kind="int"),
)
V2_STATUS_FIELDS = (
    Field("battery_level", 1, 1, kind="int"),
    Field("cycles", 18, 1, kind="int"),
    Field("battery_health", 19, 1, kind="int"),
    Field("runtime", 20, 4, kind="int"),
)
V2_MEASUREMENT_FIELDS = (
    Field("current", 6, 4, 0.001, signed=True),
    Field("voltage", 10, 2, 0.001),
)


def _floats(frame: bytes) -> tuple[float, float]:
    """Current and voltage of a v1 frame."""
    current, voltage = struct.unpack_from(">ff", frame, 8)
    return current, voltage


def _v1_defect(frame: bytes) -> str | None:
    current, voltage = _floats(frame)
    if not (math.isfinite(current) and math.isfinite(voltage)):
        return "current or voltage is not a finite number"
    if not VOLTAGE_RANGE[0] <= voltage <= VOLTAGE_RANGE[1] or abs(current) > MAX_CURRENT:
        return f"implausible voltage {voltage:.3f} V or current {current:.3f} A"
    if frame[2] > 100 or frame[3] > 100:
        return f"SOC {frame[2]} % or SOH {frame[3]} % is above 100"
    return None


class SuperbDriver(Driver):
    """Super-B Epsilon: v1 streams status frames, v2 answers a request and pushes measurements."""

    family = "superb"
    pushes_data = True
    title = "Super-B Epsilon"
    service_uuid = "74b9c2d1-dc6d-42cf-a2e9-7398b8fc2e70"
    notify_uuid = "6edadbe4-4f53-4a5a-96ed-02f93db93790"
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": "Epsilon-*", "connectable": True},
        {"manufacturer_id": V2_MANUFACTURER, "manufacturer_data_start": list(V2_MARK),
         "connectable": True},
    )
    required_keys = ("voltage", "current")
    checksummed = False

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        if variant == V2:
            self.service_uuid = "cf9ccdf7-eee9-43ce-87a5-82b54af5324e"  # type: ignore[misc]
            self.notify_uuid = "cf9ccdfa-eee9-43ce-87a5-82b54af5324e"  # type: ignore[misc]
            self.write_uuid = "cf9ccdfa-eee9-43ce-87a5-82b54af5324e"  # type: ignore[misc]
            self.extra_notify_uuids = ("e0fef452-9d2b-4005-a1e3-69fe1102b436",)  # type: ignore[misc]

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str:
        """"v2" when the advertisement carries the v2 manufacturer data, else "v1"."""
        return V2 if adv.manufacturer_data.get(V2_MANUFACTURER, b"").startswith(V2_MARK) else V1

    def requests(self) -> list[bytes]:
        return [V2_REQUEST] if self.variant == V2 else []

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        lead = buffer[pos]
        v1 = self.variant != V2 and lead == V1_LEAD
        v2 = self.variant != V1 and lead in V2_TYPES
        if not v1:
            return V2_LENGTH if v2 else None
        if not v2:
            return V1_LENGTH
        # both generations possible: a plausible float voltage tells v1
        if len(buffer) - pos < V1_LENGTH:
            return NEED_MORE
        return V1_LENGTH if _v1_defect(buffer[pos : pos + V1_LENGTH]) is None else V2_LENGTH

    def frame_defect(self, frame: bytes) -> str | None:
        if len(frame) == V1_LENGTH:
            return _v1_defect(frame)
        if frame[0] == V2_STATUS and (frame[1] > 100 or frame[19] > 100):
            return f"SOC {frame[1]} % or SOH {frame[19]} % is above 100"
        if frame[0] == V2_MEASUREMENT:
            voltage = int.from_bytes(frame[10:12], "big") / 1000
            if not VOLTAGE_RANGE[0] <= voltage <= VOLTAGE_RANGE[1]:
                return f"implausible voltage {voltage:.3f} V"
        return None

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        frames, _rest = self.split(b"".join(notifications))
        if request is None:
            return bool(frames)
        return {f[0] for f in frames if len(f) == V2_LENGTH} >= V2_TYPES

    def decode_frames(self, frames: list[bytes]) -> Sample:
        if {len(f) for f in frames} == {V1_LENGTH, V2_LENGTH}:
            raise self.error("frames of both generations in one response")
        if len(frames[-1]) == V1_LENGTH:
            return self._v1(frames[-1])
        by_type = {f[0]: f for f in frames}
        out: dict[str, Any] = {}
        if (status := by_type.get(V2_STATUS)) is not None:
            out.update(read_fields(self.family, status, V2_STATUS_FIELDS))
            if out["runtime"] == NO_RUNTIME:
                del out["runtime"]
        if (measurement := by_type.get(V2_MEASUREMENT)) is not None:
            out.update(read_fields(self.family, measurement, V2_MEASUREMENT_FIELDS))
        return out  # type: ignore[return-value]

    def _v1(self, frame: bytes) -> Sample:
        out: dict[str, Any] = read_fields(self.family, frame, V1_FIELDS)
        flags = out.pop("flags")
        current, voltage = _floats(frame)
        out["current"], out["voltage"] = round(current, 3), round(voltage, 3)
        out["problem_code"] = (flags & 0x01) ^ 0x01
        out["balancer"] = bool(flags & 0x80)
        if current >= 0:
            del out["runtime"]  # the counter only means something while discharging
        return out  # type: ignore[return-value]
