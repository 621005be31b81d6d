"""Options of a configured device, validated when the entry loads.

The options form rejects bad values, but options can also come from an older
version, a restored backup or an edited storage file. Whatever is stored, the
coordinator gets numbers in the documented ranges; each correction is
reported so the owner knows what was changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .const import (
    CONF_ALLOW_CONTROL,
    CONF_IMBALANCE_MINUTES,
    CONF_IMBALANCE_MV,
    CONF_KEEP_ALIVE,
    CONF_LIVE_INTERVAL,
    CONF_PACKS,
    CONF_PAIR,
    CONF_RELEASE_MINUTES,
    CONF_UPDATE_INTERVAL,
    DEFAULT_IMBALANCE_MINUTES,
    DEFAULT_IMBALANCE_MV,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_LIVE_INTERVAL,
    DEFAULT_RELEASE_MINUTES,
    DEFAULT_UPDATE_INTERVAL,
    MAX_IMBALANCE_MINUTES,
    MAX_IMBALANCE_MV,
    MAX_KEEP_ALIVE,
    MAX_LIVE_INTERVAL,
    MAX_PACKS,
    MAX_RELEASE_MINUTES,
    MAX_UPDATE_INTERVAL,
    MIN_IMBALANCE_MV,
    MIN_UPDATE_INTERVAL,
)

_PACK_VARIANT = re.compile(r"(?:hub|v3):(\d+)")


@dataclass(frozen=True, slots=True)
class OptionRange:
    """The documented range and default of one numeric option."""

    key: str
    default: int
    minimum: int
    maximum: int
    unit: str | None = None  # shown beside the number box of the options form


# in the order the options form shows them
RANGES = (
    OptionRange(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL,
                MIN_UPDATE_INTERVAL, MAX_UPDATE_INTERVAL, "s"),
    OptionRange(CONF_KEEP_ALIVE, DEFAULT_KEEP_ALIVE, 0, MAX_KEEP_ALIVE, "s"),
    OptionRange(CONF_RELEASE_MINUTES, DEFAULT_RELEASE_MINUTES, 1, MAX_RELEASE_MINUTES, "min"),
    OptionRange(CONF_PACKS, 1, 1, MAX_PACKS),
    OptionRange(CONF_IMBALANCE_MV, DEFAULT_IMBALANCE_MV, MIN_IMBALANCE_MV, MAX_IMBALANCE_MV,
                "mV"),
    OptionRange(CONF_IMBALANCE_MINUTES, DEFAULT_IMBALANCE_MINUTES, 0, MAX_IMBALANCE_MINUTES,
                "min"),
    OptionRange(CONF_LIVE_INTERVAL, DEFAULT_LIVE_INTERVAL, 0, MAX_LIVE_INTERVAL, "s"),
)


def _number(value: Any) -> float | None:
    """The value as a finite number, or None (bools and non-numeric text are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def validate_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Options with every numeric option a whole number in its range; what was corrected.

    A missing option stays missing (its default applies); one that is not a finite
    number gets its default; one out of range is clamped to the nearest bound.
    """
    fixed = dict(options)
    corrections: list[str] = []
    for spec in RANGES:
        if spec.key not in options:
            continue
        raw = options[spec.key]
        number = _number(raw)
        if number is None:
            value = spec.default
            corrections.append(f"{spec.key}={raw!r} is not a number: using {value}")
        else:
            value = int(min(max(round(number), spec.minimum), spec.maximum))
            if not spec.minimum <= number <= spec.maximum:
                corrections.append(
                    f"{spec.key}={raw!r} is outside {spec.minimum}..{spec.maximum}: using {value}"
                )
            elif isinstance(raw, str):
                corrections.append(f"{spec.key}={raw!r} is text, not a number: using {value}")
            elif value != number:
                corrections.append(f"{spec.key}={raw!r} is not a whole number: using {value}")
        if type(raw) is not int or raw != value:
            fixed[spec.key] = value
    # control can cut power, pairing writes a bond: only a stored True switches them on
    for key in (CONF_ALLOW_CONTROL, CONF_PAIR):
        if key in options and not isinstance(options[key], bool):
            corrections.append(f"{key}={options[key]!r} is not true or false: it stays off")
            fixed[key] = False
    return fixed, corrections


def has_pack_count(family: str, variant: str | None) -> bool:
    """Whether the owner tells how many packs the device has (it cannot say so itself).

    Renogy BT-1/BT-2 modules (legacy protocol) may sit on a hub or a daisy chain of
    batteries; Seplos V3 systems may have packs in parallel. Other multi-pack
    devices report their packs themselves.
    """
    if family == "renogy_battery":
        return variant in (None, "legacy") or (variant or "").startswith("hub:")
    if family == "seplos":
        return "v2" not in (variant or "").lower()
    return False


def configured_packs(variant: str | None, options: Mapping[str, Any]) -> int:
    """The pack count the owner set, else the one the stored variant names, else 1."""
    options = validate_options(options)[0]
    if CONF_PACKS in options:
        return int(options[CONF_PACKS])
    match = _PACK_VARIANT.search(variant or "")
    return min(max(int(match.group(1)), 1), MAX_PACKS) if match else 1


def driver_variant(family: str, variant: str | None, options: Mapping[str, Any]) -> str | None:
    """The protocol variant to poll with: the stored one, with the owner's pack count applied."""
    if CONF_PACKS not in options or not has_pack_count(family, variant):
        return variant
    packs = configured_packs(variant, options)
    if family == "renogy_battery":
        return f"hub:{packs}" if packs > 1 else "legacy"
    return f"v3:{packs}" if packs > 1 else "v3"
