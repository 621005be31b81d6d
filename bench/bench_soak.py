"""The full soak: 24 simulated hours, 20 devices over 3 virtual proxies x 3 slots.

Run by `scripts/soak` (profile overridable through SOAK_HOURS, SOAK_DEVICES, SOAK_PROXIES,
SOAK_SEED, SOAK_PATH=esphome). Figures go to the report (printed, and written to bench/results/soak-*.csv);
the run fails when any check of bench/soak.py is violated.
"""

from __future__ import annotations

import os

import pytest
from homeassistant.core import HomeAssistant

from .report import Report
from .simclock import SimClock
from .soak import SoakProfile, run_soak


def profile_from_env() -> SoakProfile:
    """The default 24 h profile, with overrides from the environment."""
    return SoakProfile(
        hours=float(os.environ.get("SOAK_HOURS", "24")),
        devices=int(os.environ.get("SOAK_DEVICES", "20")),
        proxies=int(os.environ.get("SOAK_PROXIES", "3")),
        seed=int(os.environ.get("SOAK_SEED", "20261004")),
        samples=int(os.environ.get("SOAK_SAMPLES", "24")),
        # "esphome": the proxies are blesim's ESPHome nodes behind HA's esphome integration
        path=os.environ.get("SOAK_PATH", "blesim"),
    )


async def test_soak(hass: HomeAssistant, clock: SimClock, report: Report,
                    request: pytest.FixtureRequest) -> None:
    """Run the profile, record every figure, fail on any violation."""
    profile = profile_from_env()
    if profile.path == "esphome":  # HA's esphome integration talks TCP to the nodes
        request.getfixturevalue("socket_enabled")
    result = await run_soak(hass, clock, profile)
    case = f"{profile.hours:g} h, seed {profile.seed}, {profile.path} path"
    for metric, value in result.figures.items():
        text = (", ".join(f"{k}={v}" for k, v in value.items()) or "none"
                if isinstance(value, dict) else value)
        report.add("soak", case, metric, text)
    report.add("soak", case, "violations", len(result.violations), target="0",
               met=not result.violations)
    for violation in result.violations[:20]:
        report.add("soak", case, "violation", violation)
    assert result.violations == [], "\n".join(result.violations)
