"""AG Automotive driver: discovery by name and company id, the E&J protocol on AG's service."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import Advertisement, decode, drivers_matching
from custom_components.ble_battery_solar.protocol.devices.ag import AgDriver
from custom_components.ble_battery_solar.protocol.devices.ej import EjDriver

from .vectors import ADVERTISEMENTS, VECTORS

BY_ID = {v["id"]: v for v in VECTORS}


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "ag"],
                         ids=lambda a: a["id"])
def test_every_ag_advertisement_is_ag_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["ag"]


@pytest.mark.parametrize("name", ["AGM-12V", "AG100X1", "AGL100", "libattU-1"])
def test_other_names_with_the_company_id_are_not_claimed(name: str) -> None:
    adv = Advertisement(local_name=name, manufacturer_data={0x5348: b"\x84\x28"})
    assert not AgDriver.matches(adv)


def test_no_variant_from_the_advertisement() -> None:
    adv = Advertisement(local_name="AG100L1", manufacturer_data={0x5348: b"\x84"})
    assert AgDriver.matches(adv)
    assert AgDriver.variant_for(adv) is None


def test_same_requests_and_values_as_ej_on_its_own_service() -> None:
    assert AgDriver().requests() == EjDriver().requests()
    assert AgDriver.write_uuid != EjDriver.write_uuid
    frames = [bytes.fromhex(f) for f in BY_ID["ag_1"]["frames"]]
    ag = dict(decode("ag", frames))
    assert ag == dict(decode("ej", frames))
    assert ag["battery_level"] == 60


def test_errors_name_the_ag_family() -> None:
    frames = [bytes.fromhex(f) for f in BY_ID["ag_2"]["frames"]]
    with pytest.raises(ValueError, match=r"^ag: "):
        decode("ag", frames)
