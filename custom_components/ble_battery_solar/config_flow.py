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
from homeassistant.const import CONF_ADDRESS, CONF_NAME
from homeassistant.core import callback
from homeassistant.helpers import selector

from .bank import CONF_BANK, CONF_MEMBERS, is_bank
from .connection import LinkError
from .const import (
    CONF_ALLOW_CONTROL,
    CONF_FAMILY,
    CONF_PACKS,
    CONF_PAIR,
    CONF_VARIANT,
    DOMAIN,
)
from .options import RANGES, configured_packs, has_pack_count
from .probe import NO_ANSWER, async_probe, candidate_drivers, form_error
from .protocol import DRIVERS, FAMILIES, Advertisement, Driver, driver_for

IDENTIFY = "identify"  # the user step's "Identify unknown device" choice
BANK = "bank"  # the user step's "Create a battery bank" choice
# Family-specific protocols first: many BMS also expose the generic Battery Service.
_PROBE_ORDER = sorted(FAMILIES, key=lambda f: DRIVERS[f].generic)


def _title(info: BluetoothServiceInfoBleak) -> str:
    name = info.name
    return name if name and name.replace("-", ":").upper() != info.address.upper() else info.address


def _family_schema(families: list[str], default: str) -> vol.Schema:
    options = [selector.SelectOptionDict(value=f, label=DRIVERS[f].title) for f in families]
    return vol.Schema({
        vol.Required(CONF_FAMILY, default=default): selector.SelectSelector(
            selector.SelectSelectorConfig(options=options)
        )
    })


class BleBatterySolarConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a BMS or solar controller found over Bluetooth, after reading it once."""

    VERSION = 1

    def __init__(self) -> None:
        self._discovery: BluetoothServiceInfoBleak | None = None
        self._driver: type[Driver] | None = None
        self._answered: list[str] = []
        self._variants: dict[str, str | None] = {}  # answered in another variant than advertised
        self._choices: dict[str, tuple[BluetoothServiceInfoBleak, type[Driver]]] = {}
        self._unknown: dict[str, BluetoothServiceInfoBleak] = {}
        self._paired = False  # the device refused an unbonded central; the probe paired

    def _note_paired(self) -> None:
        self._paired = True

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
        """Ask the user to confirm; then read the device once before adding it."""
        assert self._discovery is not None
        assert self._driver is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            if (error := await self._probe_known(self._discovery, self._driver)) is None:
                return await self._after_probe(self._discovery, self._driver)
            errors["base"] = error
        self._set_confirm_only()
        return self.async_show_form(
            step_id="bluetooth_confirm",
            description_placeholders={
                "name": _title(self._discovery),
                "model": self._driver.title,
                "address": self._discovery.address,
            },
            errors=errors,
        )

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick from supported devices seen nearby that are not configured yet.

        Nothing is preselected (an optional field: the frontend preselects the first
        option of a required one), so a careless Submit adds nothing.
        """
        errors: dict[str, str] = {}
        if user_input is not None:
            address = user_input.get(CONF_ADDRESS)
            if address == IDENTIFY:
                return await self.async_step_identify()
            if address == BANK:
                return await self.async_step_bank()
            if address in self._choices:
                await self.async_set_unique_id(address, raise_on_progress=False)
                self._abort_if_unique_id_configured()
                info, driver = self._choices[address]
                if (error := await self._probe_known(info, driver)) is None:
                    return await self._after_probe(info, driver)
                errors["base"] = error
            else:
                errors["base"] = "no_device_selected"

        configured = self._async_current_ids(include_ignore=False)
        for info in async_discovered_service_info(self.hass, connectable=True):
            if info.address in configured or info.address in self._choices:
                continue
            if (found := driver_for(info)) is not None:
                self._choices[info.address] = (info, found)
            else:  # no family, or several, claim it: the user may have it identified
                self._unknown[info.address] = info
        self._unknown = {a: i for a, i in self._unknown.items() if a not in configured}
        packs = self._bank_candidates()
        if not self._choices and not self._unknown and len(packs) < 2:
            return self.async_abort(reason="no_devices_found")
        options = [
            selector.SelectOptionDict(
                value=address, label=f"{_title(info)} ({address}) · {driver.title}"
            )
            for address, (info, driver) in self._choices.items()
        ]
        if self._unknown:
            options.append(selector.SelectOptionDict(value=IDENTIFY, label=IDENTIFY))
        if len(packs) >= 2:
            options.append(selector.SelectOptionDict(value=BANK, label=BANK))
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema({
                vol.Optional(CONF_ADDRESS): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options, translation_key="user_choice")
                )
            }),
            errors=errors,
        )

    def _bank_candidates(self) -> dict[str, str]:
        """Configured, loaded battery packs (entry id → title) a bank can combine."""
        return {
            entry.entry_id: entry.title
            for entry in self.hass.config_entries.async_loaded_entries(DOMAIN)
            if not is_bank(entry) and getattr(entry.runtime_data, "driver", None) is not None
            and entry.runtime_data.driver.kind == "battery"
        }

    async def async_step_bank(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A battery bank: a name and at least two configured packs."""
        packs = self._bank_candidates()
        errors: dict[str, str] = {}
        if user_input is not None:
            chosen = [p for p in user_input.get(CONF_MEMBERS, []) if p in packs]
            if len(chosen) < 2:
                errors["base"] = "bank_needs_two_packs"
            else:
                return self.async_create_entry(
                    title=str(user_input[CONF_NAME]).strip() or "Battery bank",
                    data={CONF_BANK: True, CONF_MEMBERS: chosen},
                )
        return self.async_show_form(
            step_id="bank",
            data_schema=vol.Schema({
                vol.Required(CONF_NAME, default="Battery bank"): selector.TextSelector(),
                vol.Required(CONF_MEMBERS): selector.SelectSelector(selector.SelectSelectorConfig(
                    options=[selector.SelectOptionDict(value=k, label=v)
                             for k, v in packs.items()],
                    multiple=True,
                )),
            }),
            errors=errors,
        )

    async def async_step_identify(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Try every family's first read request on a device no matcher knows."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None and user_input.get(CONF_ADDRESS) in self._unknown:
            address = user_input[CONF_ADDRESS]
            await self.async_set_unique_id(address, raise_on_progress=False)
            self._abort_if_unique_id_configured()
            info, self._paired = self._unknown[address], False
            try:
                answered = await async_probe(
                    self.hass, address, candidate_drivers(_PROBE_ORDER, info), first_only=False,
                    variants=self._variants, on_paired=self._note_paired,
                )
            except LinkError as err:
                errors["base"] = form_error(err)
            else:
                if answered:
                    self._discovery, self._answered = info, answered
                    return await self.async_step_identified()
                errors["base"] = "not_identified"
            placeholders["name"] = _title(info)
        elif user_input is not None:
            errors["base"] = "no_device_selected"
        options = [
            selector.SelectOptionDict(value=address, label=f"{_title(info)} ({address})")
            for address, info in self._unknown.items()
        ]
        return self.async_show_form(
            step_id="identify",
            data_schema=vol.Schema({
                vol.Optional(CONF_ADDRESS): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options)
                )
            }),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_identified(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Say which families answered the unknown device; the first one is preselected."""
        assert self._discovery is not None
        if user_input is not None:
            return self._create(self._discovery, DRIVERS[user_input[CONF_FAMILY]])
        return self.async_show_form(
            step_id="identified",
            data_schema=_family_schema(self._answered, self._answered[0]),
            description_placeholders={
                "name": _title(self._discovery),
                "answered": ", ".join(DRIVERS[f].title for f in self._answered),
            },
        )

    async def async_step_device_type(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask what sits behind an adapter shared by several device types (Renogy BT-1/BT-2).

        The type that answered the probe is preselected.
        """
        assert self._discovery is not None
        assert self._driver is not None
        if user_input is not None:
            return self._create(self._discovery, DRIVERS[user_input[CONF_FAMILY]])
        answered = self._answered[0] if self._answered else self._driver.family
        return self.async_show_form(
            step_id="device_type",
            data_schema=_family_schema([self._driver.family, *self._driver.alternatives], answered),
            description_placeholders={
                "name": _title(self._discovery), "answered": DRIVERS[answered].title,
            },
        )

    async def _probe_known(
        self, info: BluetoothServiceInfoBleak, driver: type[Driver]
    ) -> str | None:
        """Read the device once as its family (and the alternatives); a form error or None."""
        self._paired = False
        try:
            self._answered = await async_probe(
                self.hass, info.address,
                candidate_drivers([driver.family, *driver.alternatives], info), first_only=True,
                variants=self._variants, on_paired=self._note_paired,
            )
        except LinkError as err:
            return form_error(err)
        return None if self._answered else NO_ANSWER

    async def _after_probe(
        self, info: BluetoothServiceInfoBleak, driver: type[Driver]
    ) -> ConfigFlowResult:
        if driver.alternatives:
            self._discovery, self._driver = info, driver
            return await self.async_step_device_type()
        return self._create(info, driver)

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
                CONF_VARIANT: self._variants.get(
                    driver.family, driver.variant_for(Advertisement.from_any(info))
                ),
            },
            options={CONF_PAIR: True} if self._paired else {},
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """The options: update interval, keep-connection window, release time."""
        return BleBatterySolarOptionsFlow()


def _number_box(low: int, high: int, unit: str | None = None) -> selector.NumberSelector:
    """A whole number typed into a box that shows its unit (not a slider without a value)."""
    config = selector.NumberSelectorConfig(
        min=low, max=high, step=1, mode=selector.NumberSelectorMode.BOX
    )
    if unit is not None:
        config["unit_of_measurement"] = unit
    return selector.NumberSelector(config)


class BleBatterySolarOptionsFlow(OptionsFlow):
    """Polling, connection and alert settings; applied without a restart."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(data={
                key: value if isinstance(value, bool) else int(value)
                for key, value in user_input.items()
            })
        options = self.config_entry.options
        family, variant = self.config_entry.data[CONF_FAMILY], self.config_entry.data.get(CONF_VARIANT)
        fields: dict[Any, Any] = {}
        for option in RANGES:
            if option.key == CONF_PACKS:
                if not has_pack_count(family, variant):
                    continue  # only batteries behind one Renogy module, Seplos V3 packs
                default = configured_packs(variant, options)
            else:
                default = options.get(option.key, option.default)
            fields[vol.Required(option.key, default=default)] = _number_box(
                option.minimum, option.maximum, option.unit
            )
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema({
                **fields,
                vol.Required(
                    CONF_ALLOW_CONTROL, default=options.get(CONF_ALLOW_CONTROL) is True
                ): selector.BooleanSelector(),
                vol.Required(CONF_PAIR, default=options.get(CONF_PAIR) is True):
                    selector.BooleanSelector(),
            }),
        )
