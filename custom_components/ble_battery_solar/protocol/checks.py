"""What a decoded Sample may contain: the plausibility rule and the multi-pack summary.

The rule, the same for every family (applied by `base.finish_sample` to the
Sample and to each of its packs):

- A cell voltage outside 0-5 V, a temperature outside -50...150 °C, a state of
  charge or health outside 0-100 %, or a pack voltage far from the sum of its
  cells (more than 10 % + 0.5 V apart) is impossible: the decode fails with a
  FrameError naming the field, because a frame carrying it is corrupt or
  misread, and such a value must never be shown as a measurement.
- Sentinels are not measurements. Where a protocol (or every real capture of
  it) uses a raw value to say "no sensor in this slot", the driver drops that
  slot before the rule is applied, with `values_list(..., absent=...)`:
  fixed-slot cell arrays mark unused slots with 0 or 0xFFFF, temperatures in
  0.1 K report an unfitted probe as raw 0 (-273.1 °C) or 0xFFFF, Daly reports an
  unfitted MOSFET sensor as 0x0000/0xFFFF, JK as -200.0 °C. A value the
  protocol counts as present (a cell inside the reported cell count) is never
  dropped: out of range, it fails the decode.
"""

from __future__ import annotations

from typing import Any

from .models import FrameError, Sample

CELL_VOLTAGE_RANGE = (0.0, 5.0)
TEMPERATURE_RANGE = (-50.0, 150.0)
PERCENT_RANGE = (0.0, 100.0)
# pack voltage vs. the sum of its cells: relative tolerance plus an absolute one
CELL_SUM_TOLERANCE = (0.25, 1.0)
TEMPERATURE_KEYS = ("controller_temperature", "battery_temperature")
PERCENT_KEYS = ("battery_level", "battery_health")


def _outside(value: float, bounds: tuple[float, float]) -> bool:
    return not bounds[0] <= value <= bounds[1]


def check_plausible(family: str, sample: Sample | dict[str, Any], where: str = "") -> None:
    """Raise FrameError naming the field when a sample holds a physically impossible value."""
    values: dict[str, Any] = dict(sample)
    for index, cell in enumerate(sample.get("cell_voltages") or ()):
        if _outside(cell, CELL_VOLTAGE_RANGE):
            raise FrameError(
                f"{family}: {where}cell_voltages[{index}] {cell} V is outside 0-5 V"
            )
    for index, temp in enumerate(sample.get("temperatures") or ()):
        if _outside(temp, TEMPERATURE_RANGE):
            raise FrameError(
                f"{family}: {where}temperatures[{index}] {temp} °C is outside -50...150 °C"
            )
    for key in TEMPERATURE_KEYS:
        value = values.get(key)
        if value is not None and _outside(value, TEMPERATURE_RANGE):
            raise FrameError(f"{family}: {where}{key} {value} °C is outside -50...150 °C")
    for key in PERCENT_KEYS:
        value = values.get(key)
        if value is not None and _outside(value, PERCENT_RANGE):
            raise FrameError(f"{family}: {where}{key} {value} % is outside 0-100 %")
    cells, voltage = sample.get("cell_voltages"), sample.get("voltage")
    # the cells of parallel packs do not add up to the system voltage: packs are checked alone
    if cells and voltage is not None and "packs" not in sample:
        total = sum(cells)
        relative, absolute = CELL_SUM_TOLERANCE
        if abs(voltage - total) > relative * total + absolute:
            raise FrameError(
                f"{family}: {where}voltage {voltage} V is far from the {total:.3f} V sum of "
                f"its {len(cells)} cells"
            )


def summarise_packs(packs: list[dict[str, Any]]) -> dict[str, Any]:
    """System values of packs in parallel: one voltage, summed currents and charges.

    Voltage is the mean, currents, charges and capacities add up, the state of
    charge follows the summed charge, temperatures and cells are every pack's
    in pack order, the cell spread is the largest inside one pack, alarm bits
    are OR-ed, a MOSFET is on only when it is on in every pack.
    """
    out: dict[str, Any] = {}

    def present(key: str) -> list[Any]:
        return [p[key] for p in packs if key in p]

    if voltages := present("voltage"):
        out["voltage"] = round(sum(voltages) / len(voltages), 3)
    for key in ("current", "cycle_charge", "design_capacity", "power"):
        if values := present(key):
            out[key] = round(sum(values), 3)
    if "cycle_charge" in out and out.get("design_capacity"):
        out["battery_level"] = round(min(100.0, 100 * out["cycle_charge"] / out["design_capacity"]), 1)
    elif levels := present("battery_level"):
        out["battery_level"] = round(sum(levels) / len(levels), 1)
    if cycles := present("cycles"):
        out["cycles"] = max(cycles)
    for key in ("temperatures", "cell_voltages"):
        if lists := present(key):
            out[key] = [v for values in lists for v in values]
    if deltas := present("delta_voltage"):
        out["delta_voltage"] = max(deltas)
    if counts := present("cell_count"):
        out["cell_count"] = max(counts)
    if codes := present("problem_code"):
        code = 0
        for value in codes:
            code |= value
        out["problem_code"] = code
    for key in ("chrg_mosfet", "dischrg_mosfet"):
        if states := present(key):
            out[key] = all(states)
    for key in ("balancer", "heater"):
        if states := present(key):
            out[key] = any(states)
    return out
