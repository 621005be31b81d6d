"""Driver base class and the building blocks every protocol family uses.

A driver describes one protocol family: how its devices advertise (matchers in
Home Assistant's manifest format), which GATT characteristics carry the
protocol, which request frames one poll writes, how the notification byte
stream splits into whole frames, and how whole frames decode into a Sample.
Drivers do no I/O and never import Home Assistant.

Rules every family gets from here:

- Integers are exact: "int" fields (codes, counts, bitmasks of any width) are
  computed in integer arithmetic from the bytes, never through a float.
- Frame assembly resynchronises. A driver that describes its framing with
  `frame_length` (where a frame starts and how long it is) and `frame_defect`
  (checksum, end marker) gets `frames_in` for free: bytes before a frame
  (stale bytes of an earlier exchange, a stream joined mid-frame) and bytes
  after the last frame that cannot start one (zero padding) are skipped; a
  header inside garbage whose "frame" fails its checksum is skipped when a
  valid frame overlaps it. A frame that fails its checksum is never decoded;
  one that is not explained that way fails the decode, so the poll retries.
  A driver that implements `frames_in` itself still gets resynchronisation:
  when its `frames_in` refuses the stream, the decode retries from each later
  byte and keeps the first split that works.
- Impossible values fail the decode with a FrameError naming the field, and
  sentinels ("no sensor") are dropped, never shown: see `checks`.
"""

from __future__ import annotations

import fnmatch
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from typing import ClassVar, Literal, TypedDict

from .alarms import AlarmTable
from .checks import check_plausible
from .checksums import crc16_modbus, crc16_xmodem, sum8, sum16
from .fields import Field, read_fields, read_int, values_list
from .models import Advertisement, FrameError, Sample

# the checksums live in checksums.py, field tables in fields.py; drivers import them from here
__all__ = [
    "NEED_MORE", "Advertisement", "Driver", "Field", "FrameError", "Matcher", "Sample", "crc16_modbus", "crc16_xmodem", "finish_sample",
    "matcher_matches", "read_fields", "read_int", "split_frames", "sum8", "sum16", "uuid16",
    "values_list",
]

BASE_UUID = "0000{:04x}-0000-1000-8000-00805f9b34fb"


def uuid16(short: int) -> str:
    """Full 128-bit UUID string of a 16-bit Bluetooth SIG UUID."""
    return BASE_UUID.format(short)


class Matcher(TypedDict, total=False):
    """One advertisement matcher, exactly as in manifest.json's `bluetooth` list."""

    local_name: str
    service_uuid: str
    service_data_uuid: str
    manufacturer_id: int
    manufacturer_data_start: list[int]
    connectable: bool


@lru_cache(maxsize=256)
def _name_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def matcher_matches(matcher: Matcher, adv: Advertisement) -> bool:
    """Whether an advertisement satisfies every key of a matcher (Home Assistant's semantics)."""
    if matcher.get("connectable", True) and not adv.connectable:
        return False
    if (uuid := matcher.get("service_uuid")) is not None and uuid not in adv.service_uuids:
        return False
    if (uuid := matcher.get("service_data_uuid")) is not None and uuid not in adv.service_data:
        return False
    if (mid := matcher.get("manufacturer_id")) is not None:
        if mid not in adv.manufacturer_data:
            return False
        start = matcher.get("manufacturer_data_start")
        if start is not None and not adv.manufacturer_data[mid].startswith(bytes(start)):
            return False
    pattern = matcher.get("local_name")
    return pattern is None or (
        adv.local_name is not None and _name_pattern(pattern).match(adv.local_name) is not None
    )


NEED_MORE = 0  # frame_length: the bytes so far start a frame, its length is not known yet


def split_frames(driver: Driver, buffer: bytes) -> tuple[list[bytes], bytes]:
    """Whole valid frames in a byte stream and the unfinished frame at its end (see the module doc)."""
    frames: list[bytes] = []
    accepted: list[tuple[int, int]] = []
    rejected: list[tuple[int, int, str]] = []
    tail: int | None = None  # start of a frame that may still be arriving
    pos, size = 0, len(buffer)
    while pos < size:
        length = driver.frame_length(buffer, pos)
        if length is None:
            pos += 1
            continue
        if length == NEED_MORE or pos + length > size:
            if tail is None:
                tail = pos
            pos += 1  # it may also be a header inside garbage: look for a whole frame further on
            continue
        frame = buffer[pos : pos + length]
        defect = driver.frame_defect(frame)
        if defect is not None:
            rejected.append((pos, pos + length, defect))
            pos += 1
            continue
        frames.append(frame)
        accepted.append((pos, pos + length))
        tail = None
        pos += length
    for start, end, defect in rejected:
        if frames and tail is not None and end > tail:
            continue  # a header in garbage whose "frame" runs into the frame still arriving
        if not any(start < a_end and a_start < end for a_start, a_end in accepted):
            raise driver.error(defect)
    return frames, (buffer[tail:] if tail is not None else b"")


# --- the driver ------------------------------------------------------------------

# The switches a driver may offer, named by the Sample key that reports their state.
CHARGE, DISCHARGE, BALANCER = "chrg_mosfet", "dischrg_mosfet", "balancer"


class Driver(ABC):
    """Base class of a protocol family driver. Subclasses live in `protocol/devices/`.

    Lifecycle of one poll over a connected link (done by the integration):
    subscribe to `notify_uuid` (once per link); for each frame of `requests()`,
    write it to `write_uuid` and collect notifications until
    `response_complete(request, notifications)`; then `decode(all notifications)`.
    A device without requests streams: the poll waits for
    `response_complete(None, notifications)`. A device with `read_uuid`
    is polled by reading that characteristic instead.
    """

    family: ClassVar[str]
    title: ClassVar[str]
    kind: ClassVar[Literal["battery", "controller"]] = "battery"
    matchers: ClassVar[tuple[Matcher, ...]] = ()
    discoverable: ClassVar[bool] = True
    # A generic driver (the standard Battery Service) claims a device only when no
    # family-specific driver does: many BMS also expose 0x180F.
    generic: ClassVar[bool] = False
    service_uuid: ClassVar[str]
    notify_uuid: ClassVar[str | None] = None
    # further characteristics whose notifications belong to the same stream (Super-B v2
    # pushes measurements on a second one); subscribed together with notify_uuid
    extra_notify_uuids: ClassVar[tuple[str, ...]] = ()
    write_uuid: ClassVar[str | None] = None
    read_uuid: ClassVar[str | None] = None
    write_with_response: ClassVar[bool] = False
    response_timeout: ClassVar[float] = 5.0
    # Other families whose devices advertise exactly like this one (e.g. Renogy's
    # BT-1/BT-2 modules sit on batteries and charge controllers): the user picks.
    alternatives: ClassVar[tuple[str, ...]] = ()
    # variants the advertisement cannot tell apart, tried when the advertised one is silent
    probe_variants: ClassVar[tuple[str, ...]] = ()
    # keys a successful decode must contain (checked after decode_frames)
    required_keys: ClassVar[tuple[str, ...]] = ()
    # False for protocols whose frames carry no checksum (their framing is checked instead)
    checksummed: ClassVar[bool] = True
    # True for devices that push data by themselves once subscribed (besides answering
    # requests): what they send between polls can be decoded as live data. None: a family
    # without requests streams, one with requests does not.
    pushes_data: ClassVar[bool | None] = None

    def streams(self) -> bool:
        """Whether the device sends data on its own between polls."""
        if self.pushes_data is not None:
            return self.pushes_data
        # asked of a fresh driver: some drivers keep state between their requests() calls
        return not type(self)(self.variant).requests()
    # problem_code bit (or coded field value) -> (condition, severity), see alarms.py;
    # empty: not decoded
    alarm_bits: ClassVar[AlarmTable] = {}

    def __init__(self, variant: str | None = None) -> None:
        self.variant = variant

    def alarm_table(self) -> AlarmTable:
        """The alarm bits of this device's problem_code (a variant may lay them out otherwise)."""
        return self.alarm_bits

    # advertisement matching

    @classmethod
    def matches(cls, adv: Advertisement) -> bool:
        """Whether this family claims the advertised device."""
        return any(matcher_matches(m, adv) for m in cls.matchers) and cls.claims(adv)

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:  # noqa: ARG003
        """Refinement beyond the manifest matchers (which HA applies by itself)."""
        return True

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str | None:  # noqa: ARG003
        """Protocol variant told by the advertisement (stored with the config entry)."""
        return None

    def learned_variant(self) -> str | None:
        """Another variant the device's answers showed it to be (the entry then stores it)."""
        return None

    # requests and framing

    def requests(self) -> list[bytes]:
        """Request frames written for one poll, in order (empty for streaming devices)."""
        return []

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        """Length of the frame whose header starts at `buffer[pos]`.

        None when no frame of this family starts there, NEED_MORE (0) when the
        bytes up to the end of the buffer fit a header but do not tell the
        length yet; the length may exceed the bytes received so far. Drivers
        that describe their framing this way get `frames_in` with
        resynchronisation from the base class.
        """
        del buffer, pos
        return None

    def frame_defect(self, frame: bytes) -> str | None:
        """Why a whole frame (as measured by `frame_length`) is invalid, e.g. a bad checksum."""
        del frame
        return None

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        """Split a notification byte stream into whole frames and an incomplete tail.

        The default uses `frame_length` and `frame_defect` (see the module doc).
        A driver may implement it itself; it then raises FrameError when the
        stream cannot be a frame of this family (wrong header, impossible
        length) and checks checksums in decode_frames.
        """
        return split_frames(self, buffer)

    def _own_framing(self) -> bool:
        return type(self).frame_length is Driver.frame_length

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        """`frames_in` with resynchronisation for drivers that implement `frames_in` themselves."""
        try:
            return self.frames_in(buffer)
        except FrameError:
            if not self._own_framing():
                raise
            for start in range(1, len(buffer)):
                try:
                    frames, rest = self.frames_in(buffer[start:])
                except FrameError:
                    continue
                if frames:
                    return frames, rest
            raise

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        """Whether a whole frame is the response to a request (None: streaming)."""
        return True

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        """Whether the notifications received since `request` hold its whole response."""
        frames, _rest = self.split(b"".join(notifications))
        return any(self.answers(request, f) for f in frames)

    @abstractmethod
    def decode_frames(self, frames: list[bytes]) -> Sample:
        """Decode whole frames (as split by frames_in) into a Sample."""

    # the whole pipeline

    def decode(self, notifications: Sequence[bytes], *, live: bool = False) -> Sample:
        """Notifications in arrival order → Sample; FrameError on anything malformed.

        `live`: the notifications come from a link that keeps streaming, so an
        unfinished frame after the complete ones is the next frame starting, not
        a truncated response.
        """
        buffer = b"".join(bytes(n) for n in notifications)
        if not buffer:
            raise FrameError(f"{self.family}: no data received")
        frames, rest = self.split(buffer)
        if rest and not live:
            raise FrameError(
                f"{self.family}: truncated frame, {len(rest)} trailing bytes do not form a whole frame"
            )
        if not frames:
            raise FrameError(f"{self.family}: no complete frame in {len(buffer)} bytes")
        sample = self.decode_frames(frames)
        missing = [k for k in self.required_keys if k not in sample]
        if missing:
            raise FrameError(f"{self.family}: response lacks {', '.join(missing)}")
        return finish_sample(self.family, sample)

    def error(self, defect: str) -> FrameError:
        """A FrameError naming this family."""
        return FrameError(f"{self.family}: {defect}")

    # opt-in control (switches named by the Sample key that reports their state)

    # whether the device answers a control frame (then `control_reply` judges the answer)
    control_acknowledged: ClassVar[bool] = False

    def control_switches(self) -> tuple[str, ...]:
        """Sample keys ("chrg_mosfet", "dischrg_mosfet", "balancer") this device can switch.

        None by default: a family offers control only where its write commands are
        documented and captured.
        """
        return ()

    def control_requests(
        self, switch: str, on: bool, state: Sample | None = None
    ) -> list[bytes]:
        """Frames that switch `switch` on or off, written in order ([]: not possible now).

        `state` is the latest Sample, for protocols whose one register holds several
        switches (the others must keep their reported state).
        """
        del switch, on, state
        return []

    def control_reply(self, request: bytes, notifications: Sequence[bytes]) -> bool | None:
        """The device's answer to a control frame: True accepted, False refused, None none yet."""
        del request, notifications
        return None


def finish_sample(family: str, sample: Sample, where: str = "") -> Sample:
    """Reject non-finite and impossible values, then add the values derived from measured ones.

    Each pack of a multi-pack sample (`packs`) is checked and completed the same way.
    """
    for key, value in sample.items():
        if key == "packs":
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise FrameError(f"{family}: {where}{key} is not a finite number")
    check_plausible(family, sample, where)
    for index, pack in enumerate(sample.get("packs") or ()):
        finish_sample(family, pack, f"pack {index + 1}: ")
    cells = sample.get("cell_voltages")
    if cells:
        sample.setdefault("cell_count", len(cells))
        sample.setdefault("delta_voltage", round(max(cells) - min(cells), 3))
    voltage, current = sample.get("voltage"), sample.get("current")
    if voltage is not None and current is not None:
        sample.setdefault("power", round(voltage * current, 3))
    charge = sample.get("cycle_charge")
    if charge is not None and voltage is not None:
        sample.setdefault("cycle_capacity", round(charge * voltage, 3))
    design = sample.get("design_capacity")
    if "battery_level" not in sample and charge is not None and design:
        sample["battery_level"] = round(min(100.0, 100.0 * charge / design), 1)
    if current is not None and current < 0 and charge is not None:
        sample.setdefault("runtime", round(charge / -current * 3600))
    pv_v, pv_i = sample.get("pv_voltage"), sample.get("pv_current")
    if pv_v is not None and pv_i is not None:
        sample.setdefault("pv_power", round(pv_v * pv_i, 3))
    return sample
