"""Eleksol batteries: the JBD protocol (see jbd.py) on service 0xFF06 (notify 0xFF07, write 0xFF08).

Eleksol packs carry a Jiabaida (JBD) BMS whose Bluetooth module uses its own
service. 0xFF06 alone is not specific to one vendor, so a device is claimed only
when its address carries one of the module vendor's prefixes (A4:C1:37, A4:C1:38,
A5:C2:37, A5:C2:39, AA:C2:37, the prefixes JBD's modules use). Home Assistant's
manifest matchers cannot express an address prefix: the manifest matches the
service, and `claims()` checks the prefix.

Source: patman15/aiobmsble aiobmsble/bms/eleksol_bms.py and
aiobmsble/test_data/eleksol_bms.json @b0567331025033d33729385fa89a1198275d6486 (a user's
advertisement from BMS_BLE-HA issue 649).
"""

from __future__ import annotations

from typing import ClassVar

from ..base import Matcher, uuid16
from ..models import Advertisement
from .jbd import JbdDriver

PREFIXES = frozenset({"A4:C1:37", "A4:C1:38", "A5:C2:37", "A5:C2:39", "AA:C2:37"})


class EleksolDriver(JbdDriver):
    """Eleksol battery: a JBD BMS behind service 0xFF06."""

    family = "eleksol"
    title = "Eleksol"
    service_uuid = uuid16(0xFF06)
    notify_uuid = uuid16(0xFF07)
    write_uuid = uuid16(0xFF08)
    matchers: ClassVar[tuple[Matcher, ...]] = ({"service_uuid": uuid16(0xFF06), "connectable": True},)

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        return (adv.address or "").upper().replace("-", ":")[:8] in PREFIXES
