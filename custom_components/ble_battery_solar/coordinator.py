"""Per-device DataUpdateCoordinator: polls through the shared ConnectionManager."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from homeassistant.components import bluetooth
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import TimestampDataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .connection import (
    CONNECT_FAILED,
    LINK_LOST,
    MALFORMED,
    NOT_FOUND,
    TIMEOUT,
    ConnectionManager,
    LinkError,
)
from .const import (
    CONF_ALLOW_CONTROL,
    CONF_FAMILY,
    CONF_KEEP_ALIVE,
    CONF_LIVE_INTERVAL,
    CONF_PAIR,
    CONF_RELEASE_MINUTES,
    CONF_UPDATE_INTERVAL,
    CONF_VARIANT,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_LIVE_INTERVAL,
    DEFAULT_RELEASE_MINUTES,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
)
from .control import async_control
from .energy import MAX_GAP_INTERVALS, EnergyIntegrator
from .health import DeviceHealth
from .insight import DeviceInsight
from .link import owner_text
from .live import LiveUpdates
from .options import driver_variant, validate_options
from .protocol import FrameError, Sample, get_driver

if TYPE_CHECKING:
    from . import BleBatterySolarConfigEntry

_LOGGER = logging.getLogger(__name__)

RETRY_SOON = 5.0  # seconds until the retry after a one-off failure
MIN_GAP = 1.0  # seconds between the end of a poll and the start of the next, at least
RETRY_SOON_KINDS = frozenset({LINK_LOST, MALFORMED, TIMEOUT, CONNECT_FAILED})


class _UnavailableLogger(logging.LoggerAdapter[logging.Logger]):
    """HA's coordinator logger, with a failed read logged at WARNING instead of ERROR.

    A Bluetooth device out of range, held by its phone app or behind a restarting proxy is
    an expected event, logged once when the device becomes unavailable (the coordinator
    logs once per failure streak) and at INFO when it is back. Unexpected exceptions keep
    ERROR with their traceback (`exception()` does not go through `error()`).
    """

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(("Error fetching", "Timeout fetching")):
            self.warning(msg, *args, **kwargs)
        else:
            super().error(msg, *args, **kwargs)


class BleBatterySolarCoordinator(TimestampDataUpdateCoordinator[Sample]):
    """Polls one device every update interval over a cached link.

    A TimestampDataUpdateCoordinator: `last_update_success_time` is the Last read sensor.
    """

    config_entry: BleBatterySolarConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: BleBatterySolarConfigEntry, manager: ConnectionManager
    ) -> None:
        self.address: str = entry.unique_id or entry.data["address"]
        self.family: str = entry.data[CONF_FAMILY]
        self.driver = get_driver(self.family)(
            driver_variant(self.family, entry.data.get(CONF_VARIANT), entry.options)
        )
        self.manager = manager
        options, _ = validate_options(entry.options)
        self.keep_alive = float(options.get(CONF_KEEP_ALIVE, DEFAULT_KEEP_ALIVE))
        self.energy = EnergyIntegrator()
        self.health = DeviceHealth(hass, entry.entry_id, entry.title)
        self.released_until: datetime | None = None
        self._cancel_resume: CALLBACK_TYPE | None = None
        self._cancel_path_wait: CALLBACK_TYPE | None = None
        self._read_listeners: list[CALLBACK_TYPE] = []
        self._energy_added = False  # the latest poll added to the energy totals
        self._data_before: Sample | None = None
        self._poll_started: float | None = None  # loop time the latest poll started
        self._read_on_advertisement = True  # once per failure streak
        self.allow_control = options.get(CONF_ALLOW_CONTROL) is True
        self.pair = options.get(CONF_PAIR) is True  # set by the config flow for bonding devices
        self.live = LiveUpdates(hass.loop, self.driver,
                                float(options.get(CONF_LIVE_INTERVAL, DEFAULT_LIVE_INTERVAL)),
                                self._push_live)
        # what a device that does not stream sends between polls is junk: the link drops
        # and counts it; only streaming devices' data goes to live updates
        if self._driver_streams():
            manager.set_stream_listener(self.address, self.live.feed)
        interval = options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
        super().__init__(
            hass,
            cast(logging.Logger, _UnavailableLogger(_LOGGER)),
            config_entry=entry,
            name=f"{entry.title} ({self.address})",
            update_interval=timedelta(seconds=interval),
            always_update=False,
        )
        self.insight = DeviceInsight(hass, self)  # cell health, time to full/empty, alarms

    async def async_apply_options(self) -> None:
        """Apply changed options at once, without a reload."""
        options, _ = validate_options(self.config_entry.options)
        self.keep_alive = float(options.get(CONF_KEEP_ALIVE, DEFAULT_KEEP_ALIVE))
        self.update_interval = timedelta(
            seconds=options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
        )
        self.live.min_interval = float(options.get(CONF_LIVE_INTERVAL, DEFAULT_LIVE_INTERVAL))
        self.pair = options.get(CONF_PAIR) is True
        if self.live.min_interval <= 0:
            self.live.stop()
        if self.keep_alive <= 0:
            await self.manager.release(self.address)
        await self.async_request_refresh()

    # --- the phone-app controls ---------------------------------------------------------

    async def async_release_for_app(self) -> None:
        """Close the link and pause polling so the vendor's phone app can connect."""
        options, _ = validate_options(self.config_entry.options)
        minutes = options.get(CONF_RELEASE_MINUTES, DEFAULT_RELEASE_MINUTES)
        self._cancel_resume_timer()
        self.released_until = dt_util.utcnow() + timedelta(minutes=minutes)
        self._cancel_resume = async_call_later(self.hass, minutes * 60, self._async_resume)
        await self.manager.release(self.address)
        await self.async_refresh()

    async def async_reconnect_now(self) -> None:
        """End a release, drop the current link and poll over a fresh connection."""
        self._cancel_resume_timer()
        self.released_until = None
        await self.manager.release(self.address)
        await self.async_refresh()

    async def _async_resume(self, _now: datetime) -> None:
        self._cancel_resume = None
        self.released_until = None
        await self.async_refresh()

    def _cancel_resume_timer(self) -> None:
        if self._cancel_resume is not None:
            self._cancel_resume()
            self._cancel_resume = None

    @callback
    def async_on_advertisement(
        self, _info: bluetooth.BluetoothServiceInfoBleak, _change: bluetooth.BluetoothChange
    ) -> None:
        """The device advertises: if the last read failed, read again now, not at the next interval."""
        self._read_again_if_failing()

    @callback
    def _on_reachable(self) -> None:
        """An adapter or proxy that came (back) online hears the device."""
        self._cancel_path_wait = None
        self._read_again_if_failing(once_per_streak=False)

    @callback
    def _read_again_if_failing(self, *, once_per_streak: bool = True) -> None:
        """Read now if the last read failed, once per failure streak.

        A device that fails every read while its advertisement keeps changing would
        otherwise be connected on every advertisement (a reconnect storm): after the
        first early read it waits for its interval like any other failing device. An
        adapter or proxy coming (back) online is a new path and always worth a read.
        """
        if (
            not self.last_update_success
            and self.released_until is None
            and (self._read_on_advertisement or not once_per_streak)
        ):
            self._read_on_advertisement = False
            self.hass.async_create_task(self.async_request_refresh(), eager_start=True)

    # --- energy -------------------------------------------------------------------------

    @callback
    def async_add_read_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update` after every successful poll, also one whose data did not change.

        The coordinator tells its entities only about changed data; an energy total
        grows on every poll and the last-read time moves on every poll, so their
        sensors listen here too. Returns the unsubscribe.
        """
        self._read_listeners.append(update)

        @callback
        def remove() -> None:
            if update in self._read_listeners:
                self._read_listeners.remove(update)

        return remove

    @callback
    def _tell_read_listeners_if_unchanged(self) -> bool:
        """Update the read listeners after a successful poll with unchanged data; whether it
        did (when the data changed, every entity was updated anyway)."""
        added, self._energy_added = self._energy_added, False
        if not (added and self.last_update_success and self.data == self._data_before):
            return False
        for update in list(self._read_listeners):
            update()
        return True

    def _cancel_path_wait_if_any(self) -> None:
        if self._cancel_path_wait is not None:
            self._cancel_path_wait()
            self._cancel_path_wait = None

    @callback
    def async_shutdown_extras(self) -> None:
        """Cancel timers and clear repairs issues (entry unload)."""
        self._cancel_resume_timer()
        self._cancel_path_wait_if_any()
        self.health.clear()
        self.insight.clear()
        self.live.stop()
        self.manager.set_stream_listener(self.address, None)

    # --- polling ------------------------------------------------------------------------

    @property
    def rssi(self) -> int | None:
        """Last advertised signal strength seen by any adapter or proxy."""
        info = bluetooth.async_last_service_info(self.hass, self.address, connectable=False)
        return info.rssi if info is not None else None

    @callback
    def _schedule_refresh(self) -> None:
        """Schedule the next poll one update interval after the start of the last one.

        HA counts the interval from the end of a poll, so a 10 s interval with a 1.5 s
        connect would read every 11.5 s or so. Time the poll spent waiting for a free
        slot does move the schedule: devices that share too few slots then spread out
        instead of queueing for the same slots at the same moment every interval. A
        poll that failed with a `retry_after` keeps HA's timing; the next poll starts at
        least MIN_GAP seconds after this one ended.
        """
        started, self._poll_started = self._poll_started, None
        if started is not None:
            started += self.manager.device_stats(self.address).poll_wait
        interval = self._update_interval_seconds
        if started is not None and interval is not None and self._retry_after is None:
            now = self.hass.loop.time()
            # HA schedules at int(now) + its per-coordinator sub-second offset + the delay
            base = int(now) + self._microsecond
            self._retry_after = max(started + interval - base, now + MIN_GAP - base, 0.0)
        super()._schedule_refresh()

    async def _async_update_data(self) -> Sample:
        self._poll_started = self.hass.loop.time()
        self.manager.device_stats(self.address).poll_wait = 0.0
        self._data_before = self.data if self.last_update_success else None
        self._energy_added = False
        if self.released_until is not None:
            self.energy.break_chain()
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="released_for_app",
                translation_placeholders={
                    "address": self.address,
                    "until": dt_util.as_local(self.released_until).strftime("%H:%M"),
                },
            )
        now = time.monotonic()
        interval = self.update_interval.total_seconds() if self.update_interval else 0.0
        try:
            sample = await self.manager.poll(
                self.address, self.driver, keep_alive=self.keep_alive, interval=interval,
                pair=self.pair,
            )
        except LinkError as err:
            self.energy.break_chain()
            first_failure = self.health.failing_since is None
            if (
                err.kind == NOT_FOUND
                and self._cancel_path_wait is None
                # a failed first read fails the setup: HA retries it, and its discovery
                # of the device reloads the entry; a watch would outlive this coordinator
                and self.config_entry.state is ConfigEntryState.LOADED
            ):
                # Read again as soon as an adapter or proxy that comes back hears it.
                self._cancel_path_wait = self.manager.async_call_when_reachable(
                    self.address, self._on_reachable
                )
            self.health.failed(now, err.kind, str(err))
            # A one-off fault (a dropped link, a corrupt frame) is retried soon rather
            # than a whole interval later; a device that keeps failing, is out of
            # range (its next advertisement triggers a read) or finds no free slot
            # (retrying sooner adds to the contention) waits for the interval.
            retry = first_failure and err.kind in RETRY_SOON_KINDS and interval > 2 * RETRY_SOON
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.kind,
                translation_placeholders={"address": self.address, "error": owner_text(self.address, err)},
                retry_after=RETRY_SOON if retry else None,
            ) from err
        self._cancel_path_wait_if_any()
        self._read_on_advertisement = True
        done = time.monotonic()
        self.health.succeeded(
            done, self.manager.device_stats(self.address), self.keep_alive, interval
        )
        self.energy.add(
            done, sample.get("power"), sample.get("pv_power"),
            max_gap=max(interval, 1.0) * MAX_GAP_INTERVALS,
        )
        self._energy_added = True
        self.insight.observe(sample, done, interval)
        self.live.polled()
        if (learned := self.driver.learned_variant()) is not None:  # stored, set up again
            entry = self.config_entry
            entries = self.hass.config_entries
            if entries.async_update_entry(entry, data={**entry.data, CONF_VARIANT: learned}) and (
                entry.state is not ConfigEntryState.LOADED  # its update listener reloads it
            ):
                entries.async_schedule_reload(entry.entry_id)
        return sample

    # --- live data and control ----------------------------------------------------------

    @callback
    def _driver_streams(self) -> bool:
        try:
            return self.driver.streams()
        except FrameError:  # requests that need what the advertisement tells: polled
            return False

    def _push_live(self, sample: Sample) -> None:
        """Fresh values a streaming device pushed between polls, shown at once."""
        if not self.last_update_success or self.data is None or self.released_until is not None:
            return  # a stream never revives a device whose poll failed
        merged: dict[str, Any] = {**self.data, **sample}
        if "runtime" not in sample:  # derived only while discharging: not stale
            merged.pop("runtime", None)
        self.data = cast(Sample, merged)
        self.last_update_success_time = dt_util.utcnow()
        self.async_update_listeners()

    async def async_control(self, switch: str, on: bool) -> None:
        """Switch a MOSFET (opt-in) and show the state the BMS then reports (control.py)."""
        await async_control(self, switch, on)

    @callback
    def async_show_read_back(self, sample: Sample) -> None:
        """Show the state read back after a control write: fresh data, like a poll's."""
        self.live.polled()
        self.data = sample
        self.last_update_success_time = dt_util.utcnow()
        self.async_update_listeners()

    # --- for the Connection status sensor -------------------------------------------------

    _failure_kind: str | None = None
    device_info: DeviceInfo | None = None  # built once for all its entities (entity.py)

    @callback
    def _async_refresh_finished(self) -> None:
        """Notify the entities when one kind of failure follows another.

        HA's coordinator notifies nobody when a failed refresh follows a failed one;
        the Connection sensor must still turn "out of range" into "held by another
        central" (every other entity stays unavailable either way).
        """
        super()._async_refresh_finished()
        unchanged = self._tell_read_listeners_if_unchanged()
        if self.last_update_success:  # insight states (unless just written), then its events
            self.insight.publish(write_states=unchanged)
        kind = None if self.last_update_success else str(
            getattr(self.last_exception, "translation_key", None) or "error"
        )
        changed = None not in (kind, self._failure_kind) and kind != self._failure_kind
        self._failure_kind = kind
        if changed:
            self.async_update_listeners()
