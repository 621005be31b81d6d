"""Super-B driver: both generations, variant detection, framing without checksums, error branches."""

from __future__ import annotations

import struct
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
from custom_components.ble_battery_solar.protocol.devices.superb import SuperbDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
V1 = bytes.fromhex(BY_ID["superb_1"]["frames"][0])
STATUS, MEASUREMENT = (bytes.fromhex(f) for f in BY_ID["superb_5"]["frames"])
PUSH_UUID = "e0fef452-9d2b-4005-a1e3-69fe1102b436"


def v1(current: float = -0.4, voltage: float = 14.159, flags: int = 0x75, soc: int = 94,
       soh: int = 100) -> bytes:
    return bytes((0, flags, soc, soh)) + (420).to_bytes(4, "big") + struct.pack(">ff", current, voltage) + bytes(4)


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "superb"],
                         ids=lambda a: a["id"])
def test_every_superb_advertisement_is_superb_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["superb"]


def test_variant_from_the_advertisement() -> None:
    v2 = Advertisement(local_name="Epsilon 150 - 1", manufacturer_data={0x50BE: b"Epsilon V2"})
    assert SuperbDriver.variant_for(v2) == "v2"
    assert SuperbDriver.variant_for(Advertisement(local_name="Epsilon-201007664")) == "v1"
    renamed = Advertisement(local_name="My battery", manufacturer_data={0x50BE: b"Epsilon V2"})
    assert SuperbDriver.matches(renamed)
    assert not SuperbDriver.matches(Advertisement(local_name="Epsilon", manufacturer_data={0x50BE: b"Other"}))


def test_each_variant_talks_through_its_characteristics() -> None:
    first, second = SuperbDriver("v1"), SuperbDriver("v2")
    assert (first.requests(), first.write_uuid, first.extra_notify_uuids) == ([], None, ())
    assert first.notify_uuid == "6edadbe4-4f53-4a5a-96ed-02f93db93790"
    assert second.requests() == [b"\x21\x54\x00"]
    assert second.notify_uuid == second.write_uuid == "cf9ccdfa-eee9-43ce-87a5-82b54af5324e"
    assert second.extra_notify_uuids == (PUSH_UUID,)
    assert SuperbDriver.extra_notify_uuids == ()


@pytest.mark.parametrize("variant", [None, "v1"])
def test_v1_stream_chunked_and_joined_mid_frame(variant: str | None) -> None:
    whole = decode("superb", [V1], variant=variant)
    assert decode("superb", chunked([V1], 8), variant=variant) == whole
    assert decode("superb", [V1[-6:], V1], variant=variant) == whole
    assert SuperbDriver(variant).decode([V1, V1[:7]], live=True) == whole


def test_v1_stream_joined_anywhere_resynchronises() -> None:
    whole = decode("superb", [V1], variant="v1")
    for start in range(1, 20):
        assert decode("superb", [V1[start:], V1], variant="v1") == whole


@pytest.mark.parametrize("variant", [None, "v2"])
def test_v2_frames_chunked_and_after_garbage(variant: str | None) -> None:
    whole = decode("superb", [STATUS, MEASUREMENT], variant=variant)
    assert decode("superb", chunked([STATUS, MEASUREMENT], 20), variant=variant) == whole
    assert decode("superb", [b"\x77\x99", STATUS, MEASUREMENT], variant=variant) == whole


def test_v2_response_needs_both_frames() -> None:
    driver = SuperbDriver("v2")
    request = driver.requests()[0]
    assert not driver.response_complete(request, [STATUS])
    assert not driver.response_complete(request, [MEASUREMENT])
    assert driver.response_complete(request, [MEASUREMENT, STATUS])
    assert SuperbDriver("v1").response_complete(None, [V1])
    assert not SuperbDriver("v1").response_complete(None, [V1[:19]])


def test_v2_measurement_alone_has_no_level() -> None:
    sample = decode("superb", [MEASUREMENT], variant="v2")
    assert (sample["voltage"], sample["current"]) == (13.207, -2.465)
    assert "battery_level" not in sample


def test_v2_status_alone_lacks_the_measurement() -> None:
    with pytest.raises(FrameError, match="superb: response lacks voltage, current"):
        decode("superb", [STATUS], variant="v2")


def test_variant_restricts_the_frames() -> None:
    with pytest.raises(FrameError, match="superb"):
        decode("superb", [V1], variant="v2")
    with pytest.raises(FrameError, match="superb"):
        decode("superb", [MEASUREMENT], variant="v1")


def test_balancer_and_warning_flags() -> None:
    sample = decode("superb", [v1(flags=0x80)])
    assert (sample["balancer"], sample["problem_code"]) == (True, 1)
    charging = decode("superb", [v1(current=3.0)])
    assert "runtime" not in charging


def test_mixed_generations_are_rejected() -> None:
    with pytest.raises(FrameError, match="frames of both generations"):
        decode("superb", [V1, STATUS, MEASUREMENT])


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (v1(voltage=float("nan")), "not a finite number"),
        (v1(current=float("inf")), "not a finite number"),
        (v1(voltage=250.0), "implausible voltage 250.000 V"),
        (v1(current=-9000.0), "implausible voltage"),
        (v1(soc=101), "SOC 101 % or SOH 100 % is above 100"),
        (v1(soh=200), "SOH 200 %"),
    ],
)
def test_implausible_v1_frames_are_rejected(frame: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("superb", [frame], variant="v1")


@pytest.mark.parametrize(("offset", "value"), [(1, 101), (19, 150)])
def test_v2_percentages_above_100_are_rejected(offset: int, value: int) -> None:
    status = bytearray(STATUS)
    status[offset] = value
    with pytest.raises(FrameError, match="superb: "):
        decode("superb", [bytes(status), MEASUREMENT], variant="v2")
    with pytest.raises(FrameError, match="% is above 100"):
        decode("superb", [bytes(status)], variant="v2")


def test_v2_implausible_measurement_is_rejected() -> None:
    measurement = bytearray(MEASUREMENT)
    measurement[10:12] = b"\x00\x05"
    assert SuperbDriver("v2").frame_defect(bytes(measurement)) == "implausible voltage 0.005 V"
    with pytest.raises(FrameError, match="superb: "):
        decode("superb", [STATUS, bytes(measurement)], variant="v2")


def test_v2_runtime_absent_while_charging() -> None:
    frames = [bytes.fromhex(f) for f in BY_ID["superb_6"]["frames"]]
    sample = decode("superb", frames, variant="v2")
    assert sample["current"] == 9.234
    assert "runtime" not in sample


def test_undecidable_lead_byte_waits_for_more() -> None:
    driver = SuperbDriver()
    assert driver.frame_length(V1[:10], 0) == 0
    assert driver.frame_length(STATUS, 0) == 24
    assert driver.frame_length(V1, 0) == 20


@given(st.integers(0, 0xFFFFFFFE), st.integers(0, 255), st.integers(-(1 << 31), (1 << 31) - 1))
def test_integers_are_exact(runtime: int, cycles: int, current: int) -> None:
    status = bytearray(STATUS)
    status[18] = cycles
    status[20:24] = runtime.to_bytes(4, "big")
    measurement = bytearray(MEASUREMENT)
    measurement[6:10] = current.to_bytes(4, "big", signed=True)
    sample = decode("superb", [bytes(status), bytes(measurement)], variant="v2")
    assert (sample["runtime"], sample["cycles"]) == (runtime, cycles)
    assert sample["current"] == round(current / 1000, 3)
