"""Field tables: numeric values at fixed offsets of a frame, read exactly.

An "int" field (codes, counts, bitmasks of any width) is computed in integer
arithmetic from the bytes, never through a float; a field beyond the data is a
FrameError naming the family and the field.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .models import FrameError


@dataclass(frozen=True, slots=True)
class Field:
    """One numeric value in a frame: value = (raw + add) * scale.

    `offset` counts from the start of the data the table is applied to.
    An "int" field (codes, counts, bitmasks of any width) is computed in
    integer arithmetic from the bytes, so its `add` and `scale` must be whole
    numbers; a float would lose the low bits of words wider than 53 bits.
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

    def __post_init__(self) -> None:
        if self.kind == "int" and not (float(self.scale).is_integer() and float(self.add).is_integer()):
            raise ValueError(f"int field {self.key} needs a whole-number scale and offset")


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
            out[f.key] = (raw + int(f.add)) * int(f.scale)
        else:
            out[f.key] = round((raw + f.add) * f.scale, 6)
    return out


def values_list(data: bytes, offset: int, count: int, size: int, *, scale: float = 1.0,
                add: float = 0.0, signed: bool = False,
                order: Literal["big", "little"] = "big",
                absent: Collection[int] = ()) -> list[float]:
    """`count` consecutive equally-sized values, e.g. cell voltages or temperatures.

    Slots whose raw value is in `absent` (the protocol's "no sensor" sentinels,
    compared before sign conversion) are left out.
    """
    out: list[float] = []
    for i in range(count):
        start = offset + i * size
        if absent and read_int(data, start, size, order=order) in absent:
            continue
        out.append(round((read_int(data, start, size, signed=signed, order=order) + add) * scale, 6))
    return out
