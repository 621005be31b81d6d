"""Devices that only answer a bonded central: how their refusal looks, and failure kinds.

Some devices (some EPEver units, JK BMS firmware 19.3x, Votronic's Bluetooth
connector) refuse every GATT operation from a central they hold no bond with,
with ATT error 0x05 Insufficient Authentication or 0x0F Insufficient
Encryption (0x0C, an encryption key too short, means the same). Each Bluetooth
stack reports it in its own words, and bleak passes them on as BleakError:
- BlueZ (local adapters): ``[org.bluez.Error.NotPermitted] Not paired``;
  before BlueZ 5.51 ``Operation failed with ATT error: 0x05``;
- ESPHome proxies (aioesphomeapi through bleak-esphome): ``Bluetooth GATT Error
  address=... handle=... error=5 description=Insufficient authentication``;
- CoreBluetooth (macOS): ``Authentication is insufficient.``

The cure is bonding through bleak's `pair()` on the same connection
(Link.pair); an adapter or proxy that cannot pair (bleak-esphome without the
proxy's PAIRING feature raises NotImplementedError) or a device that rejects
the bond gets a failure kind of its own, so the user is told what to do
instead of seeing a generic error.

An entry pairs only when its device refuses, not on every connect: a bonded
device is read without it (BlueZ re-encrypts a bonded link by itself), a link
costs no extra round trip, and a device bonded another way (bluetoothctl on
the host) keeps working behind an adapter or proxy that cannot pair.
"""

from __future__ import annotations

import re

# Failure kinds (LinkError.kind), also translation keys of the coordinator's errors
PAIRING_REQUIRED = "pairing_required"  # the device refuses; this device is not set to pair
PAIRING_UNSUPPORTED = "pairing_unsupported"  # the adapter or proxy cannot pair
PAIRING_FAILED = "pairing_failed"  # pairing failed, or the device still refuses after it
PAIRING_KINDS = frozenset({PAIRING_REQUIRED, PAIRING_UNSUPPORTED, PAIRING_FAILED})

PAIR_TIMEOUT = 30.0  # s a pairing may take (a proxy waits up to 30 s for the device)

ATT_INSUFFICIENT_AUTHENTICATION = 0x05
ATT_INSUFFICIENT_KEY_SIZE = 0x0C
ATT_INSUFFICIENT_ENCRYPTION = 0x0F
_CODES = (ATT_INSUFFICIENT_AUTHENTICATION, ATT_INSUFFICIENT_KEY_SIZE, ATT_INSUFFICIENT_ENCRYPTION)

_REFUSAL = re.compile(
    r"not paired"
    r"|insufficient (?:authentication|encryption)"
    r"|(?:authentication|encryption) is insufficient"
    rf"|att error: 0x0*(?:{'|'.join(f'{c:x}' for c in _CODES)})\b"
    rf"|\berror=(?:{'|'.join(str(c) for c in _CODES)}) description=",
    re.IGNORECASE,
)


def needs_pairing(err: BaseException) -> bool:
    """Whether a failed GATT operation was refused for lack of a bond (or its encryption).

    Looks at the exception and the ones it was raised from: bleak-esphome raises a
    BleakError from aioesphomeapi's error, whose text carries the code.
    """
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if _REFUSAL.search(str(cause)):
            return True
        cause = cause.__cause__ or cause.__context__
    return False
