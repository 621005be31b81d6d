"""blesim's development glue: config/blesim.yaml builds the proxies, services script faults."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError

from blesim import FAMILIES
from blesim.ha.blesim import async_setup, build

from .conftest import advance

CONFIG = Path(__file__).parents[1] / "config" / "blesim.yaml"
SERVICES = Path(__file__).parents[1] / "blesim" / "ha" / "blesim" / "services.yaml"


async def test_services_yaml_describes_every_service(hass: HomeAssistant,
                                                     enable_bluetooth: None) -> None:
    """HA's own schema accepts services.yaml, and it describes exactly the registered services."""
    from homeassistant.helpers.service import _SERVICES_SCHEMA

    described = _SERVICES_SCHEMA(yaml.safe_load(SERVICES.read_text()))
    assert await async_setup(hass, {"blesim": {"proxies": [{"name": "p1"}]}})
    assert set(described) == set(hass.services.async_services_for_domain("blesim"))
    assert all(service["name"] and service["description"] for service in described.values())
    for proxy in hass.data["blesim"]:
        proxy.stop()


async def test_dev_config_has_every_family_on_two_proxies(hass: HomeAssistant) -> None:
    proxies = build(hass, yaml.safe_load(CONFIG.read_text()))
    assert [p.slots for p in proxies] == [3, 3]
    families = {d.family for p in proxies for d in p.devices.values()}
    assert families == set(FAMILIES)
    configured = yaml.safe_load(CONFIG.read_text())["devices"]
    for proxy in proxies:  # every device is heard by both, at different strengths
        assert len(proxy.devices) == len(configured)
    # large packs for the device page: 16 and 32 cells, each decoded as such
    cells = sorted(len(d.model.cell_voltages) for d in proxies[0].devices.values()
                   if hasattr(d.model, "cell_voltages"))
    assert 16 in cells
    assert 32 in cells
    # devices that answer only a paired central, as `bonding: true` makes them
    bonding = {d.family: d.bonding_error for d in proxies[0].devices.values() if d.bonding}
    assert bonding == {"epever": 0x05, "votronic": 0x0F}


async def test_services_script_faults_and_proxies(
    hass: HomeAssistant, enable_bluetooth: None, freezer
) -> None:
    conf = {"proxies": [{"name": "p1", "slots": 2}],
            "devices": [{"family": "jbd", "address": "A5:C2:37:10:00:01", "soc": 0.5}]}
    assert await async_setup(hass, {"blesim": conf})
    (proxy,) = hass.data["blesim"]
    device = proxy.devices["A5:C2:37:10:00:01"]
    assert device.model.soc == 0.5
    assert proxy.online

    await hass.services.async_call("blesim", "fault", {
        "address": "a5:c2:37:10:00:01", "fault": "refuse_connect", "seconds": 30,
    }, blocking=True)
    assert device.faults.refuse_connect
    await advance(hass, freezer, 31, step=1.0)
    assert not device.faults.refuse_connect  # scripted faults end by themselves

    await hass.services.async_call("blesim", "fault", {
        "address": "A5:C2:37:10:00:01", "fault": "corrupt"}, blocking=True)
    assert device.faults.corrupt is True
    # From the UI's text field: "false" and numbers arrive as text.
    await hass.services.async_call("blesim", "fault", {
        "address": "A5:C2:37:10:00:01", "fault": "connect_delay", "value": "2.5"}, blocking=True)
    assert device.faults.connect_delay == 2.5
    await hass.services.async_call("blesim", "fault", {
        "address": "A5:C2:37:10:00:01", "fault": "corrupt", "value": "false"}, blocking=True)
    assert device.faults.corrupt is False
    await hass.services.async_call("blesim", "fault", {
        "address": "A5:C2:37:10:00:01", "fault": "corrupt"}, blocking=True)
    await hass.services.async_call("blesim", "clear_faults", {
        "address": "A5:C2:37:10:00:01"}, blocking=True)
    assert not device.faults.corrupt

    await hass.services.async_call("blesim", "hold_slots", {"proxy": "p1", "count": 2},
                                   blocking=True)
    assert not proxy.can_connect()
    await hass.services.async_call("blesim", "proxy_restart", {"proxy": "p1", "after": 10},
                                   blocking=True)
    assert not proxy.online
    await advance(hass, freezer, 11, step=1.0)
    assert proxy.online
    assert proxy.restarts == 1
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call("blesim", "fault", {
            "address": "00:00:00:00:00:00", "fault": "corrupt"}, blocking=True)
    proxy.stop()


async def test_esphome_path_adds_nodes_through_the_esphome_config_flow(
    hass: HomeAssistant, enable_bluetooth: None, socket_enabled: None
) -> None:
    """`path: esphome`: each proxy is an ESPHome node that HA's esphome integration adds."""
    from homeassistant.setup import async_setup_component

    from blesim.esphome import EspHomeNode

    from .conftest import heard, node_ready, wait_real

    assert await async_setup_component(hass, "homeassistant", {})
    conf = {"path": "esphome", "proxies": [{"name": "node-1", "port": 0, "slots": 2}],
            "devices": [{"family": "jbd", "address": "A5:C2:37:10:00:01"}]}
    assert await async_setup(hass, {"blesim": conf})
    (node,) = hass.data["blesim"]
    assert isinstance(node, EspHomeNode)
    (entry,) = hass.config_entries.async_entries("esphome")
    assert entry.unique_id == node.mac
    assert entry.data["port"] == node.port
    await wait_real(lambda: node_ready(node))
    assert await heard(hass, "A5:C2:37:10:00:01")
    await hass.services.async_call("blesim", "hold_slots", {"proxy": "node-1", "count": 2},
                                   blocking=True)
    assert node.free() == 0
    assert await hass.config_entries.async_unload(entry.entry_id)
    await node.close()


async def test_dev_config_sets_alarm_bits_and_a_weak_cell(hass: HomeAssistant) -> None:
    """`problem_code` and `cell_faults` of a device entry reach the simulated device."""
    conf = {"proxies": [{"name": "p1"}],
            "devices": [{"family": "jbd", "address": "A5:C2:37:10:02:80", "soc": 0.5,
                         "current": 0, "cell_faults": {"2": -0.35}, "problem_code": 2}]}
    (proxy,) = build(hass, conf)
    device = proxy.devices["A5:C2:37:10:02:80"]
    assert device.problem_code == 2
    cells = device.model.cell_voltages
    others = [v for i, v in enumerate(cells) if i != 1]
    assert min(others) - cells[1] > 0.3  # cell 2 is the weak one
    # the dev config has such a pack, so the walkthrough can show its alarm and imbalance
    configured = yaml.safe_load(CONFIG.read_text())["devices"]
    assert any(d.get("problem_code") and d.get("cell_faults") for d in configured)
