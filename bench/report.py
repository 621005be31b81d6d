"""Collects benchmark figures, prints them as a table and writes them to a CSV file.

Every figure is one row: benchmark, case, metric, value, unit, target and whether the
target is met. The CSV starts with rows of benchmark "machine" that state where the
figures were measured (CPU, cores, load, Python, Home Assistant and library versions).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"
FIELDS = ("benchmark", "case", "metric", "value", "unit", "target", "met")


@dataclass(slots=True)
class Figure:
    """One measured figure."""

    benchmark: str
    case: str
    metric: str
    value: float | int | str
    unit: str = ""
    target: str = ""
    met: bool | None = None

    def cells(self) -> tuple[str, ...]:
        """The figure as text cells, in FIELDS order."""
        value = self.value
        if isinstance(value, float):
            value = f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
        met = "" if self.met is None else ("yes" if self.met else "NO")
        return (self.benchmark, self.case, self.metric, str(value), self.unit, self.target, met)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _commit() -> str:
    """The git commit measured (with "+changes" when the work tree differs), if known."""
    if commit := os.environ.get("BENCH_COMMIT"):
        return commit
    root = Path(__file__).parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout; set BENCH_COMMIT)"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def machine() -> dict[str, str]:
    """Where the figures are measured."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "load_avg_1m_at_start": f"{load[0]:.2f}",
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "homeassistant": _version("homeassistant"),
        "habluetooth": _version("habluetooth"),
        "bleak": _version("bleak"),
        "bleak_retry_connector": _version("bleak-retry-connector"),
        "commit": _commit(),
    }


class Report:
    """The figures of one run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.machine = machine()
        self.started = dt.datetime.now(dt.UTC)
        self.figures: list[Figure] = []

    def add(
        self,
        benchmark: str,
        case: str,
        metric: str,
        value: float | int | str,
        unit: str = "",
        *,
        target: str = "",
        met: bool | None = None,
    ) -> Figure:
        """Record one figure."""
        figure = Figure(benchmark, case, metric, value, unit, target, met)
        self.figures.append(figure)
        return figure

    def table(self) -> str:
        """The figures as a fixed-width text table, machine first."""
        lines = [f"{self.name} — measured on: "
                 + ", ".join(f"{k}={v}" for k, v in self.machine.items())]
        rows = [FIELDS, *(f.cells() for f in self.figures)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(FIELDS))]
        for n, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def write_csv(self, directory: Path = RESULTS_DIR) -> Path:
        """Write the figures (machine rows first) to <directory>/<name>-<UTC time>.csv."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}-{self.started:%Y%m%dT%H%M%SZ}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(FIELDS)
            for key, value in self.machine.items():
                writer.writerow(("machine", "", key, value, "", "", ""))
            writer.writerow(("machine", "", "run_started_utc", self.started.isoformat(), "", "", ""))
            for figure in self.figures:
                writer.writerow(figure.cells())
        return path
