"""AG Automotive lithium batteries (AG Power Lithium): the E&J protocol on their own GATT service.

Frames, requests and values are those of the `ej` family (see ej.py); only the
service (00008000-0000-1000-8000-57616c6b697a, write ...8001, notify ...8002) and
the advertisement differ: ``AG<capacity>L<serial>`` with E&J's company id 0x5348.

Source: patman15/aiobmsble aiobmsble/bms/ag_bms.py, tests/bms/test_ag_bms.py and
aiobmsble/test_data/ag_bms.json @b0567331025033d33729385fa89a1198275d6486 (a user's
advertisement from BMS_BLE-HA issue 625 and the test's frames with their values).
"""

from __future__ import annotations

import re
from typing import ClassVar

from ..base import Matcher
from ..models import Advertisement
from .ej import EjDriver

SERVICE = "00008000-0000-1000-8000-57616c6b697a"
WRITE = "00008001-0000-1000-8000-57616c6b697a"
NOTIFY = "00008002-0000-1000-8000-57616c6b697a"
AG_NAME = re.compile(r"AG\d+L")


class AgDriver(EjDriver):
    """AG Automotive battery: an E&J BMS behind its own service UUIDs."""

    family = "ag"
    title = "AG Automotive"
    service_uuid = SERVICE
    notify_uuid = NOTIFY
    write_uuid = WRITE
    # hassfest wants three literal characters: one matcher per leading capacity digit,
    # claims() checks the rest of "AG<capacity>L"
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        Matcher(local_name=f"AG{digit}*", manufacturer_id=0x5348, connectable=True)
        for digit in "123456789"
    )

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        return AG_NAME.match(adv.local_name or "") is not None

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str | None:  # noqa: ARG003
        return None
