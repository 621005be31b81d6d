"""Every captured vector decodes to its expected values, or is rejected with FrameError."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import FAMILIES, FrameError, decode

from .vectors import MALFORMED, VALID, VECTORS, chunked, frames_of, mismatches

# Keys in vectors that the Sample deliberately does not carry (source-specific extras).
NOT_SAMPLE_KEYS = {"device_id", "battery_type", "charging_mode", "consumed_ah", "starter_voltage",
                   "input_voltage"}


# Where the frames alone cannot tell (see ../shared/vectors/README.md, caveat 3), the
# variant comes from the advertisement in real use (Driver.variant_for); and where the
# source's asserted value contradicts the documented layout, ours is checked instead.
VARIANT_FROM_ADVERTISEMENT = {
    # aiobmsble's Renogy "Pro" model: 0.1 A current at slave 0x30 (renogy_battery_4,
    # a legacy battery at the same slave, uses 0.01 A).
    "renogy_battery_5": "pro",
}
OVERRIDES = {
    # The u32 capacity register holds 211930 mAh; the source truncates it to 211 Ah and
    # derives its state of charge from that (208.962 / 211 = 99.0 % instead of 98.6 %).
    "renogy_battery_5": {"design_capacity": 211.93, "battery_level": 98.6},
    # Unfitted cell-temperature sensors read 0xC8 (-56 degC, below any rating): a "no
    # sensor" sentinel, left out instead of shown (the source lists it as a value).
    "eg4_1": {"temperatures": [17.0, 17.0, 0.0, 0.0, 0.0, 0.0]},
}


def _decode(vector: dict[str, Any], frames: list[bytes]) -> dict[str, Any]:
    return dict(decode(vector["family"], frames, variant=VARIANT_FROM_ADVERTISEMENT.get(vector["id"])))


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vectors]


def _expected(vector: dict[str, Any]) -> dict[str, Any]:
    expected = {k: v for k, v in vector["expected"].items() if k not in NOT_SAMPLE_KEYS}
    return expected | OVERRIDES.get(vector["id"], {})


def test_every_vector_family_has_a_driver() -> None:
    assert {v["family"] for v in VECTORS if v["transport"] == "notify"} <= set(FAMILIES)


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_valid_vector_decodes(vector: dict[str, Any]) -> None:
    sample = _decode(vector, frames_of(vector))
    assert mismatches(sample, _expected(vector)) == {}


@pytest.mark.parametrize("size", [20, 128])
@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_valid_vector_decodes_from_mtu_chunks(vector: dict[str, Any], size: int) -> None:
    whole = _decode(vector, frames_of(vector))
    assert _decode(vector, chunked(frames_of(vector), size)) == whole


@pytest.mark.parametrize("vector", MALFORMED, ids=_ids(MALFORMED))
def test_malformed_vector_is_rejected(vector: dict[str, Any]) -> None:
    with pytest.raises(FrameError, match=vector["family"]):
        decode(vector["family"], frames_of(vector))


@pytest.mark.parametrize("vector", VALID, ids=_ids(VALID))
def test_truncated_vector_is_rejected(vector: dict[str, Any]) -> None:
    frames = frames_of(vector)
    frames[-1] = frames[-1][:-1]
    with pytest.raises(FrameError, match=vector["family"]):
        decode(vector["family"], frames)


def test_unknown_family_is_a_frame_error() -> None:
    with pytest.raises(FrameError, match="unknown family"):
        decode("no_such_family", [b"\x00"])


def test_empty_input_is_a_frame_error() -> None:
    for family in FAMILIES:
        with pytest.raises(FrameError, match=family):
            decode(family, [])
