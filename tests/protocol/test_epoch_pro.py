"""Epoch Pro driver: matchers, requests per pack, framing with resync, multi-pack values, errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus, uuid16
from custom_components.ble_battery_solar.protocol.devices.epoch_pro import EpochProDriver
from custom_components.ble_battery_solar.protocol.devices.topband import TopbandDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "epoch_pro"}
SYSTEM, PACK1, PACK2 = frames_of(VECTOR["epoch_pro_1"])


def edited(frame: bytes, changes: dict[int, bytes]) -> bytes:
    """A copy with data bytes (offsets after the byte count) replaced and the CRC redone."""
    out = bytearray(frame[:-2])
    for offset, value in changes.items():
        out[5 + offset : 5 + offset + len(value)] = value
    return bytes(out) + crc16_modbus(out).to_bytes(2, "little")


# --- matchers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "epoch_pro"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_epoch_pro_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["epoch_pro"]
    adv = Advertisement.from_any(record)
    assert not TopbandDriver.matches(adv)  # the same BLE module, but Epoch's service data
    assert TopbandDriver.matches(Advertisement.from_any({**record, "service_data": {}}))


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "epoch_pro":
            assert not EpochProDriver.matches(Advertisement.from_any(record)), record["id"]


def test_service_data_is_what_tells_epoch() -> None:
    assert not EpochProDriver.matches(Advertisement(local_name="EpochGC2-1",
                                                    service_uuids=(uuid16(0xFFE0),)))


# --- requests and framing ----------------------------------------------------------------


def test_requests_follow_the_reported_packs() -> None:
    driver = EpochProDriver()
    assert [r.hex() for r in driver.requests()] == VECTOR["epoch_pro_1"]["requests"][:2]
    driver.decode(frames_of(VECTOR["epoch_pro_1"]))
    assert [r.hex() for r in driver.requests()] == VECTOR["epoch_pro_1"]["requests"]


def test_answers_and_response_complete() -> None:
    driver = EpochProDriver()
    system_req, pack_req = driver.requests()
    chunks = chunked([PACK1], 32)
    assert not driver.response_complete(pack_req, chunks[:-1])
    assert driver.response_complete(pack_req, chunks)
    assert not driver.response_complete(system_req, chunks)
    assert not driver.answers(pack_req, PACK2)
    assert driver.answers(None, PACK2)


def test_resync_after_stale_bytes() -> None:
    stale = b"\x00\xfa\xf3\x00" + PACK1[:3]
    frames, rest = EpochProDriver().frames_in(stale + SYSTEM + PACK1)
    assert (frames, rest) == ([SYSTEM, PACK1], b"")


@pytest.mark.parametrize("cut", [1, 3, 6, 100])
def test_incomplete_frame_is_the_tail(cut: int) -> None:
    assert EpochProDriver().frames_in(SYSTEM + PACK1[:cut]) == ([SYSTEM], PACK1[:cut])


# --- errors ------------------------------------------------------------------------------


def test_bad_crc_and_unexpected_block() -> None:
    with pytest.raises(FrameError, match="epoch_pro: bad CRC in the response of device 2"):
        decode("epoch_pro", [SYSTEM, PACK1, PACK2[:-1] + b"\x00"])
    short = b"\xfa\xf3\x16\x01\x02\x00\x01"
    with pytest.raises(FrameError, match="epoch_pro: unexpected 2-byte response of device 1"):
        decode("epoch_pro", [SYSTEM, short + crc16_modbus(short).to_bytes(2, "little")])


def test_system_block_is_required() -> None:
    with pytest.raises(FrameError, match="epoch_pro: response to the system request is missing"):
        decode("epoch_pro", [PACK1])


@pytest.mark.parametrize(
    ("frame", "changes", "message"),
    [
        ("system", {8: b"\x00\x65"}, "battery_level 101 % is above 100"),
        ("system", {10: b"\x00\x65"}, "battery_health 101 % is above 100"),
        ("system", {42: b"\x00\x00"}, "0 packs reported"),
        ("system", {42: b"\x00\x11"}, "17 packs reported"),
        ("pack", {50: b"\x00"}, "0 cells reported, 1 to 16 fit"),
        ("pack", {50: b"\x11"}, "17 cells reported"),
        ("pack", {51: b"\x1f"}, "31 temperature probes do not fit"),
        ("pack", {66: b"\x03\xf2"}, "pack state of charge 101.0 % is above 100"),
    ],
)
def test_impossible_values_are_rejected(frame: str, changes: dict[int, bytes], message: str) -> None:
    frames = [edited(SYSTEM, changes), PACK1] if frame == "system" else [SYSTEM, edited(PACK1, changes)]
    with pytest.raises(FrameError, match=f"epoch_pro: {message}"):
        decode("epoch_pro", frames)


# --- values ------------------------------------------------------------------------------


def test_system_block_alone_gives_the_system_current() -> None:
    sample = decode("epoch_pro", [edited(SYSTEM, {16: b"\xff\xfb"})])
    assert sample["current"] == -5.0
    assert "cell_voltages" not in sample


def test_pack_values_are_combined() -> None:
    sample = decode("epoch_pro", [SYSTEM, edited(PACK1, {48: b"\xfe\x0c", 16: b"\x00\x0c"}),
                                  edited(PACK2, {48: b"\xff\x38"})])
    assert sample["current"] == -7.0  # -5.00 A + -2.00 A
    assert sample["cycles"] == 12
    assert sample["temperatures"] == [27.0] * 8


@given(st.lists(st.integers(2500, 3650), min_size=1, max_size=16))
def test_cells_of_a_pack_decode_exactly(mv: list[int]) -> None:
    cells = b"".join(v.to_bytes(2, "big") for v in mv)
    pack_voltage = round(sum(mv) / 10).to_bytes(2, "big")  # the pack's own voltage, 10 mV
    sample = decode("epoch_pro", [SYSTEM, edited(PACK1, {46: pack_voltage, 50: bytes((len(mv),)),
                                                         72: cells})])
    assert sample["cell_voltages"] == [v / 1000 for v in mv]
    assert sample["delta_voltage"] == round((max(mv) - min(mv)) / 1000, 3)
    assert sample["packs"][0]["cell_voltages"] == sample["cell_voltages"]
