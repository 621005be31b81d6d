"""The release workflow's preparation (scripts/release): version check, zip and notes."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSION = json.loads((ROOT / "custom_components/ble_battery_solar/manifest.json").read_text())[
    "version"
]


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The files the release needs, copied, so dist/ is written outside the repository."""
    for name in ("scripts/release", "hacs.json", "CHANGELOG.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(
        ROOT / "custom_components/ble_battery_solar",
        tmp_path / "custom_components/ble_battery_solar",
    )
    return tmp_path


def _release(clone: Path, tag: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(clone / "scripts/release"), tag], capture_output=True, text=True, check=False
    )


def test_hacs_json_asks_for_the_zip_release() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["zip_release"] is True
    assert hacs["filename"] == "ble_battery_solar.zip"
    assert hacs["homeassistant"]


def test_release_zips_the_integration_as_hacs_installs_it(clone: Path) -> None:
    (clone / "custom_components/ble_battery_solar/__pycache__").mkdir(exist_ok=True)
    (clone / "custom_components/ble_battery_solar/__pycache__/x.cpython-314.pyc").write_bytes(b"")
    result = _release(clone, VERSION)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(clone / "dist/ble_battery_solar.zip") as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["version"] == VERSION
    assert {"__init__.py", "manifest.json", "strings.json", "translations/en.json"} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.startswith("custom_components")]
    notes = (clone / "dist/release-notes.md").read_text()
    assert notes.strip()
    assert "## [" not in notes  # only this version's section


def test_release_refuses_a_tag_that_is_not_the_manifest_version(clone: Path) -> None:
    result = _release(clone, VERSION + "1")
    assert result.returncode != 0
    assert "differs from manifest.json version" in result.stderr
    assert not (clone / "dist").exists()


def test_release_refuses_a_version_without_changelog_section(clone: Path) -> None:
    changelog = clone / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace(f"## [{VERSION}]", "## [0.0.0]"))
    result = _release(clone, VERSION)
    assert result.returncode != 0
    assert "CHANGELOG.md has no section" in result.stderr
