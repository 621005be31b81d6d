"""The Connection status and last-read sensors: why a device's values are unavailable.

Availability: when a read fails, and while the device is released for the vendor's
phone app, the measured values are unavailable, not their last reading. Home
Assistant's rule `entity-unavailable` asks for exactly that ("if we can't fetch data
from a device, mark it unavailable ... rather than just showing the last known
state"), and a value a release stops refreshing is not fresh. The last readings stay
in the entities' history; these two sensors stay available and say why
(released until when, out of range, no free slot, held by the phone app, not
paired, error)
and when the device was last read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.event import async_call_later

from .connection import CONNECT_FAILED, NO_SLOT, NOT_FOUND
from .coordinator import BleBatterySolarCoordinator
from .entity import BleBatterySolarEntity
from .pairing import PAIRING_KINDS

CONNECTED, IDLE, RELEASED, ERROR = "connected", "idle", "released", "error"
OUT_OF_RANGE, NO_FREE_SLOT, HELD_BY_OTHER = "out_of_range", "no_free_slot", "held_by_other"
NOT_PAIRED = "not_paired"  # the device answers only a bonded central, and is not paired
STATUSES = [CONNECTED, IDLE, RELEASED, OUT_OF_RANGE, NO_FREE_SLOT, HELD_BY_OTHER, NOT_PAIRED,
            ERROR]
# failure kind of the last poll -> status; every other failure is "error"
_FAILED_AS = {NOT_FOUND: OUT_OF_RANGE, NO_SLOT: NO_FREE_SLOT, CONNECT_FAILED: HELD_BY_OTHER,
              **dict.fromkeys(PAIRING_KINDS, NOT_PAIRED)}


def link_status(coordinator: BleBatterySolarCoordinator) -> str:
    """The device's connection status now."""
    if coordinator.released_until is not None:
        return RELEASED
    if not coordinator.last_update_success:
        kind = getattr(coordinator.last_exception, "translation_key", None)
        return _FAILED_AS.get(kind or "", ERROR)
    return CONNECTED if coordinator.manager.is_open(coordinator.address) else IDLE


CONNECTION = SensorEntityDescription(
    key="connection", translation_key="connection",
    device_class=SensorDeviceClass.ENUM, options=STATUSES,
)
RELEASED_UNTIL = SensorEntityDescription(
    key="released_until", translation_key="released_until",
    device_class=SensorDeviceClass.TIMESTAMP, entity_category=EntityCategory.DIAGNOSTIC,
)
LAST_READ = SensorEntityDescription(
    key="last_read", translation_key="last_read",
    device_class=SensorDeviceClass.TIMESTAMP, entity_category=EntityCategory.DIAGNOSTIC,
)


class ConnectionSensor(BleBatterySolarEntity, SensorEntity):
    """Connection status (ENUM); available whether or not the device's values are."""

    _unsub_idle: CALLBACK_TYPE | None = None

    @property
    def available(self) -> bool:
        return True

    @property
    def native_value(self) -> str:
        return link_status(self.coordinator)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Until when a release lasts; the reason of the last failure."""
        coordinator = self.coordinator
        attributes: dict[str, Any] = {}
        if coordinator.released_until is not None:
            attributes["released_until"] = coordinator.released_until.isoformat()
        elif not coordinator.last_update_success and coordinator.last_exception is not None:
            attributes["error"] = str(coordinator.last_exception)
        return attributes

    async def async_added_to_hass(self) -> None:
        """Start watching for the end of the idle window."""
        await super().async_added_to_hass()
        self._schedule_idle_check()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._schedule_idle_check()
        super()._handle_coordinator_update()

    @callback
    def _schedule_idle_check(self) -> None:
        # The link closes by itself when its idle window ends, between polls: show
        # "idle" then, not "connected" until the next poll.
        self._cancel_idle_check()
        keep_alive = self.coordinator.keep_alive
        if self.native_value == CONNECTED and keep_alive > 0:
            self._unsub_idle = async_call_later(self.hass, keep_alive + 1, self._idle_check)

    @callback
    def _idle_check(self, _now: datetime) -> None:
        self._unsub_idle = None
        self.async_write_ha_state()

    def _cancel_idle_check(self) -> None:
        if self._unsub_idle is not None:
            self._unsub_idle()
            self._unsub_idle = None

    async def async_will_remove_from_hass(self) -> None:
        """Cancel the pending idle check."""
        self._cancel_idle_check()
        await super().async_will_remove_from_hass()


class LastReadSensor(BleBatterySolarEntity, SensorEntity):
    """When the device was last read successfully; stays available while it cannot be."""

    @property
    def available(self) -> bool:
        return self.native_value is not None

    @property
    def native_value(self) -> datetime | None:
        return self.coordinator.last_update_success_time

    async def async_added_to_hass(self) -> None:
        """Also move on after a read whose values did not change."""
        await super().async_added_to_hass()
        self.async_on_remove(self.coordinator.async_add_read_listener(self.async_write_ha_state))


class ReleasedUntilSensor(BleBatterySolarEntity, SensorEntity):
    """Until when the device is released for the phone app; available only while it is.

    The Connection sensor's attribute says the same, but the device page shows no
    attributes: this row does ("in 9 minutes").
    """

    @property
    def available(self) -> bool:
        return self.coordinator.released_until is not None

    @property
    def native_value(self) -> datetime | None:
        return self.coordinator.released_until
