"""Frame assembly resynchronises, corrupt frames never yield values, impossible values fail,
sentinels are dropped, and multi-pack devices report every pack."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    FAMILIES,
    Advertisement,
    FrameError,
    decode,
    get_driver,
)
from custom_components.ble_battery_solar.protocol.base import Driver, crc16_modbus, finish_sample
from custom_components.ble_battery_solar.protocol.checks import summarise_packs
from custom_components.ble_battery_solar.protocol.models import Sample

from .vectors import VALID, frames_of

FRAMED = [f for f in FAMILIES if f != "ble_battery_service"]  # one byte per read: nothing to sync
FIRST_VALID = {f: next(v for v in VALID if v["family"] == f) for f in FRAMED}
STALE = bytes.fromhex("a55a1337c33c99")


@pytest.mark.parametrize("family", FRAMED)
def test_garbage_before_a_frame_is_skipped(family: str) -> None:
    frames = frames_of(FIRST_VALID[family])
    clean = decode(family, frames)
    assert decode(family, [STALE, *frames]) == clean
    # the tail of an earlier response (the LiTime field bug) before the frame
    assert decode(family, [frames[-1][-6:], *frames]) == clean


@pytest.mark.parametrize("family", FRAMED)
def test_garbage_alone_is_a_frame_error(family: str) -> None:
    with pytest.raises(FrameError, match=family):
        decode(family, [STALE * 3])


# (frame, byte): dpwrcore's 20-byte pages are <count> <page> <payload> <padding>, and its
# first page acknowledges the request
MUTATED_BYTE = {"dpwrcore": (1, 8)}


@pytest.mark.parametrize("family", [f for f in FRAMED if get_driver(f).checksummed])
def test_a_frame_failing_its_checksum_never_yields_values(family: str) -> None:
    frames = [bytearray(f) for f in frames_of(FIRST_VALID[family])]
    # the longest frame is a protocol frame, not the module's "AT\r\n" noise
    # inside the checksum of every framing, or the data before it; paged protocols pad
    # their pages after the checksum, so there a payload byte of a response page is flipped
    index, offset = MUTATED_BYTE.get(family, (frames.index(max(frames, key=len)), -3))
    frames[index][offset] ^= 0x01
    with pytest.raises(FrameError, match=family):
        decode(family, [bytes(f) for f in frames])


def test_jbd_zero_padding_after_responses_decodes() -> None:
    frames = frames_of(FIRST_VALID["jbd"])
    padded = [f + bytes(20 - len(f) % 20) for f in frames]
    assert decode("jbd", padded) == decode("jbd", frames)


def _jbd_basic(mutate: dict[int, bytes]) -> list[bytes]:
    frames = [bytearray(f) for f in frames_of(FIRST_VALID["jbd"])]
    basic = frames[0]
    for offset, value in mutate.items():
        basic[4 + offset : 4 + offset + len(value)] = value
    basic[-3:-1] = ((0x10000 - sum(basic[2:-3])) & 0xFFFF).to_bytes(2, "big")
    return [bytes(f) for f in frames]


def test_a_raw_zero_probe_is_dropped_not_shown() -> None:
    # 0 in 0.1 K would be -273.1 degC: the probe is absent
    sample = decode("jbd", _jbd_basic({23: b"\x00\x00"}))
    assert sample["temperatures"] == [22.3, 21.7]


def test_a_cell_at_65_535_v_is_a_frame_error() -> None:
    frames = [bytearray(f) for f in frames_of(FIRST_VALID["jbd"])]
    cells = frames[1]
    cells[4:6] = b"\xff\xff"
    cells[-3:-1] = ((0x10000 - sum(cells[2:-3])) & 0xFFFF).to_bytes(2, "big")
    with pytest.raises(FrameError, match=r"jbd: cell_voltages\[0\] 65.535 V is outside 0-5 V"):
        decode("jbd", [bytes(f) for f in frames])


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ({"temperatures": [20.0, 151.0]}, r"temperatures\[1\] 151.0 °C is outside"),
        ({"controller_temperature": -60}, "controller_temperature -60 °C is outside"),
        ({"battery_level": 101}, "battery_level 101 % is outside 0-100 %"),
        ({"battery_health": -1}, "battery_health -1 % is outside"),
        ({"voltage": 26.0, "cell_voltages": [3.3] * 4}, "voltage 26.0 V is far from the 13.200 V"),
        ({"packs": [{"cell_voltages": [5.5]}]}, r"pack 1: cell_voltages\[0\] 5.5 V"),
    ],
)
def test_impossible_values_name_the_field(sample: dict[str, Any], message: str) -> None:
    with pytest.raises(FrameError, match=f"x: {message}"):
        finish_sample("x", sample)  # type: ignore[arg-type]


def test_pack_voltage_close_to_the_cell_sum_passes() -> None:
    assert finish_sample("x", {"voltage": 13.4, "cell_voltages": [3.3] * 4})["cell_count"] == 4


def test_parallel_packs_are_not_checked_against_all_cells() -> None:
    sample: Sample = {"voltage": 13.2, "cell_voltages": [3.3] * 8,
                      "packs": [{"voltage": 13.2, "cell_voltages": [3.3] * 4}] * 2}
    assert finish_sample("x", sample)["packs"][0]["delta_voltage"] == 0.0


HUB_30 = bytes.fromhex("30030c014601f80000c2840000c34d96d6")
HUB_31 = bytes.fromhex("31030c013201f800009f8a0000c34b0ca9")


def test_renogy_battery_at_hub_id_0x31_decodes() -> None:
    sample = decode("renogy_battery", [HUB_31])
    assert sample["cycle_charge"] == 40.842
    assert "packs" not in sample


def test_renogy_hub_with_two_batteries_reports_each() -> None:
    sample = decode("renogy_battery", [HUB_30, HUB_31], variant="hub:2")
    packs = sample["packs"]
    assert [p["pack_address"] for p in packs] == [0x30, 0x31]
    assert [p["cycle_charge"] for p in packs] == [49.796, 40.842]
    assert sample["cycle_charge"] == 90.638
    assert sample["design_capacity"] == 99.992
    assert sample["battery_level"] == 90.6
    assert sample["voltage"] == 50.4


def test_renogy_hub_variant_polls_consecutive_ids() -> None:
    driver = Driver.__subclasses__  # keep the import used for typing clarity
    del driver

    hub = get_driver("renogy_battery")("hub:3")
    assert sorted({r[0] for r in hub.requests()}) == [0x30, 0x31, 0x32]
    assert {r[0] for r in get_driver("renogy_battery")("hub:0").requests()} == {0x30}


def test_summary_of_packs_without_charge_averages_levels() -> None:
    summary = summarise_packs([
        {"battery_level": 50.0, "problem_code": 1, "chrg_mosfet": True, "heater": False,
         "cycles": 3, "cell_count": 4},
        {"battery_level": 70.0, "problem_code": 4, "chrg_mosfet": False, "heater": True,
         "cycles": 5, "cell_count": 8},
    ])
    assert summary == {"battery_level": 60.0, "problem_code": 5, "chrg_mosfet": False,
                       "heater": True, "cycles": 5, "cell_count": 8}


def test_daly_p81_requests_go_to_0x81_and_answers_come_from_0x51() -> None:
    p81 = next(v for v in VALID if v["id"] == "daly_p81_1")
    driver = get_driver("daly")("p81")
    requests = driver.requests()
    assert [r.hex() for r in requests] == p81["requests"]
    cells, status = frames_of(p81)
    assert driver.answers(requests[0], cells)
    assert driver.answers(requests[1], status)
    assert not driver.answers(requests[0], status)
    assert driver.response_complete(requests[1], [status])
    without_status = decode("daly", [cells])
    assert "cycles" not in without_status
    assert without_status["temperatures"] == [22.0] * 4


def test_daly_p81_impossible_counts_are_rejected() -> None:
    cells = bytearray(frames_of(next(v for v in VALID if v["id"] == "daly_p81_1"))[0])
    for offset, value, message in ((120, 49, "49 cells"), (122, 9, "9 temperature sensors")):
        broken = bytearray(cells)
        broken[3 + offset : 5 + offset] = value.to_bytes(2, "big")
        broken[-2:] = crc16_modbus(broken[:-2]).to_bytes(2, "little")
        with pytest.raises(FrameError, match=f"daly: {message}"):
            decode("daly", [bytes(broken)])


def test_own_framing_driver_is_resynchronised_by_retry() -> None:
    # Topband implements frames_in itself: a refused start is retried from later bytes
    frames = frames_of(FIRST_VALID["topband"])
    assert decode("topband", [b"^G^G", *frames]) == decode("topband", frames)
    with pytest.raises(FrameError, match="topband"):
        decode("topband", [b"^G^G^G"])


def test_default_framing_finds_no_frame() -> None:
    class Bare(Driver):
        family = "bare"
        service_uuid = "x"

        def decode_frames(self, frames: list[bytes]) -> Sample:
            return {}

    with pytest.raises(FrameError, match="bare: no complete frame"):
        Bare().decode([b"\x01\x02"])
    assert Bare().frame_defect(b"\x01") is None
    assert Bare.variant_for(Advertisement()) is None


JK04 = next(v for v in VALID if v["id"] == "jk_jk04_1")


def test_jk04_frames_decode_without_a_current() -> None:
    sample = decode("jk", frames_of(JK04))
    assert sample["cell_count"] == 16
    assert sample["voltage"] == round(sum(sample["cell_voltages"]), 3)
    assert "current" not in sample


def test_jk04_variant_without_cells_is_a_frame_error() -> None:
    frame = bytearray(frames_of(JK04)[0])
    frame[6:102] = bytes(96)
    frame[-1] = sum(frame[:-1]) & 0xFF
    with pytest.raises(FrameError, match="jk: JK04 cell-info frame reports no cells"):
        decode("jk", [bytes(frame)], variant="JK04")


def test_jk_heater_state_is_reported() -> None:
    jk_1 = next(v for v in VALID if v["id"] == "jk_1")  # 24S layout: heating byte 183
    frames = [bytearray(f) for f in frames_of(jk_1)]
    cell_info = next(f for f in frames if len(f) == 300 and f[4] == 0x02)
    assert decode("jk", [bytes(f) for f in frames])["heater"] is False
    cell_info[183] = 1
    cell_info[-1] = sum(cell_info[:-1]) & 0xFF
    assert decode("jk", [bytes(f) for f in frames])["heater"] is True


def test_seplos_v2_partial_header_with_a_foreign_version_is_no_frame() -> None:
    driver = get_driver("seplos")("v2")
    assert driver.frames_in(b"\x7e\x20") == ([], b"")
    assert driver.frames_in(b"\x7e\x14") == ([], b"\x7e\x14")


def test_seplos_parallel_packs_report_each_pack() -> None:
    seplos_1 = next(v for v in VALID if v["id"] == "seplos_1")  # two packs, PIA and PIB each
    sample = decode("seplos", frames_of(seplos_1))
    packs = sample["packs"]
    assert [p["pack_address"] for p in packs] == [1, 2]
    assert [p["voltage"] for p in packs] == [52.34, 52.35]
    assert [p["cycles"] for p in packs] == [9, 10]
    assert all(len(p["cell_voltages"]) == 16 for p in packs)
    assert sample["cell_voltages"] == packs[0]["cell_voltages"] + packs[1]["cell_voltages"]
    assert get_driver("seplos")("v3").requests()[-1].hex() == "01041100001a74fd"  # one pack: no PIA


def test_a_false_header_before_a_frame_still_arriving() -> None:
    # Stale bytes with a JBD header whose short "frame" ends inside the real response:
    # once the real frame is whole it explains them; before that, the checksum failure
    # fails the poll at once (a corrupt response must not wait for a timeout).
    driver = get_driver("jbd")()
    basic = frames_of(FIRST_VALID["jbd"])[0]
    stale = bytes.fromhex("dd030004")
    request = driver.requests()[0]
    with pytest.raises(FrameError, match="jbd: frame ends with 0x00"):
        driver.response_complete(request, [stale, basic[:12]])
    assert driver.response_complete(request, [stale, basic])
    assert decode("jbd", [stale, *frames_of(FIRST_VALID["jbd"])]) == decode(
        "jbd", frames_of(FIRST_VALID["jbd"]))
