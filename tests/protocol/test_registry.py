"""The registry, advertisement adaptation, matcher semantics and derived values."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from custom_components.ble_battery_solar.protocol import (
    FAMILIES,
    Advertisement,
    FrameError,
    decode,
    driver_for,
    drivers_matching,
    get_driver,
)
from custom_components.ble_battery_solar.protocol.base import (
    Field,
    finish_sample,
    matcher_matches,
    read_fields,
)

BBS = "0000180f-0000-1000-8000-00805f9b34fb"
JBD = "0000ff00-0000-1000-8000-00805f9b34fb"


def test_every_documented_family_is_registered() -> None:
    assert set(FAMILIES) >= {"jbd", "jk", "daly", "renogy_battery", "renogy_controller", "seplos",
                             "topband", "litime", "tianpower", "eg4", "ant", "ble_battery_service"}


def test_get_driver_names_known_families() -> None:
    assert get_driver("jbd").family == "jbd"
    with pytest.raises(KeyError, match="known: "):
        get_driver("nope")


def test_advertisement_from_ha_like_object() -> None:
    info = SimpleNamespace(
        name="AA-BB-CC-DD-EE-FF", address="AA:BB:CC:DD:EE:FF", service_uuids=[BBS.upper()],
        manufacturer_data={0x0102: b"\x01"}, service_data={BBS: b"\x02"}, connectable=True,
    )
    adv = Advertisement.from_any(info)
    assert adv.local_name is None  # HA's address-as-name placeholder is not a name
    assert adv.service_uuids == (BBS,)
    assert adv.manufacturer_data == {0x0102: b"\x01"}
    assert adv.service_data == {BBS: b"\x02"}
    assert Advertisement.from_any(adv) is adv


def test_advertisement_from_fixture_mapping() -> None:
    adv = Advertisement.from_any({"local_name": "x", "manufacturer_data": {"258": "04"},
                                  "service_data": {BBS: "01"}})
    assert adv.manufacturer_data == {258: b"\x04"}
    assert adv.service_data == {BBS: b"\x01"}


def test_generic_battery_service_yields_to_a_specific_family() -> None:
    both = {"local_name": "JBD", "service_uuids": [BBS, JBD]}
    assert [d.family for d in drivers_matching(both)] == ["jbd"]
    assert driver_for({"local_name": "Mouse", "service_uuids": [BBS]}).family == (
        "ble_battery_service"
    )
    assert driver_for({"local_name": "Mouse", "service_uuids": []}) is None


def test_matcher_semantics() -> None:
    adv = Advertisement(local_name="DL-40160901534C", manufacturer_data={258: b"\x04\x05"},
                        service_data={BBS: b""})
    assert matcher_matches({"local_name": "DL-*"}, adv)
    assert not matcher_matches({"local_name": "dl-*"}, adv)  # case-sensitive, like HA
    assert matcher_matches({"manufacturer_id": 258, "manufacturer_data_start": [4]}, adv)
    assert not matcher_matches({"manufacturer_id": 258, "manufacturer_data_start": [5]}, adv)
    assert not matcher_matches({"manufacturer_id": 259}, adv)
    assert matcher_matches({"service_data_uuid": BBS}, adv)
    assert not matcher_matches({"service_data_uuid": JBD}, adv)
    assert not matcher_matches({"local_name": "DL-*"}, Advertisement())


def test_field_beyond_payload_names_family_and_field() -> None:
    with pytest.raises(FrameError, match="fam: field soc at byte 4"):
        read_fields("fam", b"\x00\x01", [Field("soc", 4, 1)])


def test_derived_values() -> None:
    sample = finish_sample("x", {"voltage": 6.5, "current": -2.0, "cycle_charge": 50.0,
                                 "design_capacity": 100.0, "cell_voltages": [3.2, 3.3],
                                 "pv_voltage": 20.0, "pv_current": 1.5})
    assert sample["power"] == -13.0
    assert sample["battery_level"] == 50.0
    assert sample["cycle_capacity"] == 325.0
    assert sample["runtime"] == 90000
    assert sample["delta_voltage"] == 0.1
    assert sample["cell_count"] == 2
    assert sample["pv_power"] == 30.0


def test_non_finite_values_are_rejected() -> None:
    with pytest.raises(FrameError, match="x: voltage is not a finite number"):
        finish_sample("x", {"voltage": float("nan")})


def test_decode_wraps_unexpected_decoder_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    driver = get_driver("ble_battery_service")

    def broken(self: object, frames: list[bytes]) -> dict:
        raise IndexError("boom")

    monkeypatch.setattr(driver, "decode_frames", broken)
    with pytest.raises(FrameError, match=r"ble_battery_service: malformed frame \(IndexError"):
        decode("ble_battery_service", [b"\x10"])


def test_which_families_push_data_between_polls() -> None:
    """Live updates listen only to devices that stream; other devices' extra bytes are junk."""
    from custom_components.ble_battery_solar.protocol import get_driver

    assert get_driver("topband")().streams()  # no requests: it streams
    assert get_driver("jk")().streams()  # answers requests, then keeps streaming
    assert not get_driver("jbd")().streams()
    assert not get_driver("daly")().streams()


def test_asking_whether_a_family_streams_leaves_the_driver_as_it_was() -> None:
    from custom_components.ble_battery_solar.protocol import get_driver

    driver = get_driver("lipower")()  # cycles its device id between unanswered requests()
    assert not driver.streams()
    assert driver.requests() == get_driver("lipower")().requests()
