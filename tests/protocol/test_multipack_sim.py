"""Multi-pack variants against the simulated devices: every pack answers and is decoded."""

from __future__ import annotations

import pytest

from blesim import make_device
from custom_components.ble_battery_solar.protocol import decode, get_driver

ADDRESS = "AA:BB:CC:00:00:02"


def _poll(family: str, variant: str) -> list[bytes]:
    device = make_device(family, ADDRESS, variant=variant)
    driver = get_driver(family)(variant)
    device.on_connect()
    frames: list[bytes] = []
    for request in driver.requests():
        answer = device.respond(driver.write_uuid, request)
        assert any(driver.answers(request, f) for f in answer)
        frames += answer
    return frames


def test_renogy_hub_with_three_batteries() -> None:
    sample = decode("renogy_battery", _poll("renogy_battery", "hub:3"), variant="hub:3")
    packs = sample["packs"]
    assert [p["pack_address"] for p in packs] == [0x30, 0x31, 0x32]
    charges = [p["cycle_charge"] for p in packs]
    assert charges[0] - charges[1] == pytest.approx(1.0, abs=0.002)
    assert sample["cycle_charge"] == pytest.approx(sum(charges), abs=0.003)
    assert sample["current"] == pytest.approx(sum(p["current"] for p in packs), abs=0.003)
    assert all(len(p["cell_voltages"]) == len(packs[0]["cell_voltages"]) for p in packs)


def test_seplos_parallel_packs_from_the_simulator() -> None:
    sample = decode("seplos", _poll("seplos", "v3:2"), variant="v3:2")
    assert [p["pack_address"] for p in sample["packs"]] == [1, 2]
    assert all(p["voltage"] == sample["voltage"] for p in sample["packs"])
    assert sample["battery_level"] == sample["packs"][0]["battery_level"]
