"""Development-only HA glue: starts blesim virtual proxies and devices from configuration.yaml.

Example (see config/blesim.yaml and docs/simulator.md)::

    blesim:
      proxies:
        - name: blesim-proxy-1
          slots: 3
      devices:
        - family: jbd
          address: "A5:C2:37:10:00:01"
          name: "Garage JBD"
          rssi: {blesim-proxy-1: -58}

With ``path: esphome`` (or ``BLESIM_PATH=esphome``, as ``scripts/develop --esphome``
sets it) every proxy is an ESPHome node speaking the native API on 127.0.0.1
(``port``, default 16053, 16054 ...), added to HA's own esphome integration:
the UI then shows real ESPHome proxy devices and every connection goes
through aioesphomeapi and bleak-esphome.

A device with ``bonding: true`` (and optionally ``bonding_error: 0x0F``)
requires pairing; a proxy with ``pairing: false`` cannot pair.

Services (Developer tools → Actions): ``blesim.fault`` (address, fault, value,
seconds), ``blesim.clear_faults`` (address), ``blesim.forget_bonds`` (address:
the device is reset and forgets its bonds), ``blesim.proxy_restart`` (proxy,
after), ``blesim.hold_slots`` (proxy, count).

Not part of the integration HACS installs; `scripts/develop` links it into config/.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError

from blesim import Latency, SimDevice, VirtualProxy
from blesim.catalog import make_device
from blesim.devices import INSUFFICIENT_AUTHENTICATION
from blesim.esphome import EspHomeNode
from blesim.model import BatteryModel

_LOGGER = logging.getLogger(__name__)
DOMAIN = "blesim"
MODEL_KEYS = ("cells", "capacity_ah", "soc", "current", "cycles", "time_scale", "cell_faults")
FIRST_PORT = 16053  # native-API ports of the ESPHome nodes, one per proxy
type Proxy = VirtualProxy | EspHomeNode


def path_of(conf: dict[str, Any]) -> str:
    """'blesim' (blesim's own scanner) or 'esphome' (ESPHome nodes); BLESIM_PATH wins."""
    path = os.environ.get("BLESIM_PATH") or conf.get("path") or "blesim"
    if path not in ("blesim", "esphome"):
        raise ValueError(f"blesim path {path!r} is neither 'blesim' nor 'esphome'")
    return str(path)


def _device(conf: dict[str, Any]) -> SimDevice:
    device = make_device(conf["family"], conf["address"], conf.get("name"),
                         variant=conf.get("variant"), replay=conf.get("replay"),
                         bonding=bool(conf.get("bonding", False)),
                         bonding_error=int(conf.get("bonding_error", INSUFFICIENT_AUTHENTICATION)))
    if "problem_code" in conf:  # alarm bits, laid out as the family's problem_code
        device.problem_code = int(conf["problem_code"])
    model_conf = {k: conf[k] for k in MODEL_KEYS if k in conf}
    if "cell_faults" in model_conf:  # cell number -> volts added to that cell
        model_conf["cell_faults"] = {int(k): float(v) for k, v in model_conf["cell_faults"].items()}
    if model_conf:
        target = getattr(device.model, "battery", device.model)
        if not isinstance(target, BatteryModel):
            raise ValueError(f"{conf['address']}: model options apply to battery models only")
        if "cells" in model_conf:
            fresh = BatteryModel(**{**model_conf, "cells": int(model_conf["cells"])})
            if hasattr(device.model, "battery"):
                device.model.battery = fresh
            else:
                device.model = fresh
        else:
            for key, value in model_conf.items():
                setattr(target, key, value)
    return device


def build(hass: HomeAssistant, conf: dict[str, Any]) -> list[Proxy]:
    """Proxies (or ESPHome nodes, by `path_of`) with their devices, as configured (not started)."""
    proxies: dict[str, Proxy] = {}
    esphome = path_of(conf) == "esphome"
    for index, pconf in enumerate(conf.get("proxies", [])):
        latency = Latency(
            connect=float(pconf.get("connect_latency", 1.5)),
            round_trip=float(pconf.get("round_trip", 0.06)),
            speed=float(pconf.get("speed", 1.0)),
        )
        proxy: Proxy
        if esphome:
            proxy = EspHomeNode(name=pconf.get("name"), source=pconf.get("source"),
                                slots=int(pconf.get("slots", 3)), latency=latency,
                                advertise_every=float(pconf.get("advertise_every", 5.0)),
                                pairing=bool(pconf.get("pairing", True)))
            proxy.port = int(pconf.get("port", FIRST_PORT + index))
        else:
            proxy = VirtualProxy(hass, name=pconf.get("name"), source=pconf.get("source"),
                                 slots=int(pconf.get("slots", 3)), latency=latency,
                                 advertise_every=float(pconf.get("advertise_every", 5.0)),
                                 pairing=bool(pconf.get("pairing", True)))
        proxies[proxy.name] = proxy
        for dconf in pconf.get("devices", []):  # devices listed under one proxy
            proxy.add(_device(dconf), rssi=dconf.get("rssi"))
    for dconf in conf.get("devices", []):  # devices heard by several proxies
        device = _device(dconf)
        rssi = dconf.get("rssi") or dict.fromkeys(proxies, device.rssi)
        if not isinstance(rssi, dict):
            rssi = dict.fromkeys(proxies, rssi)
        for proxy_name, value in rssi.items():
            if proxy_name not in proxies:
                raise ValueError(f"{device.address}: no proxy named {proxy_name!r}")
            proxies[proxy_name].add(device, rssi=int(value))
    return list(proxies.values())


def _parse_value(value: Any) -> Any:
    """A fault value as the UI's text field sends it: "true"/"false" or a number."""
    if not isinstance(value, str):
        return value
    if value.strip().lower() in {"true", "on", "yes"}:
        return True
    if value.strip().lower() in {"false", "off", "no"}:
        return False
    try:
        return float(value)
    except ValueError:
        raise ServiceValidationError(f"fault value {value!r} is not true, false or a number"
                                     ) from None


async def async_setup(hass: HomeAssistant, config: dict[str, Any]) -> bool:
    """Start the configured proxies with their simulated devices, register the services."""
    proxies = build(hass, config.get(DOMAIN) or {})
    hass.data[DOMAIN] = proxies  # for tests and the developer's own scripts
    for proxy in proxies:
        if isinstance(proxy, EspHomeNode):
            await proxy.serve()
            await _add_to_esphome(hass, proxy)
        else:
            proxy.start()
        _LOGGER.warning("blesim: %s started with %d simulated devices (development only)",
                        proxy.name, len(proxy.devices))
    by_name = {p.name: p for p in proxies}
    devices = {d.address.upper(): d for p in proxies for d in p.devices.values()}

    def _find_device(call: ServiceCall) -> SimDevice:
        address = str(call.data.get("address", "")).upper()
        if address not in devices:
            raise ServiceValidationError(f"blesim has no device {address}")
        return devices[address]

    def _find_proxy(call: ServiceCall) -> Proxy:
        name = call.data.get("proxy", "")
        if name not in by_name:
            raise ServiceValidationError(f"blesim has no proxy {name!r}")
        return by_name[name]

    @callback
    def fault(call: ServiceCall) -> None:
        device = _find_device(call)
        name = call.data["fault"]
        if not hasattr(device.faults, name):
            raise ServiceValidationError(f"unknown fault {name!r}")
        value = _parse_value(call.data.get("value", True))
        if seconds := float(call.data.get("seconds", 0)):
            device.fault_for(seconds, loop=hass.loop, **{name: value})
        else:
            setattr(device.faults, name, value)
        # a device out of range cannot keep a link: its proxies notice at once
        for proxy in proxies:
            proxy.drop_unreachable()
        _LOGGER.warning("blesim: %s fault %s = %s%s", device.address, name, value,
                        f" for {seconds:.0f} s" if seconds else "")

    @callback
    def clear_faults(call: ServiceCall) -> None:
        device = _find_device(call)
        device.cancel_scripts()
        device.faults.clear()

    @callback
    def forget_bonds(call: ServiceCall) -> None:
        _find_device(call).forget_bonds()

    @callback
    def proxy_restart(call: ServiceCall) -> None:
        _find_proxy(call).restart(after=float(call.data.get("after", 0)))

    @callback
    def hold_slots(call: ServiceCall) -> None:
        _find_proxy(call).hold_slots(int(call.data.get("count", 0)))

    for name, handler in (("fault", fault), ("clear_faults", clear_faults),
                          ("forget_bonds", forget_bonds), ("proxy_restart", proxy_restart),
                          ("hold_slots", hold_slots)):
        hass.services.async_register(DOMAIN, name, handler)

    async def _stop(_event: Event) -> None:
        for proxy in proxies:
            if isinstance(proxy, EspHomeNode):
                await proxy.close()
            else:
                proxy.stop()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)
    return True


async def _add_to_esphome(hass: HomeAssistant, node: EspHomeNode) -> None:
    """Add the node to HA's esphome integration, as a user adding a device by host does.

    Its entry (unique id: the node's MAC) stays: later starts find it and connect.
    """
    if any(entry.unique_id == node.mac
           for entry in hass.config_entries.async_entries("esphome")):
        return
    result = await hass.config_entries.flow.async_init(
        "esphome", context={"source": "user"}, data={"host": node.host, "port": node.port})
    if result.get("type") != "create_entry":
        _LOGGER.warning("blesim: adding %s to the esphome integration stopped at %s",
                        node.name, result.get("step_id") or result.get("reason"))
