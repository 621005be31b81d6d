"""Loads the captured frames and advertisements.

The shared sets (../shared/vectors) come first, then the entries of
tests/fixtures/vectors.json and advertisements.json that the shared sets lack, then
each family's own captures in tests/fixtures/vectors/<family>.json and
tests/fixtures/advertisements/<family>.json (an id seen earlier wins).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_SHARED = ROOT.parent / "shared" / "vectors"
_FIXTURES = ROOT / "tests" / "fixtures"


def _load(name: str) -> list[dict[str, Any]]:
    """The shared entries, then those only in tests/fixtures (matched by id)."""
    files = [_SHARED / name] if (_SHARED / name).exists() else []
    files += [_FIXTURES / name, *sorted((_FIXTURES / name.removesuffix(".json")).glob("*.json"))]
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in files:
        for entry in json.loads(path.read_text()):
            if entry["id"] not in seen:
                seen.add(entry["id"])
                entries.append(entry)
    return entries


VECTORS = _load("vectors.json")
ADVERTISEMENTS = _load("advertisements.json")
NOTIFY_VECTORS = [v for v in VECTORS if v["transport"] == "notify"]
VALID = [v for v in NOTIFY_VECTORS if v["expected"] is not None]
MALFORMED = [v for v in NOTIFY_VECTORS if v["expected"] is None]


def frames_of(vector: dict[str, Any]) -> list[bytes]:
    return [bytes.fromhex(f) for f in vector["frames"]]


def chunked(frames: list[bytes], size: int) -> list[bytes]:
    """Each frame split into notifications of at most `size` bytes, as a device sends them."""
    return [f[i : i + size] for f in frames for i in range(0, len(f), size)]


def close(actual: Any, expected: Any) -> bool:
    """Equal within half a protocol step: 1 mV / 1 mA, 0.1 % of large values."""
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            close(a, e) for a, e in zip(actual, expected, strict=True)
        )
    if isinstance(expected, (bool, str)) or expected is None:
        return actual == expected
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return False
    return math.isclose(actual, expected, abs_tol=0.0011, rel_tol=1e-3)


def mismatches(sample: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {"decoded": sample.get(key, "<missing>"), "expected": value}
        for key, value in expected.items()
        if key not in sample or not close(sample[key], value)
    }
