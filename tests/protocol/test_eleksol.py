"""Eleksol driver: the JBD protocol on service 0xFF06, claimed only at a JBD module address."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    decode,
    drivers_matching,
    uuid16,
)
from custom_components.ble_battery_solar.protocol.devices.eleksol import EleksolDriver
from custom_components.ble_battery_solar.protocol.devices.jbd import JbdDriver

from .vectors import ADVERTISEMENTS, VECTORS

BY_ID = {v["id"]: v for v in VECTORS}


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "eleksol"],
                         ids=lambda a: a["id"])
def test_every_eleksol_advertisement_is_eleksol_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["eleksol"]


@pytest.mark.parametrize("address", ["A4:C1:37:01:02:03", "a4-c1-38-01-02-03", "AA:C2:37:00:00:01"])
def test_service_at_a_jbd_module_address_is_claimed(address: str) -> None:
    assert EleksolDriver.matches(Advertisement(service_uuids=(uuid16(0xFF06),), address=address))


@pytest.mark.parametrize("address", ["11:22:33:44:55:66", None])
def test_service_elsewhere_is_not_claimed(address: str | None) -> None:
    assert not EleksolDriver.matches(Advertisement(service_uuids=(uuid16(0xFF06),), address=address))


def test_jbd_service_at_the_same_address_stays_jbd() -> None:
    adv = Advertisement(service_uuids=(uuid16(0xFF00),), address="A5:C2:37:00:00:01")
    assert [d.family for d in drivers_matching(adv)] == ["jbd"]


def test_jbd_requests_and_values_on_its_own_service() -> None:
    assert EleksolDriver().requests() == JbdDriver().requests()
    assert (EleksolDriver.notify_uuid, EleksolDriver.write_uuid) == (uuid16(0xFF07), uuid16(0xFF08))
    frames = [bytes.fromhex(f) for f in BY_ID["eleksol_1"]["frames"]]
    assert decode("eleksol", frames) == decode("jbd", frames)
