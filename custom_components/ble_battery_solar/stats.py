"""Connection statistics of one device: what diagnostics, entities and repairs read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class DeviceStats:
    """Counters of one device's links."""

    connects: int = 0
    reuses: int = 0
    disconnects: int = 0
    evictions: int = 0
    slot_waits: int = 0
    retries: int = 0  # same-link retries of a malformed, missing or incomplete response
    reconnects: int = 0  # links lost mid-poll and reconnected within the same poll
    pairings: int = 0  # successful pair() calls (devices that refuse an unbonded central)
    failure_streak: int = 0  # polls failed in a row (0 after a success)
    poll_wait: float = 0.0  # s the latest poll waited for a free slot (evictions included)
    dropped_notifications: int = 0  # notifications no request could use (or over the cap)
    dropped_bytes: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    last_error: str | None = None
    last_connect_seconds: float | None = None
    source: str | None = None
    connect_times: list[float] = field(default_factory=list)  # monotonic, last hour
    last_frames: list[str] = field(default_factory=list)  # hex, newest poll

    def note_connect(self, now: float) -> None:
        """Count a connect and keep the last hour's connect times (churn detection)."""
        self.connects += 1
        self.connect_times = [t for t in self.connect_times if now - t < 3600] + [now]

    def as_dict(self) -> dict[str, Any]:
        """Plain-data copy for diagnostics."""
        return {
            "connects": self.connects,
            "reuses": self.reuses,
            "disconnects": self.disconnects,
            "evictions": self.evictions,
            "slot_waits": self.slot_waits,
            "retries": self.retries,
            "reconnects": self.reconnects,
            "pairings": self.pairings,
            "failure_streak": self.failure_streak,
            "last_poll_slot_wait_seconds": round(self.poll_wait, 3),
            "dropped_notifications": self.dropped_notifications,
            "dropped_bytes": self.dropped_bytes,
            "failures": dict(self.failures),
            "last_error": self.last_error,
            "last_connect_seconds": self.last_connect_seconds,
            "connects_last_hour": len(self.connect_times),
            "source": self.source,
            "last_frames": list(self.last_frames),
        }
