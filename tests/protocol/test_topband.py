"""Topband driver: matchers, streaming framing (start bytes, ASCII hex, filler), errors."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import sum16, uuid16
from custom_components.ble_battery_solar.protocol.devices.topband import TopbandDriver

from .vectors import ADVERTISEMENTS, VECTORS, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "topband"}


def status(*, start: int = 0xB0, voltage_mv: int = 13200, current_ma: int = -450,
           remaining_mah: int = 200500, cycles: int = 125, soc: int = 94,
           temp_dk: int = 2961, alarm: int = 0, cells_mv: tuple[int, ...] = (3294, 3336, 3298, 3333),
           checksum: int | None = None) -> bytes:
    """A Topband frame built from values: start byte + 112 upper-case ASCII-hex characters."""
    data = bytearray(54)
    data[0:4] = voltage_mv.to_bytes(4, "little")
    data[4:8] = current_ma.to_bytes(4, "little", signed=True)
    data[8:12] = remaining_mah.to_bytes(4, "little")
    data[12:14] = cycles.to_bytes(2, "little")
    data[14:16] = soc.to_bytes(2, "little")
    data[16:18] = temp_dk.to_bytes(2, "little")
    data[18] = alarm
    for i, mv in enumerate(cells_mv):
        data[22 + 2 * i : 24 + 2 * i] = mv.to_bytes(2, "little")
    total = sum16(data) if checksum is None else checksum
    return bytes((start,)) + (bytes(data) + total.to_bytes(2, "big")).hex().upper().encode()


KILOVAULT = status()


def adv(**kwargs: Any) -> Advertisement:
    return Advertisement.from_any(kwargs)


# --- matchers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "topband"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_topband_only(record: dict[str, Any]) -> None:
    families = [d.family for d in drivers_matching(record) if d.discoverable]
    assert families == ["topband"]


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "topband":
            assert not TopbandDriver.matches(Advertisement.from_any(record)), record["id"]


@pytest.mark.parametrize(
    "advertisement",
    [
        # generic BLE-UART module: 0xFFE0 but no placeholder company id
        {"local_name": "HMSoft", "service_uuids": [uuid16(0xFFE0)], "manufacturer_data": {76: "0215"}},
        # placeholder company id, but not a 6/7-byte module payload
        {"local_name": "Sensor", "service_uuids": [uuid16(0xFFE0)], "manufacturer_data": {65535: "01"}},
        {"service_uuids": [uuid16(0xFFE0)], "manufacturer_data": {0: "0102030405060708"}},
        # other families on 0xFFE0 that might use a placeholder id
        {"local_name": "ANT-BLE16ZMUB", "service_uuids": [uuid16(0xFFE0)],
         "manufacturer_data": {65535: "aabbccddeeff"}},
        {"local_name": "JK-B2A24S", "service_uuids": [uuid16(0xFFE0)],
         "manufacturer_data": {0: "aabbccddeeff"}},
        # right payload, no 0xFFE0 service
        {"local_name": "NWJ20221223010388", "manufacturer_data": {65535: "3055443762ec"}},
    ],
)
def test_unrelated_devices_are_not_claimed(advertisement: dict[str, Any]) -> None:
    assert not TopbandDriver.matches(adv(**advertisement))


def test_unnamed_module_is_claimed() -> None:
    assert TopbandDriver.matches(
        adv(service_uuids=[uuid16(0xFFE0)], manufacturer_data={0: "fc45c3bcd6a8"})
    )


# --- streaming ---------------------------------------------------------------------------


def test_no_requests_and_no_write_characteristic() -> None:
    assert TopbandDriver().requests() == []
    assert TopbandDriver.write_uuid is None
    assert all(v["requests"] == [] for v in VECTOR.values())


def test_built_frame_decodes() -> None:
    sample = decode("topband", [KILOVAULT])
    assert sample["voltage"] == pytest.approx(13.2)
    assert sample["current"] == pytest.approx(-0.45)
    assert sample["cycle_charge"] == pytest.approx(200.5)
    assert sample["cycles"] == 125
    assert sample["battery_level"] == 94
    assert sample["temperatures"] == [pytest.approx(22.95)]
    assert sample["cell_voltages"] == [3.294, 3.336, 3.298, 3.333]
    assert sample["problem_code"] == 0


def test_lower_case_hex_is_accepted() -> None:
    frame = KILOVAULT[:1] + KILOVAULT[1:].lower()
    assert decode("topband", [frame]) == decode("topband", [KILOVAULT])


def test_leading_tail_of_an_earlier_frame_is_skipped() -> None:
    frames, rest = TopbandDriver().frames_in(b"6F2\x00" + KILOVAULT)
    assert frames == [KILOVAULT]
    assert rest == b""


def test_newest_of_several_frames_wins() -> None:
    newer = status(start=0x83, soc=93, voltage_mv=13100)
    sample = decode("topband", [KILOVAULT, b"\x11" * 3, newer])
    assert sample["battery_level"] == 93
    assert sample["voltage"] == pytest.approx(13.1)


def test_filler_after_a_frame() -> None:
    driver = TopbandDriver()
    # filler that ends in an 8-byte run is whole
    assert driver.frames_in(KILOVAULT + b"\x52" * 8) == ([KILOVAULT], b"")
    assert driver.frames_in(KILOVAULT + b"\xafF833" + b"\x00" * 9) == ([KILOVAULT], b"")
    # filler cut short is an incomplete notification stream
    assert driver.frames_in(KILOVAULT + b"\x52" * 7) == ([KILOVAULT], b"\x52" * 7)
    assert driver.frames_in(KILOVAULT + b"\x52" * 7 + b"\x00") == ([KILOVAULT], b"\x52" * 7 + b"\x00")
    with pytest.raises(FrameError, match="topband: truncated"):
        decode("topband", [KILOVAULT, b"\x11" * 7])


def test_partial_frame_is_the_incomplete_tail() -> None:
    driver = TopbandDriver()
    assert driver.frames_in(KILOVAULT[:50]) == ([], KILOVAULT[:50])
    assert driver.frames_in(KILOVAULT + KILOVAULT[:1]) == ([KILOVAULT], KILOVAULT[:1])
    with pytest.raises(FrameError, match="topband: truncated"):
        decode("topband", [KILOVAULT[:-1]])


def test_bytes_without_start_byte_are_no_reading() -> None:
    assert TopbandDriver().frames_in(b"\x11" * 30) == ([], b"")
    with pytest.raises(FrameError, match="topband: no complete frame"):
        decode("topband", [b"\x11" * 30])


def test_response_complete_waits_for_the_whole_stream() -> None:
    driver = TopbandDriver()
    buffer = frames_of(VECTOR["topband_1"])[0]
    chunks = [buffer[i : i + 32] for i in range(0, len(buffer), 32)]
    states = [driver.response_complete(None, chunks[:n]) for n in range(1, len(chunks) + 1)]
    # the frame is whole after 4 chunks, but its filler only after the 5th
    assert states == [False, False, False, False, True]
    assert driver.answers(None, KILOVAULT)


# --- errors ------------------------------------------------------------------------------


def test_non_hex_character_in_a_frame_is_rejected() -> None:
    broken = KILOVAULT[:10] + b"G" + KILOVAULT[11:]
    with pytest.raises(FrameError, match="topband: "):
        decode("topband", [broken])
    # a frame cut short by the next start byte: framing resynchronises on that frame
    assert decode("topband", [KILOVAULT[:60] + KILOVAULT]) == decode("topband", [KILOVAULT])


def test_bad_checksum_is_rejected() -> None:
    with pytest.raises(FrameError, match="topband: bad checksum in frame 0x5E"):
        decode("topband", [status(start=0x5E, checksum=0x1234)])


def test_state_of_charge_above_100_is_rejected() -> None:
    with pytest.raises(FrameError, match="topband: battery_level 101 % is outside 0-100 %"):
        decode("topband", [status(soc=101)])


def test_alarm_byte_is_the_problem_code() -> None:
    assert decode("topband", [status(alarm=0x80)])["problem_code"] == 0x80
