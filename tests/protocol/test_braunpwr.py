"""KS48x00 (braunpwr) driver: requests, framing without checksum, resync and every error branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.devices.braunpwr import BraunPwrDriver

VECTORS = {
    v["id"]: [bytes.fromhex(f) for f in v["frames"]]
    for v in json.loads(
        (Path(__file__).parents[1] / "fixtures" / "vectors" / "braunpwr.json").read_text()
    )
}
STATUS, CELLS, PROBES, BOARD, FIRMWARE = VECTORS["braunpwr_1"]
FF00 = "0000ff00-0000-1000-8000-00805f9b34fb"


def frame(cmd: int, data: bytes) -> bytes:
    return bytes((0x7B, cmd, len(data))) + data + b"\x7d"


def edited(original: bytes, pos: int, value: bytes) -> bytes:
    data = bytearray(original)
    data[pos : pos + len(value)] = value
    return bytes(data)


def test_requests() -> None:
    assert BraunPwrDriver().requests() == [
        bytes.fromhex(h) for h in ("7b01007d", "7b02007d", "7b03007d", "7b74007d", "7bf4007d")
    ]


def test_response_complete_at_20_byte_notifications() -> None:
    driver = BraunPwrDriver()
    status_req, cells_req, *_ = driver.requests()
    chunks = [STATUS[i : i + 20] for i in range(0, len(STATUS), 20)]
    assert not driver.response_complete(status_req, chunks[:1])
    assert driver.response_complete(status_req, chunks)
    assert not driver.response_complete(cells_req, chunks)
    assert driver.response_complete(None, [CELLS])


def test_stale_bytes_before_a_frame_are_skipped() -> None:
    stream = b"\x00\x7b\x99\x7d" + STATUS + CELLS + b"\x11" + PROBES + BOARD + FIRMWARE
    chunks = [stream[i : i + 20] for i in range(0, len(stream), 20)]
    assert decode("braunpwr", chunks) == decode("braunpwr", [STATUS, CELLS, PROBES, BOARD, FIRMWARE])


def test_short_header_waits() -> None:
    assert BraunPwrDriver().frames_in(b"\x7b") == ([], b"\x7b")
    assert BraunPwrDriver().frames_in(b"\x7b\x01") == ([], b"\x7b\x01")


def test_versions() -> None:
    sample = decode("braunpwr", [STATUS, CELLS, PROBES, BOARD, FIRMWARE])
    assert sample["hw_version"] == "KS_BLE_WIFI_Ver1.0.0_20240313"
    assert sample["sw_version"] == "2.3.1"


def test_wrong_tail_is_rejected() -> None:
    with pytest.raises(FrameError, match="braunpwr: 0x02 frame ends with 0x00"):
        decode("braunpwr", [STATUS, CELLS[:-1] + b"\x00", PROBES])


def test_duplicate_answer_is_rejected() -> None:
    with pytest.raises(FrameError, match="two responses to command 0x01"):
        decode("braunpwr", [STATUS, CELLS, PROBES, STATUS])


def test_counts_must_match_the_payload() -> None:
    with pytest.raises(FrameError, match="17 cell values do not match a 33-byte payload"):
        decode("braunpwr", [STATUS, edited(CELLS, 3, b"\x11"), PROBES])
    with pytest.raises(FrameError, match="0 probe values do not match a 0-byte payload"):
        decode("braunpwr", [STATUS, CELLS, frame(0x03, b"")])


def test_bad_firmware_length_is_rejected() -> None:
    with pytest.raises(FrameError, match="firmware version of 2 bytes"):
        decode("braunpwr", [STATUS, CELLS, PROBES, frame(0xF4, b"\x02\x03")])


def test_short_status_is_rejected() -> None:
    with pytest.raises(FrameError, match="lies beyond"):
        decode("braunpwr", [frame(0x01, STATUS[3:30]), CELLS, PROBES])


@pytest.mark.parametrize(("key", "pos"), [("battery_level", 4), ("battery_health", 34)])
def test_percentages_above_100_are_rejected(key: str, pos: int) -> None:
    with pytest.raises(FrameError, match=f"{key} 101 % is above 100"):
        decode("braunpwr", [edited(STATUS, pos, b"\x65"), CELLS, PROBES])


def test_probes_are_required() -> None:
    with pytest.raises(FrameError, match="lacks temperatures"):
        decode("braunpwr", [STATUS, CELLS])


@given(word=st.integers(0, 0xFFFF), bits=st.sampled_from([0x8001, 0, 0xFFFF]))
def test_protection_word_is_exact(word: int, bits: int) -> None:
    value = word | bits
    sample = decode("braunpwr", [edited(STATUS, 31, value.to_bytes(2, "big")), CELLS, PROBES])
    assert sample["problem_code"] == value
    assert isinstance(sample["problem_code"], int)


def test_matchers_and_jbd_gives_way() -> None:
    for name in ("HSKS-25A-118", "BL-25F-170-118", "KS-48100-001"):
        adv = Advertisement(local_name=name, service_uuids=(FF00,),
                            manufacturer_data={0x7B: bytes.fromhex("02ffff7d")})
        assert [d.family for d in drivers_matching(adv)] == ["braunpwr"]
    jbd = Advertisement(local_name="SBL-12330BLH1-242049", service_uuids=(FF00,),
                        manufacturer_data={0x7B: bytes.fromhex("02ffff7d")})
    assert [d.family for d in drivers_matching(jbd)] == ["jbd"]
    assert not BraunPwrDriver.matches(Advertisement(local_name="HSKS-25A-118"))


def test_status_word_details() -> None:
    sample = decode("braunpwr", [STATUS, CELLS, PROBES])
    assert (sample["chrg_mosfet"], sample["dischrg_mosfet"]) == (True, True)  # FET word 0x000E
    assert sample["battery_health"] == 100
    fets_off = edited(STATUS, 29, b"\x00\x03")
    assert (decode("braunpwr", [fets_off, CELLS, PROBES])["chrg_mosfet"]) is False
    nominal = edited(STATUS, 19, (28000).to_bytes(2, "big"))
    assert decode("braunpwr", [nominal, CELLS, PROBES])["design_capacity"] == 280.0
    high_cells = edited(STATUS, 25, b"\x00\x00\x80\x00")  # only bits above 16 set
    assert decode("braunpwr", [high_cells, CELLS, PROBES])["balancer"] is True


def test_status_without_state_of_health_and_the_0x61_variant() -> None:
    short = frame(0x61, STATUS[3:33])  # firmware that ends after the protection word
    sample = decode("braunpwr", [short, CELLS, PROBES])
    assert "battery_health" not in sample
    assert sample["voltage"] == 53.31
    assert BraunPwrDriver().answers(None, short)
