"""Super-B Epsilon: v1 streams a 20-byte status frame; v2 answers ``21 54 00`` (variant "v2").

v1 frame: 00, flags (bit 0 = no warning, bit 7 = balancing), SOC, SOH, runtime u32 s,
current and voltage as big-endian floats, 4 zero bytes. v2: a 24-byte status frame
(type 0x00) answers the request, a measurement frame (type 0x02) follows; the real
battery pushes the latter on a second characteristic, the simulation sends both on
the characteristic it answers on.
"""

from __future__ import annotations

import struct
from typing import Any

from ..devices import NOTIFY, WRITE, SimDevice
from ..framing import u

V1_SERVICE = "74b9c2d1-dc6d-42cf-a2e9-7398b8fc2e70"
V1_NOTIFY = "6edadbe4-4f53-4a5a-96ed-02f93db93790"
V2_SERVICE = "cf9ccdf7-eee9-43ce-87a5-82b54af5324e"
V2_CHAR = "cf9ccdfa-eee9-43ce-87a5-82b54af5324e"
V2_PUSH = "e0fef452-9d2b-4005-a1e3-69fe1102b436"


class SuperbDevice(SimDevice):
    """Super-B Epsilon 12 V battery: v1 unless created with variant "v2"."""

    family = "superb"
    local_name = "Epsilon-201007664"
    gatt = {V1_SERVICE: {V1_NOTIFY: NOTIFY}}
    notify_uuid = V1_NOTIFY
    mtu = 35
    stream_period = 1.0

    def __init__(self, address: str, name: str | None = None, **kwargs: Any) -> None:
        v2 = kwargs.get("variant") == "v2"
        super().__init__(address, name or ("Epsilon 150 - 202019586" if v2 else None), **kwargs)
        if v2:
            self.gatt = {V2_SERVICE: {V2_CHAR: ("read", *WRITE, "notify"), V2_PUSH: NOTIFY}}  # type: ignore[misc]
            self.notify_uuid = V2_CHAR  # type: ignore[misc]
            self.manufacturer_data = {0x50BE: b"Epsilon V2"}  # type: ignore[misc]

    @property
    def v2(self) -> bool:
        """Whether this is a second-generation battery."""
        return self.variant == "v2"

    def _v1_frame(self) -> bytes:
        m = self.model
        runtime = m.remaining_ah / -m.current * 3600 if m.current < 0 else 0
        flags = 0x01 | (0x80 if m.balancing else 0)
        return (bytes((0x00, flags)) + u(m.soc * 100, 1) + u(m.health, 1) + u(runtime, 4)
                + struct.pack(">ff", m.current, m.voltage) + bytes(4))

    def _v2_frames(self) -> list[bytes]:
        m = self.model
        runtime = m.remaining_ah / -m.current * 3600 if m.current < 0 else 0xFFFFFFFF
        status = (b"\x00" + u(m.soc * 100, 1) + bytes(16) + u(m.cycles, 1) + u(m.health, 1)
                  + u(runtime, 4))
        measurement = (b"\x02\x0d" + bytes(4) + u(m.current * 1000, 4, signed=True)
                       + u(m.voltage * 1000, 2) + bytes(12))
        return [status, measurement]

    def stream_frames(self) -> list[bytes]:
        if self.v2:
            return []
        self.model.step()
        return [self._v1_frame()]

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if not self.v2 or char_uuid != V2_CHAR or data != b"\x21\x54\x00":
            return []
        self.model.step()
        return self._v2_frames()

    def corrupt_frame(self, frame: bytes) -> bytes:
        # no checksum: a damaged v1 frame shows a non-number, a damaged v2 frame an unknown type
        if len(frame) == 20:
            return frame[:12] + b"\xff\xff\xff\xff" + frame[16:]
        return b"\xff" + frame[1:]
