"""blesim's ESPHome node: a Bluetooth proxy speaking the native API on 127.0.0.1.

Home Assistant's real `esphome` integration connects to it as to an ESP32, so
the whole path (aioesphomeapi, bleak-esphome, habluetooth) carries the traffic
of blesim's simulated devices. See `node.py`.
"""

from .node import EspHomeNode

__all__ = ["EspHomeNode"]
