"""blesim: a device that goes out of range cannot keep a link.

A link held open by the connection cache ends when its device goes out of
range, as a real link ends at its supervision timeout; the integration sees
the drop, releases the client, and reads again once the device is back.
"""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from blesim import SimDevice, VirtualProxy
from blesim.ha.blesim import async_setup
from custom_components.ble_battery_solar.const import CONF_KEEP_ALIVE, CONF_UPDATE_INTERVAL

from .conftest import advance, setup_entry


async def test_out_of_range_ends_a_held_link(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy, freezer
) -> None:
    await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 30, CONF_KEEP_ALIVE: 600})
    assert list(proxy.links) == [jbd.address]  # the cache holds the link between polls

    jbd.faults.out_of_range = True
    await advance(hass, freezer, 1.5, step=0.25)
    assert proxy.links == {}
    assert proxy.dropped == 1
    assert jbd.centrals == set()
    assert proxy.opened == proxy.closed == 1  # the integration released the dropped client

    await advance(hass, freezer, 31, step=1.0)  # polls while out of range connect nowhere
    assert proxy.links == {}
    assert proxy.opened == 1

    jbd.faults.out_of_range = False
    for _ in range(60):  # it advertises again and is read over a new link
        await advance(hass, freezer, 1.0, step=0.5)
        if proxy.links:
            break
    assert list(proxy.links) == [jbd.address]
    assert proxy.opened == proxy.closed + 1 == 2


async def test_gatt_operations_on_an_out_of_range_device_drop_the_link(
    hass: HomeAssistant, jbd: SimDevice, proxy: VirtualProxy
) -> None:
    """Between two supervision checks, the first request finds the radio gone."""
    entry = await setup_entry(hass, jbd, {CONF_UPDATE_INTERVAL: 30, CONF_KEEP_ALIVE: 600})
    jbd.faults.out_of_range = True
    await entry.runtime_data.async_refresh()
    assert not entry.runtime_data.last_update_success
    assert proxy.links == {}
    assert proxy.opened == proxy.closed


async def test_the_fault_service_drops_the_link_at_once(
    hass: HomeAssistant, enable_bluetooth: None
) -> None:
    conf = {"proxies": [{"name": "p1", "slots": 2}],
            "devices": [{"family": "jbd", "address": "A5:C2:37:10:00:01"}]}
    assert await async_setup(hass, {"blesim": conf})
    (proxy,) = hass.data["blesim"]
    device = proxy.devices["A5:C2:37:10:00:01"]
    client = proxy.client_class(device.address, timeout=10.0)
    await client.connect()
    assert proxy.links == {device.address: client}

    await hass.services.async_call("blesim", "fault", {
        "address": device.address, "fault": "out_of_range"}, blocking=True)
    assert proxy.links == {}
    assert not client.is_connected
    await client.disconnect()
    assert proxy.opened == proxy.closed == 1
    proxy.stop()
