"""Per-device DataUpdateCoordinator: polls through the shared ConnectionManager."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from homeassistant.components import bluetooth
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .connection import ConnectionManager, LinkError
from .const import (
    CONF_FAMILY,
    CONF_KEEP_ALIVE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
)
from .protocol import Sample, get_driver

if TYPE_CHECKING:
    from . import BleBatterySolarConfigEntry

_LOGGER = logging.getLogger(__name__)


class BleBatterySolarCoordinator(DataUpdateCoordinator[Sample]):
    """Polls one device every update interval over a cached link."""

    config_entry: BleBatterySolarConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: BleBatterySolarConfigEntry, manager: ConnectionManager
    ) -> None:
        self.address: str = entry.unique_id or entry.data["address"]
        self.family: str = entry.data[CONF_FAMILY]
        self.driver = get_driver(self.family)()
        self.manager = manager
        self.keep_alive = float(entry.options.get(CONF_KEEP_ALIVE, DEFAULT_KEEP_ALIVE))
        interval = entry.options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{entry.title} ({self.address})",
            update_interval=timedelta(seconds=interval),
            always_update=False,
        )

    async def async_apply_options(self) -> None:
        """Apply changed options at once, without a reload."""
        options = self.config_entry.options
        self.keep_alive = float(options.get(CONF_KEEP_ALIVE, DEFAULT_KEEP_ALIVE))
        self.update_interval = timedelta(
            seconds=options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
        )
        if self.keep_alive <= 0:
            await self.manager.release(self.address)
        await self.async_request_refresh()

    @property
    def rssi(self) -> int | None:
        """Last advertised signal strength seen by any adapter or proxy."""
        info = bluetooth.async_last_service_info(self.hass, self.address, connectable=False)
        return info.rssi if info is not None else None

    async def _async_update_data(self) -> Sample:
        try:
            return await self.manager.poll(self.address, self.driver, keep_alive=self.keep_alive)
        except LinkError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key=err.kind,
                translation_placeholders={"address": self.address, "error": str(err)},
            ) from err
