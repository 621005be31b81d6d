"""Simulated devices by family name (used by the dev glue, tests and benchmarks)."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from . import families
from .devices import SimDevice


def _discover() -> dict[str, type[SimDevice]]:
    """Every SimDevice subclass defined in a module of blesim/families (one file a family)."""
    found: dict[str, type[SimDevice]] = {}
    for info in sorted(pkgutil.iter_modules(families.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{families.__name__}.{info.name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, SimDevice)
                and obj.__module__ == module.__name__
                and "family" in vars(obj)
            ):
                if obj.family in found:  # pragma: no cover - a programming error
                    raise RuntimeError(f"two simulated devices for family {obj.family}")
                found[obj.family] = obj
    return found


DEVICE_CLASSES: dict[str, type[SimDevice]] = _discover()
FAMILIES: tuple[str, ...] = tuple(sorted(DEVICE_CLASSES))


def make_device(family: str, address: str, name: str | None = None, *,
                variant: str | None = None, replay: str | None = None,
                **kwargs: Any) -> SimDevice:
    """A simulated device of a protocol family, optionally replaying a vector id."""
    try:
        cls = DEVICE_CLASSES[family]
    except KeyError:
        raise ValueError(
            f"blesim has no simulated {family!r} device; known: {', '.join(FAMILIES)}"
        ) from None
    device = cls(address, name, variant=variant, **kwargs)
    if replay:
        device.use_replay(replay)
    return device
