"""Which protocol family answers a device: the config flow's test before configuring.

A probe connects through the shared ConnectionManager (slot budget, every client
awaited `disconnect()`), then, for each candidate family whose GATT characteristics
the device has, sends only that family's first poll request (a documented read
request: every request a driver writes is a read), or reads its read
characteristic, or listens to its stream, and waits for a whole response in that
family's framing. It never writes anything else. It is generic over the driver
registry: a new family is probed the way it is polled. A device that refuses
an unbonded central (pairing.py) is paired over the same link, through HA's
bleak path, and asked again; the caller learns that it was (`on_paired`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError
from homeassistant.core import HomeAssistant

from . import get_manager
from .connection import (
    CONNECT_FAILED,
    LINK_LOST,
    NO_SLOT,
    NOT_FOUND,
    TIMEOUT,
    Link,
    LinkError,
)
from .pairing import PAIRING_FAILED, PAIRING_UNSUPPORTED, needs_pairing
from .protocol import DRIVERS, Advertisement, Driver, FrameError
from .protocol.modbus import ModbusDriver, is_exception

_LOGGER = logging.getLogger(__name__)

# LinkError kinds → the config flow's form errors (strings.json, config.error)
FORM_ERRORS: dict[str, str] = {
    NOT_FOUND: "out_of_range",
    NO_SLOT: "no_free_slot",
    CONNECT_FAILED: "held_by_other",
    TIMEOUT: "no_answer",
    LINK_LOST: "link_lost",
    PAIRING_UNSUPPORTED: "pairing_unsupported",
    PAIRING_FAILED: "pairing_failed",
}
NO_ANSWER = "no_answer"
PROBE_KEEP_ALIVE = 60.0  # s the probe's link waits for the entry the setup creates


def form_error(err: LinkError) -> str:
    """The form error that tells the user why the device could not be read."""
    return FORM_ERRORS.get(err.kind, NO_ANSWER)


def candidate_drivers(families: Sequence[str], advertisement: object) -> list[Driver]:
    """Driver instances of the families, each in the variant the advertisement tells."""
    adv = Advertisement.from_any(advertisement)
    return [DRIVERS[f](DRIVERS[f].variant_for(adv)) for f in families]


def _has_characteristics(client: BleakClient, driver: Driver) -> bool:
    """Whether the device has every characteristic the family polls through."""
    services = client.services
    uuids = [u for u in (driver.notify_uuid, *driver.extra_notify_uuids, driver.write_uuid,
                         driver.read_uuid) if u]
    return bool(uuids) and all(services.get_characteristic(u) is not None for u in uuids)


async def _answers(client: BleakClient, driver: Driver) -> bool:
    """Whether the device answers the family's first read request in its framing."""
    if driver.read_uuid is not None:
        try:
            async with asyncio.timeout(driver.response_timeout):
                data = bytes(await client.read_gatt_char(driver.read_uuid))
            driver.decode([data])
        except (TimeoutError, FrameError):
            return False
        return True
    assert driver.notify_uuid is not None
    received: list[bytes] = []
    arrived = asyncio.Event()

    def on_notify(_char: BleakGATTCharacteristic, data: bytearray) -> None:
        received.append(bytes(data))
        arrived.set()

    try:
        requests = driver.requests()
    except FrameError:
        return False  # its requests need what only the advertised name tells (e.g. a key)
    request = requests[0] if requests else None
    subscribed: list[str] = []
    try:
        for uuid in (driver.notify_uuid, *driver.extra_notify_uuids):
            await client.start_notify(uuid, on_notify)
            subscribed.append(uuid)
        if request is not None:
            assert driver.write_uuid is not None
            await client.write_gatt_char(
                driver.write_uuid, request, response=driver.write_with_response
            )
        async with asyncio.timeout(driver.response_timeout):
            while not driver.response_complete(request, received):
                arrived.clear()
                await arrived.wait()
    except (TimeoutError, FrameError):
        return False  # silence, or bytes that are no frame of this family
    finally:
        for uuid in subscribed:
            with contextlib.suppress(BleakError, TimeoutError, EOFError):
                await client.stop_notify(uuid)
    if isinstance(driver, ModbusDriver):
        # An exception reply ("illegal address") is a Modbus slave, not this device type.
        frames, _rest = driver.frames_in(b"".join(received))
        return any(driver.answers(request, f) and not is_exception(f) for f in frames)
    return True


async def _ask(link: Link, driver: Driver, on_paired: Callable[[], None] | None) -> bool:
    """`_answers` over the link; a refusal for lack of a bond pairs first, once per link.

    Raises LinkError: PAIRING_UNSUPPORTED / PAIRING_FAILED when the device must be
    paired and cannot be, LINK_LOST when the link failed otherwise.
    """
    while True:
        try:
            return await _answers(link.client, driver)
        except (BleakError, EOFError, BrokenPipeError) as err:
            if not needs_pairing(err):
                raise LinkError(
                    f"link lost while probing: {str(err) or type(err).__name__}", kind=LINK_LOST
                ) from err
            if link.paired:
                raise LinkError(
                    f"the device still refuses after pairing: {err}", kind=PAIRING_FAILED
                ) from err
            _LOGGER.debug("%s: refused for lack of a bond, pairing: %s", link.address, err)
        await link.pair()
        if on_paired is not None:
            on_paired()


async def async_probe(
    hass: HomeAssistant, address: str, drivers: Sequence[Driver], *, first_only: bool,
    variants: dict[str, str | None] | None = None, on_paired: Callable[[], None] | None = None,
) -> list[str]:
    """The families (in the given order) whose first read request the device answered.

    `first_only`: stop at the first family that answers. Families whose GATT
    characteristics the device lacks are skipped without writing anything. A family
    that is silent in the given variant is asked in its `probe_variants`; the one
    that answers is put in `variants` (family -> variant). `on_paired` is called when
    the device had to be paired (it refused an unbonded central) and was.
    Raises LinkError when the device cannot be connected or paired (`kind` says why).
    """
    manager = get_manager(hass)
    answered: list[str] = []
    # The link stays open a little while for the entry the setup is about to create
    # (its first read adopts it: one connect instead of two); unanswered, it closes now.
    async with manager.session(address, drivers[0], keep_alive=PROBE_KEEP_ALIVE) as link:
        client = link.client
        for driver in drivers:
            if not _has_characteristics(client, driver):
                continue
            ok = False
            for variant in (driver.variant, *type(driver).probe_variants):
                candidate = driver if variant == driver.variant else type(driver)(variant)
                ok = await _ask(link, candidate, on_paired)
                _LOGGER.debug("%s: %s (%s) probe %s", address, driver.family, variant,
                              "answered" if ok else "unanswered")
                if ok:
                    if variants is not None and candidate is not driver:
                        variants[driver.family] = variant
                    break
            if ok:
                if not answered:
                    link.driver = candidate  # what the entry will most likely poll with
                answered.append(driver.family)
                if first_only:
                    break
    if not answered:
        await manager.release(address)
    return answered
