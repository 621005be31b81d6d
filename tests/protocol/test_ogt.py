"""Offgridtec driver: key derivation, scrambled requests, framing with resync, types A and B."""

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
from custom_components.ble_battery_solar.protocol.base import uuid16
from custom_components.ble_battery_solar.protocol.devices.ogt import OgtDriver, key_for, scramble

from .vectors import ADVERTISEMENTS, VECTORS, chunked, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "ogt"}
B_FRAMES = frames_of(VECTOR["ogt_1"])
A_FRAMES = frames_of(VECTOR["ogt_2"])
KEY = 0x10  # of SmartBat-A12345 and SmartBat-B12294


def reply(text: str, key: int = KEY) -> bytes:
    return scramble(text.encode(), key)


# --- matchers and key --------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "ogt"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_ogt_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["ogt"]


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "ogt":
            assert not OgtDriver.matches(Advertisement.from_any(record)), record["id"]


@pytest.mark.parametrize(
    ("name", "variant"),
    [("SmartBat-B15051", "B15051"), ("SmartBat-A12345", "A12345"), ("SmartBat-C12294", None),
     ("SmartBat-B12x", None), ("SmartBat-B", None)],
)
def test_names_and_variant(name: str, variant: str | None) -> None:
    adv = Advertisement(local_name=name, service_uuids=(uuid16(0xFFF0),))
    assert OgtDriver.matches(adv) is (variant is not None)
    assert OgtDriver.variant_for(adv) == variant


def test_key_derivation() -> None:
    assert key_for("A", "12345") == KEY
    assert key_for("B", "12294") == KEY
    assert key_for("B", "15051") == 0x19


# --- requests and framing ----------------------------------------------------------------


def test_requests_are_the_sources() -> None:
    assert [r.hex() for r in OgtDriver("B12294").requests()] == VECTOR["ogt_1"]["requests"]
    assert [r.hex() for r in OgtDriver("A12345").requests()] == VECTOR["ogt_2"]["requests"]
    assert OgtDriver("A12345").requests()[0][:4] == b";BQQ"  # "+RAA" scrambled


def test_requests_need_the_serial() -> None:
    with pytest.raises(FrameError, match="ogt: battery type and serial unknown"):
        OgtDriver().requests()


def test_answers_by_register() -> None:
    driver = OgtDriver("B12294")
    requests = driver.requests()
    assert driver.response_complete(requests[0], chunked([B_FRAMES[0]], 5))
    assert not driver.response_complete(requests[1], [B_FRAMES[0]])
    assert driver.answers(requests[-1], B_FRAMES[-1])  # error reply
    assert driver.answers(None, B_FRAMES[0])
    assert driver.answers(requests[1], reply("+RD,zz\r\n"))  # garbled: decode rejects it


def test_resync_after_stale_bytes_and_cut_replies() -> None:
    cut = B_FRAMES[1][:7]
    stale = b"\x00\x01" + cut
    frames, rest = OgtDriver().frames_in(stale + B_FRAMES[0] + B_FRAMES[-1])
    assert (frames, rest) == ([B_FRAMES[0], B_FRAMES[-1]], b"")
    assert decode("ogt", [stale, *B_FRAMES])["voltage"] == 13.218


def test_incomplete_reply_is_the_tail() -> None:
    driver = OgtDriver()
    assert driver.frames_in(B_FRAMES[0][:5]) == ([], B_FRAMES[0][:5])
    assert driver.frames_in(B_FRAMES[0][:-1]) == ([], B_FRAMES[0][:-1])
    with pytest.raises(FrameError, match="ogt: truncated frame"):
        decode("ogt", [*B_FRAMES[:-1], B_FRAMES[-1][:-1]])


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["+RD,0E0\r\n", "+RD,0E0G00\r\n", "+RD,0E000000AA\r\n"])
def test_malformed_values_are_rejected(text: str) -> None:
    with pytest.raises(FrameError, match="ogt: malformed register value"):
        decode("ogt", [*B_FRAMES, reply(text)])


def test_register_of_the_other_type_is_rejected() -> None:
    with pytest.raises(FrameError, match="ogt: unexpected register 0x3F for a type A battery"):
        decode("ogt", [*A_FRAMES, B_FRAMES[7]], variant="A12345")
    with pytest.raises(FrameError, match="ogt: unexpected register 0x02 for a type B battery"):
        decode("ogt", [*B_FRAMES, A_FRAMES[0]], variant="B12294")


def test_state_of_charge_above_100_is_rejected() -> None:
    with pytest.raises(FrameError, match="ogt: state of charge 101 % is above 100"):
        decode("ogt", [*B_FRAMES, reply("+RD,0D6500\r\n")])


# --- values ------------------------------------------------------------------------------


def test_type_b_values_serial_and_runtime() -> None:
    sample = decode("ogt", B_FRAMES, variant="B12294")
    assert sample["serial_number"] == "12294"
    assert sample["temperatures"] == [21.75]
    assert "runtime" not in sample  # 0xFFFF: not discharging
    discharging = decode("ogt", [*B_FRAMES, reply("+RD,0A85FF0A\r\n"), reply("+RD,127800\r\n")])
    assert discharging["current"] == -1.23
    assert discharging["runtime"] == 120 * 60


def test_type_a_is_told_by_its_registers() -> None:
    sample = decode("ogt", A_FRAMES)
    assert sample["current"] == -1.23
    assert sample["runtime"] == 7200
    assert "cell_voltages" not in sample


def test_cells_end_at_the_first_missing_register() -> None:
    frames = [f for f in B_FRAMES if scramble(f, KEY)[4:6] != b"3D"]
    two_cell_pack = reply("+RD,09D319\r\n")  # 6.611 V, the two cells' sum
    assert decode("ogt", [*frames, two_cell_pack])["cell_voltages"] == [3.306, 3.305]


@given(st.integers(-0x8000, 0x7FFF), st.integers(0, 0xFF))
def test_signed_values_with_multiplier_decode_exactly(value: int, multiplier: int) -> None:
    digits = value.to_bytes(2, "little", signed=True).hex().upper() + f"{multiplier:02X}"
    sample = decode("ogt", [*B_FRAMES, reply(f"+RD,0A{digits}\r\n")])
    assert sample["current"] == pytest.approx(value * max(multiplier, 1) / 1000)


def test_sixteen_cells_and_a_missing_temperature() -> None:
    frames = frames_of(VECTOR["ogt_3"])
    assert len(decode("ogt", frames)["cell_voltages"]) == 16
    no_probe = [f for f in B_FRAMES if scramble(f, KEY)[4:6] != b"08"]
    assert "temperatures" not in decode("ogt", no_probe, variant="B12294")
