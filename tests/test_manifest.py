"""manifest.json, hacs.json and translations: valid, consistent with the drivers, complete."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.loader import async_get_custom_components

from custom_components.ble_battery_solar.protocol import DRIVERS, drivers_matching

from .protocol.vectors import ADVERTISEMENTS

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "custom_components" / "ble_battery_solar"
MANIFEST = json.loads((COMPONENT / "manifest.json").read_text())


def _sync_manifest_matchers() -> list[dict[str, Any]]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_manifest", ROOT / "scripts" / "sync_manifest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.manifest_matchers()  # type: ignore[no-any-return]


def test_manifest_matchers_are_the_drivers_matchers() -> None:
    """manifest.json is generated from the drivers (scripts/sync_manifest.py)."""
    assert MANIFEST["bluetooth"] == _sync_manifest_matchers()


def test_battery_service_is_not_a_manifest_matcher() -> None:
    assert all("180f" not in json.dumps(m) for m in MANIFEST["bluetooth"])


@pytest.mark.parametrize("matcher", MANIFEST["bluetooth"], ids=json.dumps)
def test_manifest_matcher_shape(matcher: dict[str, Any]) -> None:
    """Only keys HA knows; local_name patterns start with 3 literal characters (hassfest rule)."""
    assert set(matcher) <= {"local_name", "service_uuid", "service_data_uuid", "manufacturer_id",
                            "manufacturer_data_start", "connectable"}
    assert matcher["connectable"] is True
    if "local_name" in matcher:
        assert re.match(r"^[^*?\[]{3}", matcher["local_name"]), matcher["local_name"]
    for key in ("service_uuid", "service_data_uuid"):
        if key in matcher:
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                                matcher[key])


@pytest.mark.parametrize("adv", ADVERTISEMENTS, ids=[a["id"] for a in ADVERTISEMENTS])
def test_each_advertisement_matches_exactly_its_family(adv: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(adv)] == [adv["family"]]


def test_every_family_has_a_title_and_uuids() -> None:
    for family, driver in DRIVERS.items():
        assert driver.title, family
        assert driver.service_uuid, family
        assert driver.read_uuid or driver.notify_uuid, family


def test_manifest_has_what_hacs_and_ha_require() -> None:
    for key in ("domain", "name", "version", "documentation", "issue_tracker", "codeowners",
                "iot_class", "integration_type", "config_flow", "loggers", "bluetooth",
                "dependencies", "requirements"):
        assert key in MANIFEST, key
    assert MANIFEST["domain"] == "ble_battery_solar"
    assert "bluetooth_adapters" in MANIFEST["dependencies"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", MANIFEST["version"])
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["name"]
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", hacs["homeassistant"])
    assert [p.name for p in (ROOT / "custom_components").iterdir() if p.is_dir()
            and p.name != "__pycache__"] == ["ble_battery_solar"]


async def test_home_assistant_loads_the_manifest(hass: HomeAssistant) -> None:
    """HA's own loader accepts the manifest (version, config flow, bluetooth matchers)."""
    integrations = await async_get_custom_components(hass)
    integration = integrations["ble_battery_solar"]
    assert integration.version is not None
    assert str(integration.version) == MANIFEST["version"]
    assert integration.config_flow
    assert integration.bluetooth == MANIFEST["bluetooth"]


def test_translations_match_strings() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    english = json.loads((COMPONENT / "translations" / "en.json").read_text())
    assert strings == english


def _translation_keys_used() -> dict[str, set[str]]:
    from custom_components.ble_battery_solar import (
        binary_sensor,
        button,
        connection,
        pairing,
        probe,
        sensor,
        status,
    )

    return {
        "sensor": {d.translation_key for d in sensor.SENSORS if d.translation_key}
        | {d.translation_key for d in sensor.LINK_SENSORS if d.translation_key}
        | {d.translation_key for d in sensor.ENERGY_SENSORS if d.translation_key}
        | {"cell_voltage", "min_cell_voltage", "max_cell_voltage", "temperature_probe"},
        "button": {d.translation_key for d in button.BUTTONS if d.translation_key},
        "issues": {"device_failing", "no_free_slot", "connection_churn", "pairing_needed"},
        "binary_sensor": {d.translation_key for d in binary_sensor.BINARY_SENSORS
                          if d.translation_key},
        "exceptions": {connection.NOT_FOUND, connection.NO_SLOT, connection.CONNECT_FAILED,
                       connection.TIMEOUT, connection.MALFORMED, connection.LINK_LOST,
                       "released_for_app", "unknown_family", *pairing.PAIRING_KINDS},
        "config_errors": set(probe.FORM_ERRORS.values()),
        "states": set(status.STATUSES),
    }


def test_every_translation_key_is_defined() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    used = _translation_keys_used()
    assert used["sensor"] <= set(strings["entity"]["sensor"])
    assert used["binary_sensor"] <= set(strings["entity"]["binary_sensor"])
    assert used["exceptions"] <= set(strings["exceptions"])
    assert used["button"] <= set(strings["entity"]["button"])
    assert used["issues"] <= set(strings["issues"])
    assert used["config_errors"] <= set(strings["config"]["error"])
    assert used["states"] == set(strings["entity"]["sensor"]["connection"]["state"])
    for reason in ("already_configured", "no_devices_found", "not_supported"):
        assert reason in strings["config"]["abort"]


def test_icons_refer_to_existing_entities() -> None:
    strings = json.loads((COMPONENT / "strings.json").read_text())
    icons = json.loads((COMPONENT / "icons.json").read_text())
    for platform, entries in icons["entity"].items():
        assert set(entries) <= set(strings["entity"][platform]), platform


def test_quality_scale_lists_every_rule() -> None:
    """Every rule HA's quality scale has (as in a Platinum core integration) is done or exempt."""
    import homeassistant.components
    import yaml

    reference = Path(homeassistant.components.__path__[0]) / "acaia" / "quality_scale.yaml"
    reference_rules = yaml.safe_load(reference.read_text())["rules"]
    ours = yaml.safe_load((COMPONENT / "quality_scale.yaml").read_text())["rules"]
    assert set(ours) == set(reference_rules)
    for rule, value in ours.items():
        if isinstance(value, dict):
            assert value["status"] in ("done", "exempt"), rule
            assert value.get("comment"), rule
        else:
            assert value == "done", rule
