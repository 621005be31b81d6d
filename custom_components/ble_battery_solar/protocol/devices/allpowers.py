"""Allpowers portable power stations (``AP S300 V2.0``, ``AP R600 V2.0``, ``VOLIX-R1500``).

Service 0xFFF0; the station streams on 0xFFF1 once notifications are enabled,
without requests. A status frame is 15 bytes: ``A5 65 B1 01 01 00 00``, the
output flags (bit 0 DC, bit 1 AC, bit 2 60 Hz, bit 4 torch), the state of
charge, input power and output power (W, 16-bit big-endian) and the minutes
of run time left (0xFFFF: no estimate, e.g. while charging). A settings frame
(``A5 65 B1 00 …``, 11 bytes) is skipped. The frames carry no length and no
checksum: a frame's type tells its length, and bytes after a frame that start
no frame are skipped.

The station reports no voltage, current or cells: the Sample carries the
state of charge, the net power (input minus output, + = charging), the run
time while discharging, and whether an output (AC or DC) is switched on
(``load_on``).

Sources: patman15/aiobmsble commit 4ceccc6 (``allpowers_bms.py`` and
``tests/bms/test_allpowers_bms.py``: R1500 frames) and aiobmsble 0.31.0 (PyPI,
same layout; matchers ``AP R*`` and ``VOLIX-*``), and the byte layout read by
madninjaskillz/hacore ``homeassistant/components/all_powers`` (an AP S300;
the same offsets). Disagreements: aiobmsble maps the AC flag to the charge
MOSFET and the DC flag to the discharge MOSFET; they are output switches, so
here they only make ``load_on``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, read_fields, uuid16
from ..models import Sample

HEAD = b"\xa5\x65\xb1"
STATUS, SETTINGS = 0x01, 0x00
LENGTHS = {STATUS: 15, SETTINGS: 11}
DC_ON, AC_ON = 0x01, 0x02
NO_ESTIMATE = 0xFFFF

FIELDS = (
    Field("flags", 7, 1, kind="int"),
    Field("battery_level", 8, 1, kind="int"),
    Field("input_w", 9, 2, kind="int"),
    Field("output_w", 11, 2, kind="int"),
    Field("minutes", 13, 2, kind="int"),
)


class AllpowersDriver(Driver):
    """Allpowers power station streaming its status."""

    family = "allpowers"
    title = "Allpowers"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF1)
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {"local_name": name, "service_uuid": uuid16(0xFFF0), "connectable": True}
        for name in ("AP S*", "AP R*", "VOLIX*")
    )
    required_keys = ("battery_level", "power")
    checksummed = False

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        head = buffer[pos : pos + len(HEAD)]
        if not HEAD.startswith(head):
            return None
        if len(buffer) - pos <= len(HEAD):
            return NEED_MORE
        return LENGTHS.get(buffer[pos + len(HEAD)])

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        frames, _rest = self.split(b"".join(notifications))
        return any(f[3] == STATUS for f in frames)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        status = [f for f in frames if f[3] == STATUS]
        if not status:
            raise self.error("no status frame in the stream")
        values: dict[str, Any] = read_fields(self.family, status[-1], FIELDS)
        if status[-1][4:7] != b"\x01\x00\x00":
            raise self.error(f"status frame header bytes {status[-1][4:7].hex()} are not 010000")
        flags, minutes = values.pop("flags"), values.pop("minutes")
        power = values.pop("input_w") - values.pop("output_w")
        values["power"] = float(power)
        values["load_on"] = bool(flags & (DC_ON | AC_ON))
        if power < 0 and minutes != NO_ESTIMATE:
            values["runtime"] = minutes * 60
        return values  # type: ignore[return-value]
