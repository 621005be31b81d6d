"""Config flow: bluetooth discovery, confirmation, the user pick list, aborts and options."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import probatio as vol
import pytest
from homeassistant.components import bluetooth
from homeassistant.config_entries import SOURCE_BLUETOOTH, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData

from blesim import BatteryServiceDevice, JbdDevice, SimDevice, VirtualProxy, make_device
from custom_components.ble_battery_solar import get_manager
from custom_components.ble_battery_solar.const import (
    CONF_FAMILY,
    CONF_KEEP_ALIVE,
    CONF_RELEASE_MINUTES,
    CONF_UPDATE_INTERVAL,
    CONF_VARIANT,
    DOMAIN,
)
from custom_components.ble_battery_solar.protocol import (
    FAMILIES,
    Advertisement,
    FrameError,
    get_driver,
)

from .conftest import JBD_ADDRESS, advance, run_until_done, setup_entry


def _service_info(hass: HomeAssistant, address: str) -> bluetooth.BluetoothServiceInfoBleak:
    info = bluetooth.async_last_service_info(hass, address, connectable=True)
    assert info is not None
    return info


async def _discoveries(hass: HomeAssistant) -> list[dict]:
    """Our flows in progress once HA's discovery (a background task) has run."""
    await hass.async_block_till_done(wait_background_tasks=True)
    return _our_flows(hass)


def _our_flows(hass: HomeAssistant) -> list[dict]:
    return [f for f in hass.config_entries.flow.async_progress() if f["handler"] == DOMAIN]


async def test_discovery_confirm_creates_entry_with_entities(
    hass: HomeAssistant, jbd: SimDevice
) -> None:
    """HA pushes a discovery from our manifest matchers; confirming adds a working device."""
    flows = await _discoveries(hass)
    assert [f["context"]["source"] for f in flows] == [SOURCE_BLUETOOTH]
    assert flows[0]["context"]["unique_id"] == JBD_ADDRESS
    assert flows[0]["step_id"] == "bluetooth_confirm"

    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == jbd.name
    assert result["data"] == {"address": JBD_ADDRESS, CONF_FAMILY: "jbd", CONF_VARIANT: None}
    entry = result["result"]
    assert entry.unique_id == JBD_ADDRESS
    assert entry.state is ConfigEntryState.LOADED

    model = jbd.model
    assert float(hass.states.get("sensor.sim_jbd_sp04s_voltage").state) == pytest.approx(
        model.voltage, abs=0.01
    )
    assert float(hass.states.get("sensor.sim_jbd_sp04s_current").state) == pytest.approx(
        model.current, abs=0.01
    )
    assert hass.states.get("sensor.sim_jbd_sp04s_battery").state == str(round(model.soc * 100))
    for i, cell in enumerate(model.cell_voltages, start=1):
        state = hass.states.get(f"sensor.sim_jbd_sp04s_cell_{i}_voltage")
        assert float(state.state) == pytest.approx(cell, abs=0.001)
    for i, temp in enumerate(model.temperatures, start=1):
        state = hass.states.get(f"sensor.sim_jbd_sp04s_temperature_{i}")
        assert float(state.state) == pytest.approx(temp, abs=0.1)
        assert state.attributes["unit_of_measurement"] == "°C"
    voltage = hass.states.get("sensor.sim_jbd_sp04s_voltage")
    assert voltage.attributes["device_class"] == "voltage"
    assert voltage.attributes["state_class"] == "measurement"
    assert hass.states.get("binary_sensor.sim_jbd_sp04s_charge_mosfet").state == "on"


async def test_battery_service_is_never_pushed_but_offered_in_user_step(
    hass: HomeAssistant, bbs: SimDevice, jbd: SimDevice
) -> None:
    """0x180F devices (phones, mice...) get no discovery; the user can still pick them."""
    assert {f["context"]["unique_id"] for f in await _discoveries(hass)} == {JBD_ADDRESS}

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_BLUETOOTH}, data=_service_info(hass, bbs.address)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"

    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    options = result["data_schema"].schema["address"].config["options"]
    assert {o["value"] for o in options} == {bbs.address, jbd.address}
    assert any("Bluetooth Battery Service" in o["label"] for o in options)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": bbs.address}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        "address": bbs.address, CONF_FAMILY: "ble_battery_service", CONF_VARIANT: None
    }
    assert hass.states.get("sensor.sim_battery_battery").state == str(round(bbs.model.soc * 100))


async def test_user_step_skips_configured_devices(
    hass: HomeAssistant, jbd: SimDevice, bbs: SimDevice
) -> None:
    await setup_entry(hass, jbd)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    options = result["data_schema"].schema["address"].config["options"]
    assert [o["value"] for o in options] == [bbs.address]


async def test_user_step_no_devices_found(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_devices_found"


async def test_user_step_offers_unknown_devices_only_for_identification(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    class Headset(SimDevice):
        local_name = "Some Headphones"
        service_uuids = ("0000110b-0000-1000-8000-00805f9b34fb",)

    proxy.add(Headset("11:22:33:44:55:66"))
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    options = result["data_schema"].schema["address"].config["options"]
    assert [o["value"] for o in options] == ["identify"]


async def test_user_step_aborts_when_configured_meanwhile(
    hass: HomeAssistant, jbd: SimDevice
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    await setup_entry(hass, jbd)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": jbd.address}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_discovery_of_configured_device_aborts(hass: HomeAssistant, jbd: SimDevice) -> None:
    for flow in await _discoveries(hass):  # the discovery pushed before the entry existed
        hass.config_entries.flow.async_abort(flow["flow_id"])
    await setup_entry(hass, jbd)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_BLUETOOTH}, data=_service_info(hass, jbd.address)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_discovery_of_unsupported_device_aborts(
    hass: HomeAssistant, proxy: VirtualProxy
) -> None:
    class Thermometer(SimDevice):
        local_name = "Thermo"
        service_uuids = ("0000181a-0000-1000-8000-00805f9b34fb",)

    proxy.add(Thermometer("11:22:33:44:55:77"))
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_BLUETOOTH},
        data=_service_info(hass, "11:22:33:44:55:77"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_supported"


async def test_options_apply_without_restart(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    manager = get_manager(hass)
    assert coordinator.update_interval == timedelta(seconds=30)
    assert manager.is_open(jbd.address)

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    schema_defaults = {str(k): k.default() for k in result["data_schema"].schema}
    assert schema_defaults == {CONF_UPDATE_INTERVAL: 30, CONF_KEEP_ALIVE: 90,
                               CONF_RELEASE_MINUTES: 10, "imbalance_mv": 50,
                               "imbalance_minutes": 5, "live_interval": 5,
                             "allow_control": False, "pair": False}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_UPDATE_INTERVAL: 10, CONF_KEEP_ALIVE: 0, CONF_RELEASE_MINUTES: 5}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_UPDATE_INTERVAL: 10, CONF_KEEP_ALIVE: 0,
                             CONF_RELEASE_MINUTES: 5, "imbalance_mv": 50,
                             "imbalance_minutes": 5, "live_interval": 5,
                             "allow_control": False, "pair": False}
    # Same coordinator (no reload), new settings, link released for the phone app.
    assert entry.runtime_data is coordinator
    assert coordinator.update_interval == timedelta(seconds=10)
    assert coordinator.keep_alive == 0
    assert not manager.is_open(jbd.address)
    assert proxy.links == {}


@pytest.mark.parametrize(
    "options",
    [
        {CONF_UPDATE_INTERVAL: 4, CONF_KEEP_ALIVE: 90, CONF_RELEASE_MINUTES: 10},
        {CONF_UPDATE_INTERVAL: 30, CONF_KEEP_ALIVE: -1, CONF_RELEASE_MINUTES: 10},
        {CONF_UPDATE_INTERVAL: "soon", CONF_KEEP_ALIVE: 90, CONF_RELEASE_MINUTES: 10},
        {CONF_UPDATE_INTERVAL: 30, CONF_KEEP_ALIVE: 90, CONF_RELEASE_MINUTES: 0},
    ],
)
async def test_options_reject_invalid_values(
    hass: HomeAssistant, jbd: SimDevice, options: dict
) -> None:
    entry = await setup_entry(hass, jbd)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(result["flow_id"], options)
    assert entry.options == {}


async def test_second_device_of_other_family(hass: HomeAssistant, proxy: VirtualProxy) -> None:
    """Two JBD devices and a Battery Service device can be set up side by side."""
    devices = [proxy.add(JbdDevice(f"A5:C2:37:10:00:0{i}", f"JBD-{i}")) for i in (1, 2)]
    devices.append(proxy.add(BatteryServiceDevice("C0:FF:EE:00:00:10")))
    entries = [await setup_entry(hass, d) for d in devices]
    assert all(e.state is ConfigEntryState.LOADED for e in entries)
    assert len({e.runtime_data.address for e in entries}) == 3


RENOGY_ADDRESS = "60:98:66:ED:FC:11"


def _renogy(proxy: VirtualProxy, family: str) -> SimDevice:
    """A BT-2 module ("BT-TH-…", service 0xFFD0) on a battery or a charge controller."""
    return proxy.add(make_device(family, RENOGY_ADDRESS, "BT-TH-66EDFC11"))


@pytest.mark.parametrize(
    ("family", "asked"),
    [("renogy_controller", ["renogy_battery", "srne", "renogy_controller"]),
     ("srne", ["renogy_battery", "srne"]),
     ("renogy_inverter", ["renogy_battery", "srne", "renogy_controller", "renogy_inverter"]),
     ("renogy_battery", ["renogy_battery"])],
)
async def test_discovered_bt_module_is_probed_and_what_answered_is_preselected(
    hass: HomeAssistant, proxy: VirtualProxy, freezer, family: str, asked: list[str]
) -> None:
    """The advertisement cannot tell a battery from a controller; their first requests can."""
    device = _renogy(proxy, family)
    flows = await _discoveries(hass)  # pushed by HA from the BT-TH-* manifest matcher
    assert [f["context"]["unique_id"] for f in flows] == [RENOGY_ADDRESS]
    assert flows[0]["step_id"] == "bluetooth_confirm"
    assert device.connects == 0  # nothing connects before the user confirms
    result = await run_until_done(
        hass, freezer, hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    )
    assert result["step_id"] == "device_type"
    schema = result["data_schema"].schema
    (key,) = schema
    assert key.default() == family  # preselected: what answered
    assert [c["value"] for c in schema[CONF_FAMILY].config["options"]] == [
        "renogy_battery", "srne", "renogy_controller", "renogy_inverter"
    ]
    # Only each family's first documented read request was written (Modbus function 3).
    adv = Advertisement.from_any(_service_info(hass, RENOGY_ADDRESS))
    first = {f: get_driver(f)(get_driver(f).variant_for(adv)).requests()[0] for f in asked}
    assert device.requests_seen == [first[f] for f in asked]
    assert all(r[1] == 0x03 for r in device.requests_seen)
    # the probe's link waits for the entry the setup is about to create
    assert (proxy.opened, proxy.closed, len(proxy.links)) == (1, 0, 1)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_FAMILY: family}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_FAMILY] == family
    assert result["result"].state is ConfigEntryState.LOADED
    assert result["result"].runtime_data.last_update_success
    assert proxy.opened == 1  # its first read used the probe's link: one connect in all


async def test_user_step_for_bt_module_preselects_the_controller(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    _renogy(proxy, "renogy_controller")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await run_until_done(hass, freezer, hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": RENOGY_ADDRESS}
    ))
    assert result["step_id"] == "device_type"
    assert result["description_placeholders"]["answered"] == get_driver("renogy_controller").title
    (key,) = result["data_schema"].schema
    assert key.default() == "renogy_controller"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_FAMILY: "renogy_controller"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"address": RENOGY_ADDRESS, CONF_FAMILY: "renogy_controller",
                              CONF_VARIANT: None}


# form error -> the device fault that causes it (None: other centrals fill the proxy)
FAULTS = {"held_by_other": "held_by_phone", "out_of_range": "out_of_range",
          "no_free_slot": None, "no_answer": "no_answer"}


@pytest.mark.parametrize("error", FAULTS)
async def test_a_device_that_cannot_be_read_is_a_form_error_not_an_entry(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer, error: str
) -> None:
    """Test before configure: the user learns why at once; once fixed, Submit adds it."""
    (flow,) = await _discoveries(hass)
    if (fault := FAULTS[error]) is None:
        proxy.hold_slots(3)
    else:
        setattr(jbd.faults, fault, True)
    result = await run_until_done(
        hass, freezer, hass.config_entries.flow.async_configure(flow["flow_id"], {})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "bluetooth_confirm"
    assert result["errors"] == {"base": error}
    assert hass.config_entries.async_entries(DOMAIN) == []
    assert proxy.opened == proxy.closed
    assert proxy.links == {}

    jbd.faults.clear()
    proxy.hold_slots(0)
    result = await run_until_done(
        hass, freezer, hass.config_entries.flow.async_configure(flow["flow_id"], {})
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].state is ConfigEntryState.LOADED


async def test_user_step_errors_and_preselects_nothing(
    hass: HomeAssistant, jbd: SimDevice, freezer
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    (key,) = result["data_schema"].schema
    # Optional and without a default: the frontend preselects the first option of a
    # required select only, so nothing is picked until the user picks.
    assert isinstance(key, vol.Optional)
    assert key.default is vol.UNDEFINED
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["errors"] == {"base": "no_device_selected"}

    jbd.faults.held_by_phone = True
    result = await run_until_done(hass, freezer, hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": jbd.address}
    ))
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "held_by_other"}
    jbd.faults.held_by_phone = False
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": jbd.address}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


class RenamedJbd(JbdDevice):
    """A JBD whose firmware advertises another name and no service UUID."""

    local_name = "My Camper Battery"
    service_uuids = ()
    manufacturer_data = {}


async def test_identify_unknown_device_reports_which_family_answered(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    device = proxy.add(RenamedJbd("A5:C2:37:10:00:42"))
    assert await _discoveries(hass) == []  # no matcher knows it
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    options = result["data_schema"].schema["address"].config["options"]
    assert [o["value"] for o in options] == ["identify"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": "identify"}
    )
    assert result["step_id"] == "identify"
    options = result["data_schema"].schema["address"].config["options"]
    assert [o["value"] for o in options] == [device.address]
    result = await run_until_done(hass, freezer, hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": device.address}
    ))
    assert result["step_id"] == "identified"
    assert result["description_placeholders"]["answered"] == get_driver("jbd").title
    # Only families with JBD's characteristics (0xFF01/0xFF02) wrote, each its first request.
    firsts = set()
    for family in FAMILIES:
        with contextlib.suppress(FrameError):  # requests that need the advertised name
            firsts.update(get_driver(family)().requests()[:1])
    assert device.requests_seen
    assert set(device.requests_seen) <= firsts
    assert (proxy.opened, proxy.closed) == (1, 0)  # kept for the entry about to be created
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_FAMILY: "jbd"})
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"address": device.address, CONF_FAMILY: "jbd", CONF_VARIANT: None}
    assert result["result"].state is ConfigEntryState.LOADED
    assert proxy.opened == 1  # the entry's first read used the probe's link


async def test_identify_a_device_that_speaks_no_supported_protocol(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    class Headset(SimDevice):
        local_name = "Some Headphones"
        service_uuids = ("0000110b-0000-1000-8000-00805f9b34fb",)

    headset = proxy.add(Headset("11:22:33:44:55:66"))
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": "identify"}
    )
    result = await run_until_done(hass, freezer, hass.config_entries.flow.async_configure(
        result["flow_id"], {"address": headset.address}
    ))
    assert result["step_id"] == "identify"
    assert result["errors"] == {"base": "not_identified"}
    assert headset.requests_seen == []  # it has none of our characteristics: nothing written
    assert proxy.opened == proxy.closed == 1


async def test_reconfigure_changes_the_protocol(hass: HomeAssistant, jbd: SimDevice) -> None:
    entry = await setup_entry(hass, jbd)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_FAMILY: "ble_battery_service"}
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_FAMILY] == "ble_battery_service"
    # A JBD does not speak the Battery Service: the reloaded entry fails to set up cleanly.
    assert entry.state is ConfigEntryState.SETUP_RETRY



async def test_probe_link_closes_when_no_entry_takes_it(
    hass: HomeAssistant, proxy: VirtualProxy, freezer
) -> None:
    """The user leaves the dialog after the probe: the link closes after its short wait."""
    from custom_components.ble_battery_solar.probe import PROBE_KEEP_ALIVE

    _renogy(proxy, "renogy_controller")
    flows = await _discoveries(hass)
    result = await run_until_done(
        hass, freezer, hass.config_entries.flow.async_configure(flows[0]["flow_id"], {})
    )
    assert result["step_id"] == "device_type"
    assert len(proxy.links) == 1
    hass.config_entries.flow.async_abort(result["flow_id"])
    await advance(hass, freezer, PROBE_KEEP_ALIVE + 1, step=1)
    assert proxy.links == {}
    assert proxy.opened == proxy.closed == 1
