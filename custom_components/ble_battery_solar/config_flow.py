"""Config flow: Bluetooth discovery with confirmation, a pick list, and options."""

from __future__ import annotations

from typing import Any

import probatio as vol
from homeassistant.components.bluetooth import (
    BluetoothServiceInfoBleak,
    async_discovered_service_info,
)
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_ADDRESS
from homeassistant.core import callback
from homeassistant.helpers import selector

from .const import (
    CONF_FAMILY,
    CONF_KEEP_ALIVE,
    CONF_UPDATE_INTERVAL,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    MAX_KEEP_ALIVE,
    MAX_UPDATE_INTERVAL,
    MIN_UPDATE_INTERVAL,
)
from .protocol import Driver, driver_for


def _title(info: BluetoothServiceInfoBleak) -> str:
    name = info.name
    return name if name and name.replace("-", ":").upper() != info.address.upper() else info.address


class BleBatterySolarConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a BMS or solar controller found over Bluetooth."""

    VERSION = 1

    def __init__(self) -> None:
        self._discovery: BluetoothServiceInfoBleak | None = None
        self._driver: type[Driver] | None = None
        self._choices: dict[str, tuple[BluetoothServiceInfoBleak, type[Driver]]] = {}

    async def async_step_bluetooth(
        self, discovery_info: BluetoothServiceInfoBleak
    ) -> ConfigFlowResult:
        """A device matching one of our manifest matchers was discovered."""
        await self.async_set_unique_id(discovery_info.address)
        self._abort_if_unique_id_configured()
        driver = driver_for(discovery_info)
        if driver is None or not driver.discoverable:
            return self.async_abort(reason="not_supported")
        self._discovery, self._driver = discovery_info, driver
        self.context["title_placeholders"] = {"name": _title(discovery_info)}
        return await self.async_step_bluetooth_confirm()

    async def async_step_bluetooth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the user to confirm adding the discovered device."""
        assert self._discovery is not None
        assert self._driver is not None
        if user_input is not None:
            return self._create(self._discovery, self._driver)
        self._set_confirm_only()
        return self.async_show_form(
            step_id="bluetooth_confirm",
            description_placeholders={
                "name": _title(self._discovery),
                "model": self._driver.title,
                "address": self._discovery.address,
            },
        )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick from supported devices seen nearby that are not configured yet."""
        if user_input is not None:
            address = user_input[CONF_ADDRESS]
            await self.async_set_unique_id(address, raise_on_progress=False)
            self._abort_if_unique_id_configured()
            info, driver = self._choices[address]
            return self._create(info, driver)

        configured = self._async_current_ids(include_ignore=False)
        for info in async_discovered_service_info(self.hass, connectable=True):
            if info.address in configured or info.address in self._choices:
                continue
            if (found := driver_for(info)) is not None:
                self._choices[info.address] = (info, found)
        if not self._choices:
            return self.async_abort(reason="no_devices_found")
        options = [
            selector.SelectOptionDict(
                value=address, label=f"{_title(info)} ({address}) · {driver.title}"
            )
            for address, (info, driver) in self._choices.items()
        ]
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema({
                vol.Required(CONF_ADDRESS): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options)
                )
            }),
        )

    def _create(self, info: BluetoothServiceInfoBleak, driver: type[Driver]) -> ConfigFlowResult:
        return self.async_create_entry(
            title=_title(info),
            data={CONF_ADDRESS: info.address, CONF_FAMILY: driver.family},
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """The options: update interval and keep-connection window."""
        return BleBatterySolarOptionsFlow()


class BleBatterySolarOptionsFlow(OptionsFlow):
    """Update interval and keep-connection window; applied without a restart."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(data={
                CONF_UPDATE_INTERVAL: int(user_input[CONF_UPDATE_INTERVAL]),
                CONF_KEEP_ALIVE: int(user_input[CONF_KEEP_ALIVE]),
            })
        options = self.config_entry.options
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema({
                vol.Required(
                    CONF_UPDATE_INTERVAL,
                    default=options.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL),
                ): vol.All(vol.Coerce(int), vol.Range(min=MIN_UPDATE_INTERVAL, max=MAX_UPDATE_INTERVAL)),
                vol.Required(
                    CONF_KEEP_ALIVE, default=options.get(CONF_KEEP_ALIVE, DEFAULT_KEEP_ALIVE)
                ): vol.All(vol.Coerce(int), vol.Range(min=0, max=MAX_KEEP_ALIVE)),
            }),
        )
