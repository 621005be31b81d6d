"""Simulated devices by family name (used by the dev glue, tests and benchmarks)."""

from __future__ import annotations

from .devices import BatteryServiceDevice, JbdDevice, SimDevice

DEVICE_CLASSES: dict[str, type[SimDevice]] = {
    cls.family: cls for cls in (BatteryServiceDevice, JbdDevice)
}


def make_device(family: str, address: str, name: str | None = None) -> SimDevice:
    """A simulated device of a protocol family."""
    try:
        cls = DEVICE_CLASSES[family]
    except KeyError:
        raise ValueError(
            f"blesim has no simulated {family!r} device; known: {', '.join(sorted(DEVICE_CLASSES))}"
        ) from None
    return cls(address, name)
