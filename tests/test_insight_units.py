"""The insight's pure parts: cell summary, imbalance timing, time-to smoothing and fallbacks."""

from __future__ import annotations

import pytest

from custom_components.ble_battery_solar.cell_health import (
    IMBALANCE_ENDED,
    IMBALANCE_STARTED,
    ImbalanceMonitor,
    cell_stats,
)
from custom_components.ble_battery_solar.time_to import TimeToEstimator


def test_cell_stats_name_the_cells_from_one() -> None:
    stats = cell_stats({"cell_voltages": [3.30, 3.31, 3.21, 3.32]})
    assert stats is not None
    assert (stats.lowest_cell, stats.highest_cell, stats.outlier_cell) == (3, 4, 3)
    assert stats.spread == pytest.approx(0.11)
    assert stats.average == pytest.approx(3.285)
    assert cell_stats({}) is None
    assert cell_stats({"cell_voltages": []}) is None


def test_a_gap_in_the_readings_restarts_the_imbalance_count() -> None:
    monitor = ImbalanceMonitor()
    wide = cell_stats({"cell_voltages": [3.2, 3.3]})
    assert monitor.update(wide, 0, 50, hold=60, max_gap=30) is None
    # 100 s without a reading: the spread may have been fine in between
    assert monitor.update(wide, 100, 50, hold=60, max_gap=30) is None
    assert monitor.update(wide, 130, 50, hold=60, max_gap=30) is None
    assert monitor.update(wide, 160, 50, hold=60, max_gap=30) == IMBALANCE_STARTED
    narrow = cell_stats({"cell_voltages": [3.3, 3.3]})
    assert monitor.update(narrow, 170, 50, hold=60, max_gap=30) == IMBALANCE_ENDED


def test_a_reading_without_cells_keeps_the_state() -> None:
    monitor = ImbalanceMonitor()
    wide = cell_stats({"cell_voltages": [3.2, 3.3]})
    assert monitor.update(wide, 0, 50, hold=0, max_gap=30) == IMBALANCE_STARTED
    assert monitor.update(None, 10, 50, hold=0, max_gap=30) is None
    assert monitor.active


def test_time_to_uses_the_level_when_the_charge_is_not_reported() -> None:
    estimator = TimeToEstimator()
    estimator.update({"current": -5.0, "battery_level": 50.0, "design_capacity": 100.0}, 0, 90)
    assert estimator.time_to_empty == 10 * 3600
    estimator.update({"current": 5.0, "battery_level": 80.0, "cycle_charge": 40.0}, 10, 90)
    assert estimator.time_to_full == pytest.approx(2 * 3600)  # capacity 50 Ah from the level
    estimator.update({"current": 5.0}, 20, 90)  # nothing to tell the charge from
    assert estimator.time_to_full is None


def test_time_to_smoothing_does_not_depend_on_the_interval() -> None:
    fast, slow = TimeToEstimator(), TimeToEstimator()
    sample = {"current": -10.0, "cycle_charge": 50.0, "design_capacity": 100.0}
    fast.update(sample, 0, 90)
    slow.update(sample, 0, 90)
    step = {**sample, "current": -20.0}
    for t in range(5, 61, 5):
        fast.update(step, t, 90)
    for t in range(30, 61, 30):
        slow.update(step, t, 90)
    assert fast.current == pytest.approx(slow.current, rel=1e-9)


def test_cells_of_parallel_packs_are_named_by_pack_and_cell() -> None:
    sample = {
        "cell_voltages": [3.30, 3.31, 3.30, 3.31, 3.30, 3.18, 3.31, 3.30],
        "packs": [
            {"pack_address": 1, "cell_voltages": [3.30, 3.31, 3.30, 3.31]},
            {"pack_address": 2, "cell_voltages": [3.30, 3.18, 3.31, 3.30]},
        ],
    }
    stats = cell_stats(sample)
    assert stats is not None
    attributes = stats.attributes()
    assert (attributes["pack"], attributes["cell"]) == (2, 2)
    assert (attributes["lowest_pack"], attributes["lowest_cell"]) == (2, 2)
    assert (attributes["highest_pack"], attributes["highest_cell"]) == (1, 2)
    single = cell_stats({"cell_voltages": [3.3, 3.2]})
    assert single is not None
    assert "pack" not in single.attributes()
