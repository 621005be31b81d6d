"""Cell health: lowest, highest, spread and average cell, and the imbalance alert.

The alert turns on when the spread between the highest and the lowest cell has
stayed above the owner's threshold for the configured time, judged on fresh
readings only; it turns off when the spread falls to 80 % of the threshold, so a
spread hovering at the threshold does not toggle it on every read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .protocol import Sample

CLEAR_RATIO = 0.8  # the alert clears at this share of the threshold
IMBALANCE_STARTED = "imbalance_started"
IMBALANCE_ENDED = "imbalance_ended"


@dataclass(frozen=True, slots=True)
class CellStats:
    """Summary of one reading's cell voltages (V); cells are numbered from 1."""

    lowest: float
    lowest_cell: int
    highest: float
    highest_cell: int
    average: float
    outlier_cell: int  # the cell furthest from the average: the one to look at
    # several packs (Seplos V3 in parallel): pack number of each cell, numbered within it
    packs: tuple[tuple[int, int], ...] | None = None

    @property
    def spread(self) -> float:
        """Highest minus lowest cell (V)."""
        return round(self.highest - self.lowest, 4)

    def attributes(self) -> dict[str, Any]:
        """Which cells, for state attributes and event data (with their pack, if several)."""
        out: dict[str, Any] = {
            "cell": self.outlier_cell,
            "lowest_cell": self.lowest_cell,
            "lowest_voltage": self.lowest,
            "highest_cell": self.highest_cell,
            "highest_voltage": self.highest,
            "spread_mv": round(self.spread * 1000),
        }
        if self.packs:
            for name in ("cell", "lowest_cell", "highest_cell"):
                pack, cell = self.packs[out[name] - 1]
                out[name] = cell
                out[name.replace("cell", "pack")] = pack
        return out


def cell_stats(sample: Sample) -> CellStats | None:
    """The cell summary of a reading, or None when it carries no cell voltages."""
    cells = sample.get("cell_voltages")
    if not cells:
        return None
    lowest, highest = min(cells), max(cells)
    average = sum(cells) / len(cells)
    outlier = max(range(len(cells)), key=lambda i: abs(cells[i] - average))
    return CellStats(
        lowest=lowest, lowest_cell=cells.index(lowest) + 1,
        highest=highest, highest_cell=cells.index(highest) + 1,
        average=round(average, 4), outlier_cell=outlier + 1, packs=_pack_of_each_cell(sample),
    )


def _pack_of_each_cell(sample: Sample) -> tuple[tuple[int, int], ...] | None:
    """(pack, cell within it) of each top-level cell, when the cells are several packs'."""
    packs = sample.get("packs") or []
    where = [
        (pack.get("pack_address", number + 1), index + 1)
        for number, pack in enumerate(packs)
        for index in range(len(pack.get("cell_voltages") or []))
    ]
    return tuple(where) if len(packs) > 1 and len(where) == len(sample["cell_voltages"]) else None


class ImbalanceMonitor:
    """Whether a pack's cells have been out of balance for longer than allowed."""

    def __init__(self) -> None:
        self.active = False
        self.above_since: float | None = None  # monotonic time the spread first exceeded
        self.stats: CellStats | None = None
        self.threshold_mv = 0
        self._last_seen: float | None = None

    def update(
        self, stats: CellStats | None, now: float, threshold_mv: int, hold: float, max_gap: float
    ) -> str | None:
        """Judge a fresh reading; IMBALANCE_STARTED or IMBALANCE_ENDED when the state flips.

        `hold`: seconds the spread must stay above the threshold; `max_gap`: a gap
        between readings longer than this restarts the count (what happened in
        between is unknown).
        """
        self.threshold_mv = threshold_mv
        if self._last_seen is not None and now - self._last_seen > max_gap:
            self.above_since = None
        self._last_seen = now
        if stats is None:
            return None
        self.stats = stats
        spread_mv = stats.spread * 1000
        if spread_mv > threshold_mv:
            if self.above_since is None:
                self.above_since = now
        elif spread_mv <= threshold_mv * CLEAR_RATIO or not self.active:
            self.above_since = None
        if not self.active and self.above_since is not None and now - self.above_since >= hold:
            self.active = True
            return IMBALANCE_STARTED
        if self.active and spread_mv <= threshold_mv * CLEAR_RATIO:
            self.active = False
            return IMBALANCE_ENDED
        return None
