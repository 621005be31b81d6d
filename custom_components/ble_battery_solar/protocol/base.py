"""Driver base class and the building blocks every protocol family uses.

A driver describes one protocol family: how its devices advertise (matchers in
Home Assistant's manifest format), which GATT characteristics carry the
protocol, which request frames one poll writes, how the notification byte
stream splits into whole frames, and how whole frames decode into a Sample.
Drivers do no I/O and never import Home Assistant.
"""

from __future__ import annotations

import fnmatch
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar, Literal, TypedDict

from .models import Advertisement, FrameError, Sample

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


# --- checksums -------------------------------------------------------------------


def crc16_modbus(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent little-endian."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def crc16_xmodem(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/XMODEM (poly 0x1021, init 0); sent big-endian."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
    return crc & 0xFFFF


def sum8(data: bytes | bytearray | memoryview) -> int:
    """Sum of bytes modulo 256."""
    return sum(data) & 0xFF


def sum16(data: bytes | bytearray | memoryview) -> int:
    """Sum of bytes modulo 65536."""
    return sum(data) & 0xFFFF


# --- field tables ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """One numeric value in a frame: value = (raw + add) * scale.

    `offset` counts from the start of the data the table is applied to.
    """

    key: str
    offset: int
    size: int
    scale: float = 1.0
    signed: bool = False
    add: float = 0.0
    order: Literal["big", "little"] = "big"
    kind: Literal["float", "int", "bool"] = "float"
    mask: int | None = None


def read_int(data: bytes, offset: int, size: int, *, signed: bool = False,
             order: Literal["big", "little"] = "big") -> int:
    """Integer at offset; the caller has checked the length."""
    return int.from_bytes(data[offset : offset + size], order, signed=signed)


def read_fields(family: str, data: bytes, fields: Iterable[Field]) -> dict[str, Any]:
    """Apply a field table to data; FrameError if a field lies beyond the data."""
    out: dict[str, Any] = {}
    for f in fields:
        if f.offset + f.size > len(data):
            raise FrameError(
                f"{family}: field {f.key} at byte {f.offset} lies beyond the {len(data)}-byte payload"
            )
        raw = read_int(data, f.offset, f.size, signed=f.signed, order=f.order)
        if f.mask is not None:
            raw &= f.mask
        if f.kind == "bool":
            out[f.key] = bool(raw)
        elif f.kind == "int":
            # no float detour for plain integers: words above 2**53 must stay exact
            out[f.key] = raw if f.scale == 1 and not f.add else int((raw + f.add) * f.scale)
        else:
            out[f.key] = round((raw + f.add) * f.scale, 6)
    return out


def values_list(data: bytes, offset: int, count: int, size: int, *, scale: float = 1.0,
                add: float = 0.0, signed: bool = False,
                order: Literal["big", "little"] = "big") -> list[float]:
    """`count` consecutive equally-sized values, e.g. cell voltages or temperatures."""
    return [
        round((read_int(data, offset + i * size, size, signed=signed, order=order) + add) * scale, 6)
        for i in range(count)
    ]


# --- the driver ------------------------------------------------------------------


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
    write_uuid: ClassVar[str | None] = None
    read_uuid: ClassVar[str | None] = None
    write_with_response: ClassVar[bool] = False
    response_timeout: ClassVar[float] = 5.0
    # Other families whose devices advertise exactly like this one (e.g. Renogy's
    # BT-1/BT-2 modules sit on batteries and charge controllers): the user picks.
    alternatives: ClassVar[tuple[str, ...]] = ()
    # keys a successful decode must contain (checked after decode_frames)
    required_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, variant: str | None = None) -> None:
        self.variant = variant

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

    # requests and framing

    def requests(self) -> list[bytes]:
        """Request frames written for one poll, in order (empty for streaming devices)."""
        return []

    @abstractmethod
    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        """Split a notification byte stream into whole frames and an incomplete tail.

        Raises FrameError when the stream cannot be a frame of this family
        (wrong header, impossible length); checksums are checked in decode_frames.
        """

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        """Whether a whole frame is the response to a request (None: streaming)."""
        return True

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        """Whether the notifications received since `request` hold its whole response."""
        frames, _rest = self.frames_in(b"".join(notifications))
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
        frames, rest = self.frames_in(buffer)
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


def finish_sample(family: str, sample: Sample) -> Sample:
    """Add the values derived from measured ones and reject non-finite numbers."""
    for key, value in sample.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise FrameError(f"{family}: {key} is not a finite number")
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
