"""Development-only HA glue: starts blesim virtual proxies from configuration.yaml.

Example::

    blesim:
      proxies:
        - name: blesim-proxy-1
          slots: 3
          devices:
            - family: jbd
              address: "A5:C2:37:10:00:01"
              name: "Garage JBD"

Not part of the integration HACS installs; `scripts/develop` links it into config/.
"""

from __future__ import annotations

import logging
from typing import Any

from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant

from blesim import Latency, VirtualProxy
from blesim.catalog import make_device

_LOGGER = logging.getLogger(__name__)
DOMAIN = "blesim"


async def async_setup(hass: HomeAssistant, config: dict[str, Any]) -> bool:
    """Start the configured proxies with their simulated devices."""
    conf = config.get(DOMAIN) or {}
    proxies: list[VirtualProxy] = []
    for pconf in conf.get("proxies", []):
        latency = Latency(
            connect=float(pconf.get("connect_latency", 1.5)),
            round_trip=float(pconf.get("round_trip", 0.06)),
        )
        proxy = VirtualProxy(hass, name=pconf.get("name"), slots=int(pconf.get("slots", 3)),
                             latency=latency)
        for dconf in pconf.get("devices", []):
            proxy.add(make_device(dconf["family"], dconf["address"], dconf.get("name")),
                      rssi=dconf.get("rssi"))
        proxy.start()
        proxies.append(proxy)
        _LOGGER.warning("blesim: %s started with %d simulated devices (development only)",
                        proxy.name, len(proxy.devices))

    def _stop(_event: Event) -> None:
        for proxy in proxies:
            proxy.stop()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)
    return True
