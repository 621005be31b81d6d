"""ANT driver: matchers, variant choice, both protocols' framing, decoding and errors."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus, sum16, uuid16
from custom_components.ble_battery_solar.protocol.devices.ant import (
    VARIANT_LEGACY,
    VARIANT_NEW,
    AntDriver,
    status_request,
)

from .vectors import ADVERTISEMENTS, VECTORS, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "ant"}
NEW = frames_of(VECTOR["ant_1"])[0]  # 22 cells, 4 sensors
NEW_8S = frames_of(VECTOR["ant_4"])[0]
LEGACY = frames_of(VECTOR["ant_2"])[0]
NEW_REQUEST = bytes.fromhex(VECTOR["ant_1"]["requests"][0])
LEGACY_REQUEST = bytes.fromhex(VECTOR["ant_2"]["requests"][0])
SHIFT = 2 * (22 + 4)  # field offset shift of the 22-cell, 4-sensor frame


def new_fixed(changes: dict[int, bytes], frame: bytes = NEW) -> bytes:
    """The 7E A1 status frame with byte ranges replaced and its CRC redone."""
    out = bytearray(frame)
    for offset, value in changes.items():
        out[offset : offset + len(value)] = value
    out[-4:-2] = crc16_modbus(out[1:-4]).to_bytes(2, "little")
    return bytes(out)


def legacy_fixed(changes: dict[int, bytes]) -> bytes:
    """The legacy status frame with byte ranges replaced and its sum redone."""
    out = bytearray(LEGACY)
    for offset, value in changes.items():
        out[offset : offset + len(value)] = value
    out[-2:] = sum16(out[4:-2]).to_bytes(2, "big")
    return bytes(out)


def adv(name: str, **kwargs: Any) -> Advertisement:
    return Advertisement.from_any(
        {"local_name": name, "service_uuids": [uuid16(0xFFE0)], **kwargs}
    )


# --- matchers and variant ----------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "ant"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_ant_only(record: dict[str, Any]) -> None:
    families = [d.family for d in drivers_matching(record) if d.discoverable]
    assert families == ["ant"]
    assert AntDriver.variant_for(Advertisement.from_any(record)) == VARIANT_NEW


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "ant":
            assert not AntDriver.matches(Advertisement.from_any(record)), record["id"]


@pytest.mark.parametrize(
    ("name", "variant"),
    [("ANT-BLE16ZMUB", VARIANT_LEGACY), ("ANT-BLE08ZMUB", VARIANT_LEGACY),
     ("ANT-BLE24AHUB-0001", VARIANT_NEW), ("ANT@BLE32C", VARIANT_NEW)],
)
def test_variant_from_name(name: str, variant: str) -> None:
    assert AntDriver.matches(adv(name))
    assert AntDriver.variant_for(adv(name)) == variant


def test_other_names_and_services_are_not_claimed() -> None:
    assert not AntDriver.matches(adv("ANTENNA"))
    assert not AntDriver.matches(adv("JK-B2A24S"))
    assert not AntDriver.matches(Advertisement(local_name="ANT-BLE16ZMUB"))  # no 0xFFE0
    assert AntDriver.variant_for(Advertisement()) == VARIANT_NEW


# --- requests and answers ----------------------------------------------------------------


def test_requests_by_variant() -> None:
    assert AntDriver().requests() == [NEW_REQUEST]
    assert AntDriver(VARIANT_NEW).requests() == [NEW_REQUEST]
    assert AntDriver(VARIANT_LEGACY).requests() == [LEGACY_REQUEST]
    assert AntDriver("Legacy AA55AAFF, 16S").requests() == [LEGACY_REQUEST]
    assert status_request() == NEW_REQUEST


def test_answers() -> None:
    driver = AntDriver()
    assert driver.answers(NEW_REQUEST, NEW)
    assert not driver.answers(status_request(fn=0x02, address=0x026C, length=0x20), NEW)
    assert not driver.answers(NEW_REQUEST, LEGACY)
    assert driver.answers(LEGACY_REQUEST, LEGACY)
    assert not driver.answers(LEGACY_REQUEST, NEW)
    assert driver.answers(None, NEW)


@pytest.mark.parametrize("frame", [NEW, LEGACY], ids=["7EA1", "legacy"])
def test_response_complete_after_the_last_chunk(frame: bytes) -> None:
    request = NEW_REQUEST if frame is NEW else LEGACY_REQUEST
    chunks = [frame[i : i + 20] for i in range(0, len(frame), 20)]
    driver = AntDriver()
    assert not driver.response_complete(request, chunks[:-1])
    assert driver.response_complete(request, chunks)


# --- framing -----------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 2, 5, 6, 100])
def test_incomplete_new_frame_is_the_tail(cut: int) -> None:
    assert AntDriver().frames_in(NEW[:cut]) == ([], NEW[:cut])


@pytest.mark.parametrize("cut", [1, 2, 3, 139])
def test_incomplete_legacy_frame_is_the_tail(cut: int) -> None:
    assert AntDriver().frames_in(LEGACY[:cut]) == ([], LEGACY[:cut])


def test_frames_of_both_protocols_split() -> None:
    assert AntDriver().frames_in(NEW + LEGACY + NEW_8S) == ([NEW, LEGACY, NEW_8S], b"")


def test_framing_errors() -> None:
    with pytest.raises(FrameError, match="ant: frame does not end with AA 55 after 168 bytes"):
        decode("ant", [NEW[:-1] + b"\x56"])
    with pytest.raises(FrameError, match=r"ant: (no complete frame|truncated frame)"):
        decode("ant", [b"\x7e\xa2" + NEW[2:]])
    assert decode("ant", [NEW, b"\x00"]) == decode("ant", [NEW])  # trailing junk skipped


# --- 7E A1 protocol ----------------------------------------------------------------------


def test_new_protocol_values() -> None:
    sample = decode("ant", [NEW])
    assert sample["power"] == 106.0  # reported by the BMS, not V * I
    assert sample["cycles"] == 190  # total charged Ah // capacity
    assert sample["temperatures"] == [29.0, 29.0, 29.0, 29.0, 30.0, 30.0]
    sample = decode("ant", [NEW_8S])
    assert sample["chrg_mosfet"] is True  # status byte 46 = 1 (on)
    assert sample["dischrg_mosfet"] is False  # status byte 47 = 2: a fault code
    assert sample["problem_code"] == 0x0200


def test_new_protocol_errors() -> None:
    broken = bytearray(NEW)
    broken[-4] ^= 0xFF
    with pytest.raises(FrameError, match="ant: bad CRC"):
        decode("ant", [bytes(broken)])
    with pytest.raises(FrameError, match="ant: unexpected response function 0x12"):
        decode("ant", [new_fixed({2: b"\x12"})])
    with pytest.raises(FrameError, match="ant: impossible counts: 33 cells, 4 temperature"):
        decode("ant", [new_fixed({9: b"\x21"})])
    with pytest.raises(FrameError, match="ant: impossible counts: 22 cells, 7 temperature"):
        decode("ant", [new_fixed({8: b"\x07"})])
    with pytest.raises(FrameError, match=r"ant: field .* lies beyond"):
        decode("ant", [new_fixed({9: b"\x20"}, NEW_8S)])  # 32 cells do not fit this frame


@pytest.mark.parametrize(("offset", "message"), [(42, "battery_level 101"),
                                                 (44, "battery_health 101")])
def test_new_protocol_percentages_above_100(offset: int, message: str) -> None:
    frame = new_fixed({offset + SHIFT: (101).to_bytes(2, "little")})
    with pytest.raises(FrameError, match=f"ant: {message} % is outside 0-100 %"):
        decode("ant", [frame])


def test_new_protocol_without_capacity_has_no_cycles() -> None:
    sample = decode("ant", [new_fixed({50 + SHIFT: bytes(4)})])
    assert "design_capacity" not in sample
    assert "cycles" not in sample


@pytest.mark.parametrize(
    ("charge", "discharge", "code"),
    [(1, 1, 0), (4, 1, 0), (0x0B, 0x0F, 0), (2, 1, 0x0002), (1, 3, 0x0300), (5, 6, 0x0605)],
)
def test_new_protocol_problem_code(charge: int, discharge: int, code: int) -> None:
    frame = new_fixed({46 + SHIFT: bytes((charge, discharge, 0x04))})
    sample = decode("ant", [frame])
    assert sample["problem_code"] == code
    assert sample["chrg_mosfet"] is (charge == 1)
    assert sample["dischrg_mosfet"] is (discharge == 1)
    assert sample["balancer"] is True


# --- legacy protocol ---------------------------------------------------------------------


def test_legacy_values() -> None:
    sample = decode("ant", [LEGACY])
    assert sample["current"] == 0.0
    assert str(sample["current"]) == "0.0"  # no "-0.0" from the sign flip
    assert sample["design_capacity"] == 140.0  # estimated: the board reports 0
    assert sample["cycles"] == 1344
    assert sample["problem_code"] == 0x0200
    assert sample["temperatures"] == [26.0, 29.0, -5.0, 21.0]


def test_legacy_current_is_positive_when_charging() -> None:
    sample = decode("ant", [legacy_fixed({70: (-123).to_bytes(4, "big", signed=True)})])
    assert sample["current"] == pytest.approx(12.3)


def test_legacy_reported_capacity_is_used() -> None:
    sample = decode("ant", [legacy_fixed({75: (200_000_000).to_bytes(4, "big")})])
    assert sample["design_capacity"] == 200.0
    assert sample["cycles"] == 941


def test_legacy_without_capacity_and_charge_level() -> None:
    sample = decode("ant", [legacy_fixed({74: b"\x00"})])
    assert "design_capacity" not in sample
    assert "cycles" not in sample


def test_legacy_errors() -> None:
    broken = bytearray(LEGACY)
    broken[-1] ^= 0xFF
    with pytest.raises(FrameError, match="ant: bad checksum"):
        decode("ant", [bytes(broken)])
    with pytest.raises(FrameError, match="ant: unknown legacy frame type 0xFE"):
        decode("ant", [legacy_fixed({3: b"\xfe"})])
    with pytest.raises(FrameError, match="ant: impossible cell count 33"):
        decode("ant", [legacy_fixed({123: b"\x21"})])
    with pytest.raises(FrameError, match="ant: battery_level 101 % is outside 0-100 %"):
        decode("ant", [legacy_fixed({74: b"\x65"})])
