"""Simulated devices by family name (used by the dev glue, tests and benchmarks)."""

from __future__ import annotations

from typing import Any

from .devices import SimDevice
from .families.ant import AntDevice
from .families.ble_battery_service import BatteryServiceDevice
from .families.daly import DalyDevice
from .families.eg4 import Eg4Device
from .families.jbd import JbdDevice
from .families.jk import JkDevice
from .families.litime import LiTimeDevice
from .families.renogy_battery import RenogyBatteryDevice
from .families.renogy_controller import RenogyControllerDevice
from .families.seplos import SeplosDevice
from .families.tianpower import TianPowerDevice
from .families.topband import TopbandDevice

DEVICE_CLASSES: dict[str, type[SimDevice]] = {
    cls.family: cls
    for cls in (
        AntDevice, BatteryServiceDevice, DalyDevice, Eg4Device, JbdDevice, JkDevice,
        LiTimeDevice, RenogyBatteryDevice, RenogyControllerDevice, SeplosDevice,
        TianPowerDevice, TopbandDevice,
    )
}
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
