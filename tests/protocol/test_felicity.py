"""Felicity driver: JSON framing, resynchronisation, every error branch, exact alarm words."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.felicity import (
    CMD_BASIC,
    CMD_REAL,
    MAX_FRAME,
    FelicityDriver,
)

from .vectors import VECTORS, chunked

VECTOR = next(v for v in VECTORS if v["id"] == "felicity_1")
BASIC, REAL = (bytes.fromhex(f) for f in VECTOR["frames"])


def real(**changes: Any) -> bytes:
    """The captured real-time object with some keys replaced (None removes a key)."""
    obj = json.loads(REAL)
    for key, value in changes.items():
        if value is None:
            obj.pop(key)
        else:
            obj[key] = value
    return json.dumps(obj, separators=(",", ":")).encode()


def test_requests_are_the_ascii_commands() -> None:
    assert FelicityDriver().requests() == [
        b"wifilocalMonitor:get dev basice infor",
        b"wifilocalMonitor:get dev real infor",
    ]


def test_response_complete_waits_for_the_closing_brace_of_its_object() -> None:
    driver = FelicityDriver()
    chunks = chunked([REAL], 35)
    assert not driver.response_complete(CMD_REAL, chunks[:-1])
    assert driver.response_complete(CMD_REAL, chunks)
    assert not driver.response_complete(CMD_BASIC, chunks)
    assert driver.response_complete(CMD_BASIC, chunked([BASIC], 35))
    assert driver.response_complete(None, [BASIC])


def test_decodes_from_35_byte_notifications() -> None:
    assert decode("felicity", chunked([BASIC, REAL], 35)) == decode("felicity", [BASIC, REAL])


def test_stale_bytes_before_an_object_are_skipped() -> None:
    whole = decode("felicity", [REAL])
    assert decode("felicity", [b'0,32767]]}\r\n' + REAL]) == whole
    # the unfinished start of an earlier object, then a whole one
    assert decode("felicity", [REAL[:300], REAL]) == whole
    assert decode("felicity", [REAL[:25] + REAL]) == whole  # cut inside a string value


def test_noise_after_the_last_object_is_ignored() -> None:
    assert decode("felicity", [REAL + b"\r\n"]) == decode("felicity", [REAL])


def test_braces_inside_strings_do_not_end_the_object() -> None:
    frame = real(DevSN='S}{N"1')
    assert decode("felicity", [frame])["serial_number"] == 'S}{N"1'
    nested = real(Extra={"a": [1]})
    assert FelicityDriver().frames_in(nested) == ([nested], b"")


def test_an_object_that_never_ends_is_rejected() -> None:
    with pytest.raises(FrameError, match="no end of the JSON object"):
        FelicityDriver().frames_in(b"{" + b"1" * MAX_FRAME)


def test_the_date_object_is_ignored() -> None:
    date = b'{"CommVer":1,"wifiSN":"F100011002424470238","dateTime":"20210101010459"}'
    assert decode("felicity", [date, REAL]) == decode("felicity", [REAL])


def test_device_information() -> None:
    sample = decode("felicity", [BASIC, REAL])
    assert (sample["sw_version"], sample["model"], sample["serial_number"]) == (
        "2.06", "112", "100011002424470238")


def test_basic_object_without_optional_keys() -> None:
    basic = b'{"CommVer":1,"M1SwVer":519}'
    assert "sw_version" not in decode("felicity", [basic, real(DevSN=None)])


def test_sentinels_are_dropped() -> None:
    # a two-cell pack (6.6 V), so the pack voltage matches the cells left
    sample = decode("felicity", [real(Batt=[[6601], [0], [None]],
                                      BatcelList=[[3300, 65535, 3301]],
                                      BtemList=[[250, 32767, 65535, -52]])])
    assert sample["cell_voltages"] == [3.3, 3.301]
    assert sample["temperatures"] == [25.0, -5.2]


def test_battlist_is_used_without_batt() -> None:
    assert decode("felicity", [real(Batt=None)])["voltage"] == 52.75
    assert decode("felicity", [real(Batt=[[None], [None]])])["current"] == -0.1


def test_batsoclist_is_used_without_batsoc() -> None:
    assert decode("felicity", [real(Batsoc=None)])["battery_level"] == 33.0


@pytest.mark.parametrize(("frame", "message"), [
    (REAL.replace(b'"CommVer":1', b'"CommVer":2'), "unknown protocol version"),
    (REAL.replace(b'"CommVer":1,', b'"CommVer":1,,'), "not a JSON object"),
    (REAL.replace(b'"wifiSN":"F', b'"wifiSN":"\xff'), "not a JSON object"),
    (real(Batt=[[52800]], BattList=None), "neither Batt nor BattList"),
    (real(Batt=[[52800], []], BattList=[[1]]), "neither Batt nor BattList"),
    (real(Batt=[[52800.5], [-1]]), "voltage is 52800.5, not an integer"),
    (real(Batt=[[52800], [True]]), "current is True"),
    (real(Batsoc=None, BatsocList=None), "Batsoc lacks"),
    (real(Batsoc=[[3300, 1000]]), "Batsoc lacks"),
    (real(Batsoc=[3300, 1000, 300000]), "Batsoc is not a list of rows"),
    (real(Batsoc=[[10001, 1000, 300000]]), "battery_level 100.01 % is out of range"),
    (real(Batsoc=[[3300, 1001, 300000]]), "battery_health 100.1 % is out of range"),
    (real(Batsoc=[[3300, 1000, -1]]), "design_capacity -1 mAh is negative"),
    (real(BtemList=[[130, 1501]]), r"temperatures: 150.1 °C is impossible"),
    (real(BatcelList=[["3300"]]), "cell_voltages is '3300'"),
    (real(Bwarn=-1), "problem_code words out of range"),
    (real(Bfault=1 << 32), "problem_code words out of range"),
])
def test_malformed_objects_are_rejected(frame: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("felicity", [frame])


def test_basic_info_alone_lacks_the_measurements() -> None:
    with pytest.raises(FrameError, match="lacks voltage, current, battery_level"):
        decode("felicity", [BASIC])


def test_bad_type_code_is_rejected() -> None:
    with pytest.raises(FrameError, match="Type is '112'"):
        decode("felicity", [BASIC.replace(b'"Type":112', b'"Type":"112"'), REAL])


@given(warn=st.integers(0, (1 << 32) - 1), fault=st.integers(0, (1 << 32) - 1))
def test_alarm_words_decode_exactly(warn: int, fault: int) -> None:
    code = decode("felicity", [real(Bwarn=warn, Bfault=fault)])["problem_code"]
    assert code == fault << 32 | warn
    assert isinstance(code, int)


def test_top_and_bottom_alarm_bits() -> None:
    top = decode("felicity", [real(Bwarn=1, Bfault=1 << 31)])["problem_code"]
    assert top == (1 << 63) | 1


def test_matchers() -> None:
    assert FelicityDriver.matches(Advertisement(local_name="F100011002424470238"))
    assert FelicityDriver.matches(Advertisement(local_name="F074204831425240169"))
    assert not FelicityDriver.matches(Advertisement(local_name="F05000"))
    assert not FelicityDriver.matches(Advertisement(local_name="F10", connectable=False))


def test_deeply_nested_json_is_a_clean_error() -> None:
    frame = b'{"CommVer":1,"Batt":' + b"[" * 4000 + b"]" * 4000 + b"}"
    with pytest.raises(FrameError, match="felicity"):
        decode("felicity", [frame])
