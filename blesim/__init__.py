"""blesim: a virtual Bluetooth proxy and simulated BMS / solar devices (dev and test only).

Never shipped by HACS: it lives outside custom_components/. See docs/simulator.md.
"""

from .catalog import DEVICE_CLASSES, FAMILIES, make_device
from .devices import Faults, SimDevice
from .families.ble_battery_service import BatteryServiceDevice
from .families.jbd import JbdDevice
from .model import BatteryModel, SolarModel
from .proxy import Latency, ProxyFaults, VirtualClient, VirtualProxy
from .replay import Replay

__all__ = [
    "DEVICE_CLASSES",
    "FAMILIES",
    "BatteryModel",
    "BatteryServiceDevice",
    "Faults",
    "JbdDevice",
    "Latency",
    "ProxyFaults",
    "Replay",
    "SimDevice",
    "SolarModel",
    "VirtualClient",
    "VirtualProxy",
    "make_device",
]
