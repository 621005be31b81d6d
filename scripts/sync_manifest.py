#!/usr/bin/env python3
"""Writes manifest.json's `bluetooth` matchers from the drivers (the drivers are the source).

Run after adding or changing a family: `.venv/bin/python scripts/sync_manifest.py`.
tests/test_manifest.py fails when the two disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from custom_components.ble_battery_solar.protocol import DRIVERS  # noqa: E402

MANIFEST = ROOT / "custom_components" / "ble_battery_solar" / "manifest.json"


def manifest_matchers() -> list[dict[str, object]]:
    """Matchers of every discoverable driver, de-duplicated, in a stable order."""
    seen: list[dict[str, object]] = []
    for family in sorted(DRIVERS):
        driver = DRIVERS[family]
        if not driver.discoverable:
            continue
        for matcher in driver.matchers:
            entry = {"connectable": True, **dict(matcher)}
            if entry not in seen:
                seen.append(entry)
    return seen


def main() -> None:
    manifest = json.loads(MANIFEST.read_text())
    manifest["bluetooth"] = manifest_matchers()
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{len(manifest['bluetooth'])} matchers written to {MANIFEST.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
