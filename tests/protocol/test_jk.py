"""JK (JK02) driver: matchers, requests, framing with stream noise, layout detection, errors."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import sum8, uuid16
from custom_components.ble_battery_solar.protocol.devices.jk import (
    AT_NOISE,
    VARIANT_24S,
    VARIANT_32S,
    JkDriver,
    command,
)

from .vectors import ADVERTISEMENTS, VECTORS, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "jk"}
JK_1 = frames_of(VECTOR["jk_1"])  # 24S: device info, ACK + AT, cell info
JK_2 = frames_of(VECTOR["jk_2"])  # 32S, SW 11
JK_3 = frames_of(VECTOR["jk_3"])  # 32S, SW 15 (six sensors)
JK_7 = frames_of(VECTOR["jk_7"])  # settings + cell info, no device info
ACK = bytes.fromhex("aa5590ebc8010100000000000000000000000044")


def fixed(frame: bytes | bytearray, **changes: int) -> bytes:
    """A copy of a 300-byte frame with bytes changed (offset=value) and its checksum redone."""
    out = bytearray(frame)
    for key, value in changes.items():
        out[int(key.removeprefix("b"))] = value
    out[-1] = sum8(out[:-1])
    return bytes(out)


def adv(**kwargs: Any) -> Advertisement:
    return Advertisement.from_any(kwargs)


# --- matchers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "jk"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_jk_only(record: dict[str, Any]) -> None:
    families = [d.family for d in drivers_matching(record) if d.discoverable]
    assert families == ["jk"]


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "jk":
            assert not JkDriver.matches(Advertisement.from_any(record)), record["id"]


def test_ffe0_without_jk_company_id_is_not_claimed() -> None:
    assert not JkDriver.matches(adv(local_name="JK-B2A24S", service_uuids=[uuid16(0xFFE0)]))
    assert not JkDriver.matches(
        adv(service_uuids=[uuid16(0xFFE0)], manufacturer_data={0x0B64: "88a0"})
    )
    assert JkDriver.matches(
        adv(service_uuids=[uuid16(0xFFE0)], manufacturer_data={0x0B65: "88a0"})
    )
    assert not JkDriver.matches(
        adv(service_uuids=[uuid16(0xFFE0)], manufacturer_data={0x4B4A: "0001"}, connectable=False)
    )


# --- requests and answers ----------------------------------------------------------------


@pytest.mark.parametrize("vector_id", ["jk_1", "jk_2", "jk_3", "jk_4"])
def test_first_poll_requests_device_info_then_cell_info(vector_id: str) -> None:
    requests = [bytes.fromhex(r) for r in VECTOR[vector_id]["requests"]]
    assert JkDriver().requests() == requests


def test_command_frame_layout() -> None:
    frame = command(0x1D, b"\x01\x00\x00\x00")
    assert len(frame) == 20
    assert frame[:6] == bytes.fromhex("aa5590eb1d04")
    assert frame[-1] == sum8(frame[:-1])


def test_later_polls_request_cell_info_only() -> None:
    driver = JkDriver()
    driver.decode(JK_2)
    assert driver.sw_major == 11
    assert driver.requests() == [command(0x96)]


@pytest.mark.parametrize(("vector_id"), ["jk_1", "jk_2"])
def test_request_frame_map(vector_id: str) -> None:
    vector = VECTOR[vector_id]
    driver = JkDriver()
    frames = frames_of(vector)
    for request_hex, indices in zip(vector["requests"], vector["request_frame_map"], strict=True):
        request = bytes.fromhex(request_hex)
        own = [frames[i] for i in indices]
        assert driver.response_complete(request, own)
        others = [f for i, f in enumerate(frames) if i not in indices]
        assert not driver.response_complete(request, others)


def test_answers() -> None:
    driver = JkDriver()
    info, cells = JK_2[0], JK_2[2]
    assert driver.answers(command(0x97), info)
    assert not driver.answers(command(0x97), cells)
    assert driver.answers(command(0x96), cells)
    assert not driver.answers(command(0x96), info)
    assert not driver.answers(command(0x1D), cells)
    # streaming: only cell-info frames carry a reading
    assert driver.answers(None, cells)
    assert not driver.answers(None, info)


def test_response_not_complete_until_the_whole_frame_arrived() -> None:
    driver = JkDriver()
    cells = JK_2[2]
    chunks = [cells[i : i + 128] for i in range(0, 300, 128)]
    assert not driver.response_complete(command(0x96), [AT_NOISE, *chunks[:2]])
    assert driver.response_complete(command(0x96), [AT_NOISE, *chunks])


# --- framing and noise -------------------------------------------------------------------


def test_noise_between_and_around_frames_is_skipped() -> None:
    driver = JkDriver()
    stream = AT_NOISE + JK_2[0] + ACK + AT_NOISE + AT_NOISE + JK_2[2] + ACK + AT_NOISE
    frames, rest = driver.frames_in(stream)
    assert frames == [JK_2[0], JK_2[2]]
    assert rest == b""
    assert decode("jk", [stream]) == decode("jk", [JK_2[0], JK_2[2]])


def test_ack_glued_to_a_frame_is_skipped() -> None:
    sample = decode("jk", [JK_2[0], JK_2[2] + ACK])
    assert sample["voltage"] == pytest.approx(26.509)


@pytest.mark.parametrize(
    "tail", [b"A", b"AT", b"AT\r", b"\x55", b"\x55\xaa\xeb", b"\xaa\x55\x90", b"\xaa\x55\x90\xeb\xc8"]
)
def test_partial_header_or_noise_is_an_incomplete_tail(tail: bytes) -> None:
    frames, rest = JkDriver().frames_in(JK_2[2] + tail)
    assert frames == [JK_2[2]]
    assert rest == tail
    with pytest.raises(FrameError, match="jk: truncated"):
        decode("jk", [JK_2[2], tail])


def test_ack_with_bad_checksum_is_rejected() -> None:
    bad_ack = ACK[:-1] + b"\x45"
    with pytest.raises(FrameError, match="jk: bad checksum in 20-byte message 0xC8"):
        decode("jk", [JK_2[0], bad_ack, JK_2[2]])


@pytest.mark.parametrize("junk", [b"\x00\x01\x02\x03", b"XY", b"ATX\n"])
def test_unknown_bytes_between_frames_are_skipped(junk: bytes) -> None:
    alone = decode("jk", [JK_2[2]])
    assert decode("jk", [JK_2[2], junk]) == alone
    assert decode("jk", [AT_NOISE, junk, JK_2[2]]) == alone


def test_stream_starting_inside_a_frame_is_resynchronised() -> None:
    # the BMS streams cell info: a poll's notifications may begin mid-frame
    driver = JkDriver()
    driver.decode(JK_2)
    later = driver.decode([JK_2[2][172:], JK_2[2]])
    assert later["voltage"] == pytest.approx(26.509)
    assert driver.frames_in(JK_2[2][200:] + ACK + JK_2[2]) == ([JK_2[2]], b"")
    assert driver.response_complete(command(0x96), [JK_2[2][128:], JK_2[2][:128]]) is False
    assert driver.response_complete(command(0x96), [JK_2[2][128:], JK_2[2]]) is True


def test_fragment_without_any_header_is_no_reading() -> None:
    assert JkDriver().frames_in(JK_2[2][20:]) == ([], b"")
    with pytest.raises(FrameError, match="jk: no complete frame"):
        decode("jk", [JK_2[2][20:]])


def test_noise_only_is_not_a_reading() -> None:
    with pytest.raises(FrameError, match="jk: no complete frame"):
        decode("jk", [AT_NOISE, ACK])


# --- layout / variant detection ----------------------------------------------------------


def test_24s_layout_is_detected_from_firmware_10() -> None:
    driver = JkDriver()
    sample = driver.decode(JK_1)
    assert driver.sw_major == 10
    assert driver.layout().name == VARIANT_24S
    assert sample["sw_version"] == "10.08"
    assert sample["model"] == "JK-B2A20S20P"
    assert sample["hw_version"] == "10.XG"
    assert sample["serial_number"] == "2032816012"  # all ten characters
    assert sample["cell_count"] == 16
    assert sample["temperatures"] == [18.1, 18.6, 22.8]


def test_24s_layout_is_remembered_for_later_polls() -> None:
    driver = JkDriver()
    driver.decode(JK_1)
    later = driver.decode([JK_1[2]])
    assert later["voltage"] == pytest.approx(52.971)
    assert later["cell_count"] == 16
    assert driver._layouts_to_try() == (driver.layout(),)


def test_layout_falls_back_when_the_firmware_is_unknown() -> None:
    # no device-info frame: the 32S layout is tried first, its values do not add up, 24S does
    sample = decode("jk", [JK_1[2]])
    assert sample["voltage"] == pytest.approx(52.971)
    assert sample["temperatures"] == [18.1, 18.6, 22.8]


def test_pack_voltage_must_match_the_cells() -> None:
    cells = bytearray(JK_2[2])
    cells[150:154] = (30000).to_bytes(4, "little")  # 30 V for 26.5 V of cells
    with pytest.raises(FrameError, match=r"jk: pack voltage 30.0 V does not match .* JK02_32S"):
        decode("jk", [JK_2[0], fixed(cells)])
    # without firmware knowledge both layouts fail; the error names the first one tried
    with pytest.raises(FrameError, match="JK02_32S layout"):
        decode("jk", [fixed(cells)])


def test_variant_hint_selects_the_layout_without_device_info() -> None:
    sample = decode("jk", [JK_1[2]], variant=VARIANT_24S)
    assert sample["voltage"] == pytest.approx(52.971)
    assert sample["temperatures"] == [18.1, 18.6, 22.8]
    assert JkDriver(VARIANT_32S).layout().name == VARIANT_32S
    assert JkDriver("something else").layout().name == VARIANT_32S


def test_device_info_overrides_the_variant_hint() -> None:
    sample = decode("jk", JK_2, variant=VARIANT_24S)
    assert sample["voltage"] == pytest.approx(26.509)


def test_device_info_after_cell_info_still_sets_the_layout() -> None:
    sample = decode("jk", [JK_1[2], JK_1[0]])
    assert sample["voltage"] == pytest.approx(52.971)


def test_32s_temperature_sensors_by_firmware() -> None:
    assert decode("jk", JK_2)["temperatures"] == [31.0, 28.4, 29.2, 31.0]  # SW 11: four slots
    assert len(decode("jk", JK_3)["temperatures"]) == 6  # SW 15: six slots
    assert len(decode("jk", [JK_3[2]])["temperatures"]) == 4  # unknown SW: four slots


def test_absent_and_masked_temperature_sensors_are_skipped() -> None:
    cells = bytearray(JK_2[2])
    cells[162:164] = (-2000).to_bytes(2, "little", signed=True)  # T1 reads "no sensor"
    sample = decode("jk", [JK_2[0], fixed(cells, b214=0b1011)])  # T2 disabled
    assert sample["temperatures"] == [31.0, 31.0]


def test_settings_frame_is_accepted_and_ignores_values() -> None:
    sample = decode("jk", JK_7)
    assert sample["voltage"] == pytest.approx(13.405)
    assert "design_capacity" in sample
    with pytest.raises(FrameError, match="jk: response lacks voltage"):
        decode("jk", [JK_7[0]])


def test_firmware_version_must_be_readable() -> None:
    info = bytearray(JK_2[0])
    info[30:38] = b"V-x\x00\x00\x00\x00\x00"
    with pytest.raises(FrameError, match="jk: cannot read a firmware version"):
        decode("jk", [fixed(info), JK_2[2]])


# --- value checks ------------------------------------------------------------------------


def test_bad_checksum_and_unknown_type() -> None:
    broken = bytearray(JK_2[2])
    broken[-1] ^= 0xFF
    with pytest.raises(FrameError, match="jk: bad checksum in frame type 0x02"):
        decode("jk", [JK_2[0], bytes(broken)])
    with pytest.raises(FrameError, match="jk: unknown frame type 0x07"):
        decode("jk", [fixed(JK_2[2], b4=0x07)])


def test_cell_mask_beyond_the_layout_is_rejected() -> None:
    cells = fixed(JK_1[2], b57=0x01)  # 24S mask bit 24
    with pytest.raises(FrameError, match="jk: cell mask 0x0100FFFF names cells beyond 24"):
        decode("jk", [JK_1[0], cells])


def test_frame_without_cells_is_rejected() -> None:
    cells = fixed(JK_2[2], b70=0, b71=0)
    with pytest.raises(FrameError, match="jk: cell-info frame reports no cells"):
        decode("jk", [JK_2[0], cells])


@pytest.mark.parametrize(("offset", "key"), [(173, "battery_level"), (190, "battery_health")])
def test_percentages_above_100_are_rejected(offset: int, key: str) -> None:
    cells = fixed(JK_2[2], **{f"b{offset}": 101})
    with pytest.raises(FrameError, match=f"jk: {key} 101 % is outside 0-100 %"):
        decode("jk", [JK_2[0], cells])


def test_problem_code_and_flags_24s_and_32s() -> None:
    sample = decode("jk", [JK_2[0], fixed(JK_2[2], b166=0x04, b198=0, b172=1)])
    assert sample["problem_code"] == 4
    assert sample["chrg_mosfet"] is False
    assert sample["balancer"] is True
    sample = decode("jk", [JK_1[0], fixed(JK_1[2], b137=0x02, b167=0)])
    assert sample["problem_code"] == 0x0200
    assert sample["dischrg_mosfet"] is False
