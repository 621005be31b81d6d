"""BMS and solar-controller protocol library: pure Python, no Home Assistant.

Public API::

    from custom_components.ble_battery_solar.protocol import decode, FrameError
    sample = decode("jbd", [notification, ...])

Each family is one module in `devices/` defining one `Driver` subclass; the
registry finds them by itself, so adding a family is a one-file change.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from typing import Any

from . import devices
from .alarms import CONDITIONS, NEEDS_ACTION, active_alarms, unnamed_bits
from .base import Driver, Matcher, uuid16
from .models import Advertisement, FrameError, Sample

__all__ = [
    "CONDITIONS",
    "FAMILIES",
    "NEEDS_ACTION",
    "Advertisement",
    "Driver",
    "FrameError",
    "Matcher",
    "Sample",
    "active_alarms",
    "decode",
    "driver_for",
    "drivers_matching",
    "get_driver",
    "unnamed_bits",
    "uuid16",
]


def _discover() -> dict[str, type[Driver]]:
    found: dict[str, type[Driver]] = {}
    for info in sorted(pkgutil.iter_modules(devices.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{devices.__name__}.{info.name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, Driver)
                and obj.__module__ == module.__name__
                and "family" in vars(obj)
            ):
                if obj.family in found:  # pragma: no cover - a programming error
                    raise RuntimeError(f"two drivers for family {obj.family}")
                found[obj.family] = obj
    return found


DRIVERS: dict[str, type[Driver]] = _discover()
FAMILIES: tuple[str, ...] = tuple(DRIVERS)


def get_driver(family: str) -> type[Driver]:
    """Driver class of a family; KeyError names the known families."""
    try:
        return DRIVERS[family]
    except KeyError:
        raise KeyError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}") from None


def decode(family: str, frames: Sequence[bytes], *, variant: str | None = None) -> Sample:
    """Decode notification payloads (in arrival order) of one poll into a Sample.

    Raises FrameError (a ValueError) for malformed input, naming family and defect.
    """
    try:
        driver_cls = DRIVERS[family]
    except KeyError:
        raise FrameError(f"unknown family {family!r}") from None
    try:
        return driver_cls(variant).decode(frames)
    except FrameError:
        raise
    except (IndexError, ValueError, KeyError, TypeError, ZeroDivisionError, OverflowError) as err:
        # A decoder bug must still surface as a clean error, never as garbage.
        raise FrameError(f"{family}: malformed frame ({type(err).__name__}: {err})") from err


def drivers_matching(advertisement: Any) -> list[type[Driver]]:
    """Every driver whose matchers claim the advertisement (normally zero or one)."""
    adv = Advertisement.from_any(advertisement)
    matching = [cls for cls in DRIVERS.values() if cls.matches(adv)]
    specific = [cls for cls in matching if not cls.generic]
    return specific or matching


def driver_for(advertisement: Any) -> type[Driver] | None:
    """The driver of an advertised device, or None when no family (or several) claim it."""
    matching = drivers_matching(advertisement)
    return matching[0] if len(matching) == 1 else None
