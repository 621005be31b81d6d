"""Opt-in control: switch a MOSFET over the cached link and read the result back.

Every write goes through the connection cache's `session()` (one operation per
device at a time, the cached link reused, any failure drops the link) and is
followed, on the same link, by a poll: what the switch then shows is what the
BMS reports, never what was asked for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bleak.exc import BleakError
from homeassistant.exceptions import HomeAssistantError

from .connection import LINK_LOST, MALFORMED, TIMEOUT, ConnectionManager, LinkError
from .const import DOMAIN
from .link import owner_text
from .polling import MAX_KEPT_FRAMES
from .protocol import Driver, FrameError, Sample

if TYPE_CHECKING:
    from .coordinator import BleBatterySolarCoordinator

ACK_WAIT = 3.0  # s a protocol that acknowledges control frames gets for its answer
SETTLE = 1.0  # s before the one re-read when the first read-back shows the old state


@dataclass(slots=True)
class ControlResult:
    """The state read back after a control write, and what the device answered."""

    sample: Sample
    refused: bool  # the device answered a control frame with a refusal
    unanswered: bool  # a device that acknowledges control frames did not answer one


async def switch_and_read_back(
    manager: ConnectionManager, address: str, driver: Driver, requests: list[bytes], *,
    switch: str, on: bool, keep_alive: float, interval: float | None, pair: bool = False,
) -> ControlResult:
    """Write the control frames, then poll until the BMS reports `switch` as `on` or
    SETTLE has passed; LinkError (kind says why) when the link or the read-back fails."""
    stats = manager.device_stats(address)
    async with manager.session(
        address, driver, keep_alive=keep_alive, interval=interval, pair=pair
    ) as link:
        try:
            refused = unanswered = False
            for request in requests:
                verdict = await link.write_control(request, wait=ACK_WAIT)
                if verdict is False:
                    refused = True
                    break
                unanswered |= verdict is None and driver.control_acknowledged
            sample = await link.poll()
            if not refused and sample.get(switch) is not on:
                # a BMS may take a moment to switch: read once more before reporting
                await asyncio.sleep(SETTLE)
                sample = await link.poll()
            stats.last_frames = [f.hex() for f in link.received[-MAX_KEPT_FRAMES:]]
        except FrameError as err:
            raise LinkError(str(err), kind=MALFORMED) from err
        except (BleakError, EOFError, BrokenPipeError) as err:
            raise LinkError(
                f"link lost during a control write: {str(err) or type(err).__name__}",
                kind=LINK_LOST,
            ) from err
        except TimeoutError as err:
            raise LinkError("GATT operation timed out", kind=TIMEOUT) from err
    return ControlResult(sample, refused, unanswered)


async def async_control(coordinator: BleBatterySolarCoordinator, switch: str, on: bool) -> None:
    """Switch a MOSFET of the coordinator's device and show the state the BMS then reports.

    HomeAssistantError when control is off or not possible now, the write fails, or the
    BMS refuses or ignores it; the entities show the state read back (or the last one read).
    """
    # never from a state the last read could not confirm, never while released
    usable = (coordinator.allow_control and coordinator.last_update_success
              and coordinator.released_until is None)
    requests = coordinator.driver.control_requests(switch, on, coordinator.data) if usable else []
    if not requests:
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key=(
            "control_not_possible" if coordinator.allow_control else "control_disabled"))
    interval = coordinator.update_interval
    try:
        result = await switch_and_read_back(
            coordinator.manager, coordinator.address, coordinator.driver, requests,
            switch=switch, on=on, keep_alive=coordinator.keep_alive,
            interval=interval.total_seconds() if interval else None, pair=coordinator.pair,
        )
    except LinkError as err:
        # what the device shows now is unknown: read it as soon as possible
        coordinator.hass.async_create_task(coordinator.async_request_refresh(), eager_start=False)
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="control_failed",
            translation_placeholders={"error": owner_text(coordinator.address, err)},
        ) from err
    if coordinator.last_update_success:
        coordinator.async_show_read_back(result.sample)
    if result.sample.get(switch) is not on:
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key=(
            "control_refused" if result.refused else "control_not_applied"))
