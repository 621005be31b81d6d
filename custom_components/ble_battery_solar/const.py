"""Constants of the BLE Battery & Solar integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "ble_battery_solar"

CONF_FAMILY: Final = "family"
CONF_UPDATE_INTERVAL: Final = "update_interval"
CONF_KEEP_ALIVE: Final = "keep_alive"

DEFAULT_UPDATE_INTERVAL: Final = 30  # seconds between polls
MIN_UPDATE_INTERVAL: Final = 5
DEFAULT_KEEP_ALIVE: Final = 90  # seconds a link stays open after a poll; > interval
MAX_KEEP_ALIVE: Final = 3600
MAX_UPDATE_INTERVAL: Final = 3600
CONF_VARIANT: Final = "variant"
CONF_RELEASE_MINUTES: Final = "release_minutes"
DEFAULT_RELEASE_MINUTES: Final = 10  # "release connection" frees the device this long
MAX_RELEASE_MINUTES: Final = 240
CONF_LIVE_INTERVAL: Final = "live_interval"
DEFAULT_LIVE_INTERVAL: Final = 5  # seconds between pushes of streamed data, at least; 0 = off
MAX_LIVE_INTERVAL: Final = 3600
CONF_ALLOW_CONTROL: Final = "allow_control"  # opt-in MOSFET switches; off by default
