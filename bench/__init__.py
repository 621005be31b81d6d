"""Benchmarks and soak runs of the BLE Battery & Solar integration (dev only, never shipped).

Everything here runs a real Home Assistant in-process (pytest-homeassistant-custom-component's
`hass` fixture, HA's bluetooth component and habluetooth manager) against blesim virtual
proxies, on HA's frozen clock driven by `bench.simclock.SimClock`, which jumps from one due
timer to the next so that simulated hours take seconds to minutes of wall-clock time.

`scripts/bench` and `scripts/soak` invoke pytest on the `bench_*.py` modules of this package
(the default `pytest` run only collects `tests/`); `tests/test_soak.py` runs a short soak profile.
"""
