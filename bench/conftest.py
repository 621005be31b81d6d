"""Fixtures of the benchmark and soak modules (collected only when scripts/bench or
scripts/soak point pytest at bench/ with `-o python_files=bench_*.py`)."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from homeassistant.core import HomeAssistant

import custom_components  # noqa: F401  # must be imported before HA looks up integrations

from .harness import production_logging
from .report import Report
from .simclock import SimClock

_REPORT = Report(os.environ.get("BENCH_REPORT", "bench"))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/ble_battery_solar."""


@pytest.fixture
def report() -> Report:
    """The figures of this run (printed and written to bench/results/ at the end)."""
    return _REPORT


@pytest.fixture
async def clock(
    hass: HomeAssistant, enable_bluetooth: None, freezer: Any
) -> AsyncGenerator[SimClock]:
    """HA's bluetooth stack set up, and the accelerated clock over HA's frozen time.

    asyncio debug mode (the test plugin turns it on) is switched off: it costs CPU that
    production does not spend, and it measures "slow callbacks" with the loop clock that
    the simulation jumps. Logging runs at HA's default level (`production_logging`).
    """
    hass.loop.set_debug(False)
    clock = SimClock(hass, freezer)
    with production_logging():
        yield clock
    clock.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the figures and write the CSV when any were recorded."""
    if not _REPORT.figures:
        return
    terminalreporter.write_sep("=", "figures")
    terminalreporter.write_line(_REPORT.table())
    if os.environ.get("BENCH_WRITE_CSV", "1") != "0":
        path = _REPORT.write_csv()
        terminalreporter.write_line(f"written: {path}")
