"""blesim's bonding devices, as bleak sees them through Home Assistant on both paths.

A device with ``bonding=True`` refuses reads, writes with response and notification
subscriptions from a central it holds no bond with (ATT 0x05 or 0x0F, reported as
BlueZ or ESP-IDF report them); `pair()` through HA's client wrapper bonds, the bond is
kept per device and central until the device is reset (which drops its links), and a proxy without pairing
support raises NotImplementedError as bleak-esphome does.
"""

from __future__ import annotations

from typing import Any

import bleak
import pytest
from bleak.exc import BleakError
from homeassistant.components import bluetooth
from homeassistant.core import HomeAssistant

from blesim import BatteryServiceDevice, JbdDevice
from blesim.devices import INSUFFICIENT_ENCRYPTION

from .conftest import BBS_ADDRESS, JBD_ADDRESS, heard, wait_real
from .test_e2e_families import assert_no_leak

LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
JBD_NOTIFY = "0000ff01-0000-1000-8000-00805f9b34fb"


async def _connected(hass: HomeAssistant, address: str) -> Any:
    assert await heard(hass, address)
    ble_device = bluetooth.async_ble_device_from_address(hass, address, connectable=True)
    client = bleak.BleakClient(ble_device)
    await client.connect()
    return client


def _refused(err: BaseException, code: int) -> bool:
    text = str(err)
    return "Not paired" in text or f"error={code} " in text


async def test_bonding_device_refuses_until_paired(
    hass: HomeAssistant, make_any_proxy: Any, ble_path: str
) -> None:
    proxy = await make_any_proxy()
    device = proxy.add(BatteryServiceDevice(BBS_ADDRESS, bonding=True))
    client = await _connected(hass, device.address)
    try:
        with pytest.raises(BleakError) as refused:
            await client.read_gatt_char(LEVEL)
        assert _refused(refused.value, 5), refused.value
        if ble_path == "esphome":
            assert "Insufficient authentication" in str(refused.value)
        else:
            assert str(refused.value) == "[org.bluez.Error.NotPermitted] Not paired"
        await client.pair()
        assert device.bonds == {proxy.source}
        assert (await client.read_gatt_char(LEVEL))[0] == round(device.model.soc * 100)
        device.forget_bonds()  # reset: the link drops, the device forgets the bond
        await wait_real(lambda: not client.is_connected)
    finally:
        await client.disconnect()
    client = await _connected(hass, device.address)
    try:
        with pytest.raises(BleakError):
            await client.read_gatt_char(LEVEL)
        await client.pair()
        assert device.pairings == 2
        assert len(await client.read_gatt_char(LEVEL)) == 1
    finally:
        await client.disconnect()
    assert_no_leak(proxy)


async def test_notify_enable_is_refused_with_insufficient_encryption(
    hass: HomeAssistant, make_any_proxy: Any, ble_path: str
) -> None:
    proxy = await make_any_proxy()
    device = proxy.add(JbdDevice(JBD_ADDRESS, bonding=True,
                                 bonding_error=INSUFFICIENT_ENCRYPTION))
    client = await _connected(hass, device.address)
    try:
        with pytest.raises(BleakError) as refused:
            await client.start_notify(JBD_NOTIFY, lambda _c, _d: None)
        assert _refused(refused.value, 15), refused.value
        if ble_path == "esphome":
            assert "Insufficient encryption" in str(refused.value)
        await client.pair()
        await client.start_notify(JBD_NOTIFY, lambda _c, _d: None)
        await client.stop_notify(JBD_NOTIFY)
    finally:
        await client.disconnect()
    assert_no_leak(proxy)


async def test_refused_pairing_and_a_proxy_that_cannot_pair(
    hass: HomeAssistant, make_any_proxy: Any
) -> None:
    proxy = await make_any_proxy(pairing=False)
    device = proxy.add(BatteryServiceDevice(BBS_ADDRESS, bonding=True))
    client = await _connected(hass, device.address)
    try:
        with pytest.raises(NotImplementedError):
            await client.pair()
    finally:
        await client.disconnect()
    assert device.bonds == set()
    assert_no_leak(proxy)


async def test_device_that_rejects_the_bond(hass: HomeAssistant, make_any_proxy: Any) -> None:
    proxy = await make_any_proxy()
    device = proxy.add(BatteryServiceDevice(BBS_ADDRESS, bonding=True))
    device.faults.refuse_pairing = True
    client = await _connected(hass, device.address)
    try:
        with pytest.raises(BleakError):
            await client.pair()
        with pytest.raises(BleakError):
            await client.read_gatt_char(LEVEL)
    finally:
        await client.disconnect()
    assert device.bonds == set()
    assert_no_leak(proxy)


def test_bonding_error_must_be_an_authentication_or_encryption_error() -> None:
    with pytest.raises(ValueError, match="0x08"):
        BatteryServiceDevice(BBS_ADDRESS, bonding=True, bonding_error=0x08)
