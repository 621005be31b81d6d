"""blesim: a virtual Bluetooth proxy and simulated BMS / solar devices (dev and test only).

Never shipped by HACS: it lives outside custom_components/.
"""

from .devices import BatteryModel, BatteryServiceDevice, Faults, JbdDevice, SimDevice
from .proxy import Latency, VirtualProxy

__all__ = [
    "BatteryModel",
    "BatteryServiceDevice",
    "Faults",
    "JbdDevice",
    "Latency",
    "SimDevice",
    "VirtualProxy",
]
