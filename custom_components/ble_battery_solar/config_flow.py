"""Config flow: Bluetooth discovery with confirmation, a pick list, reconfigure and options."""

from __future__ import annotations

from typing import Any

import probatio as vol
from homeassistant.components.bluetooth import (
    BluetoothServiceInfoBleak,
    async_discovered_service_info,
    async_last_service_info,
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
    CONF_RELEASE_MINUTES,
    CONF_UPDATE_INTERVAL,
    CONF_VARIANT,
    DEFAULT_KEEP_ALIVE,
    DEFAULT_RELEASE_MINUTES,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    MAX_KEEP_ALIVE,
    MAX_RELEASE_MINUTES,
    MAX_UPDATE_INTERVAL,
    MIN_UPDATE_INTERVAL,
)
from .protocol import DRIVERS, Advertisement, Driver, driver_for


def _title(info: BluetoothServiceInfoBleak) -> str:
    name = info.name
    return name if name and name.replace("-", ":").upper() != info.address.upper() else info.address


def _family_choices(driver: type[Driver]) -> list[selector.SelectOptionDict]:
    families = [driver.family, *driver.alternatives]
    return [selector.SelectOptionDict(value=f, label=DRIVERS[f].title) for f in families]


def _family_schema(driver: type[Driver], default: str) -> vol.Schema:
    return vol.Schema({
        vol.Required(CONF_FAMILY, default=default): selector.SelectSelector(
            selector.SelectSelectorConfig(options=_family_choices(driver))
        )
    })


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
        """Ask the user to confirm adding the discovered device (and its type if ambiguous)."""
        assert self._discovery is not None
        assert self._driver is not None
        if user_input is not None:
            family = user_input.get(CONF_FAMILY, self._driver.family)
            return self._create(self._discovery, DRIVERS[family])
        placeholders = {
            "name": _title(self._discovery),
            "model": self._driver.title,
            "address": self._discovery.address,
        }
        if self._driver.alternatives:
            return self.async_show_form(
                step_id="bluetooth_confirm",
                data_schema=_family_schema(self._driver, self._driver.family),
                description_placeholders=placeholders,
            )
        self._set_confirm_only()
        return self.async_show_form(
            step_id="bluetooth_confirm", description_placeholders=placeholders
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
            if driver.alternatives:
                self._discovery, self._driver = info, driver
                return await self.async_step_device_type()
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

    async def async_step_device_type(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask what sits behind an adapter shared by several device types (Renogy BT-1/BT-2)."""
        assert self._discovery is not None
        assert self._driver is not None
        if user_input is not None:
            return self._create(self._discovery, DRIVERS[user_input[CONF_FAMILY]])
        return self.async_show_form(
            step_id="device_type",
            data_schema=_family_schema(self._driver, self._driver.family),
            description_placeholders={"name": _title(self._discovery)},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the protocol family of a configured device (e.g. a mis-detected adapter)."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            family = user_input[CONF_FAMILY]
            info = async_last_service_info(self.hass, entry.data[CONF_ADDRESS], connectable=False)
            variant = DRIVERS[family].variant_for(Advertisement.from_any(info)) if info else None
            return self.async_update_reload_and_abort(
                entry, data_updates={CONF_FAMILY: family, CONF_VARIANT: variant}
            )
        options = [
            selector.SelectOptionDict(value=f, label=d.title) for f, d in sorted(DRIVERS.items())
        ]
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=vol.Schema({
                vol.Required(CONF_FAMILY, default=entry.data[CONF_FAMILY]): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options)
                )
            }),
            description_placeholders={"name": entry.title},
        )

    def _create(self, info: BluetoothServiceInfoBleak, driver: type[Driver]) -> ConfigFlowResult:
        return self.async_create_entry(
            title=_title(info),
            data={
                CONF_ADDRESS: info.address,
                CONF_FAMILY: driver.family,
                CONF_VARIANT: driver.variant_for(Advertisement.from_any(info)),
            },
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """The options: update interval, keep-connection window, release time."""
        return BleBatterySolarOptionsFlow()


class BleBatterySolarOptionsFlow(OptionsFlow):
    """Update interval, keep-connection window, release time; applied without a restart."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(data={
                key: int(value) for key, value in user_input.items()
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
                vol.Required(
                    CONF_RELEASE_MINUTES,
                    default=options.get(CONF_RELEASE_MINUTES, DEFAULT_RELEASE_MINUTES),
                ): vol.All(vol.Coerce(int), vol.Range(min=1, max=MAX_RELEASE_MINUTES)),
            }),
        )
