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
CONF_PACKS: Final = "packs"  # batteries behind one BT module / packs in parallel
MAX_PACKS: Final = 16

# battery insight: cell imbalance alert
CONF_IMBALANCE_MV: Final = "imbalance_mv"
DEFAULT_IMBALANCE_MV: Final = 50  # spread between highest and lowest cell that alerts
MIN_IMBALANCE_MV: Final = 5
MAX_IMBALANCE_MV: Final = 1000
CONF_IMBALANCE_MINUTES: Final = "imbalance_minutes"
DEFAULT_IMBALANCE_MINUTES: Final = 5  # the spread must last this long (0: at once)
MAX_IMBALANCE_MINUTES: Final = 1440
EVENT_IMBALANCE: Final = f"{DOMAIN}_imbalance"
EVENT_ALARM: Final = f"{DOMAIN}_alarm"
CONF_LIVE_INTERVAL: Final = "live_interval"
DEFAULT_LIVE_INTERVAL: Final = 5  # seconds between pushes of streamed data, at least; 0 = off
MAX_LIVE_INTERVAL: Final = 3600
CONF_ALLOW_CONTROL: Final = "allow_control"  # opt-in MOSFET switches; off by default
CONF_PAIR: Final = "pair"  # pair (bond) with a device that refuses an unbonded central
