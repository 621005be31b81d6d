"""CBT Power / Creabest driver: both protocols, framing, cell commands, every error branch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import sum8, uuid16
from custom_components.ble_battery_solar.protocol.devices.cbtpwr import (
    CbtPowerDriver,
    command,
    length_id,
    lrc,
    vb_command,
)

from .vectors import VECTORS, chunked

BINARY = next(v for v in VECTORS if v["id"] == "cbtpwr_1")
VB = next(v for v in VECTORS if v["id"] == "cbtpwr_5")
FRAMES = [bytes.fromhex(f) for f in BINARY["frames"]]
VI, TEMPS, SOC, RUNTIME, CAPACITY, ALARMS, CELLS1, CELLS2 = FRAMES
VB_ANALOG, VB_CAPACITY = (bytes.fromhex(f) for f in VB["frames"])


def frame(cmd: int, data: bytes) -> bytes:
    body = bytes((cmd, len(data))) + data
    return b"\xaa\x55" + body + bytes((sum8(body),)) + b"\x0d\x0a"


def vb_frame(info: bytes, version: int = 0x22, rtn: int = 0, lenid: int | None = None) -> bytes:
    lid = length_id(2 * len(info)) if lenid is None else lenid
    text = (bytes((version, 1, 0x46, rtn)) + lid.to_bytes(2, "big") + info).hex().upper().encode()
    return b"~" + text + f"{lrc(text):04X}".encode() + b"\r"


def test_requests_match_the_captured_ones() -> None:
    assert [r.hex() for r in CbtPowerDriver().requests()] == BINARY["requests"]
    assert CbtPowerDriver("vb").requests() == [bytes.fromhex(VB["requests"][0])]
    assert vb_command(0x81, b"\x01\x00\x01").hex() == VB["requests"][1]
    assert command(0x0B) == bytes.fromhex("aa550b000b0a0d")


def test_more_cell_commands_once_the_last_one_came_back_full() -> None:
    driver = CbtPowerDriver()
    full = frame(0x06, bytes.fromhex("060d050d040d030d020d"))
    four = frame(0x05, bytes.fromhex("0b0d0a0d090d080d0000"))
    assert driver.decode([VI, SOC, four, full])["cell_count"] == 4  # cells after a gap: ignored
    assert driver.cell_commands == 2
    ten_cells = frame(0x0B, (33350).to_bytes(4, "little") + VI[8:12])  # a 10-cell pack's 33.35 V
    driver.decode([ten_cells, SOC, CELLS1, full])
    assert driver.cell_commands == 3
    assert len(driver.requests()) == 9
    assert driver.decode([VI, SOC, CELLS1])["cell_count"] == 5  # 0x06 not answered


def test_response_complete_waits_for_the_frame_of_its_request() -> None:
    driver = CbtPowerDriver()
    assert not driver.response_complete(command(0x0B), [VI[:6]])
    assert driver.response_complete(command(0x0B), [VI[:6], VI[6:]])
    assert not driver.response_complete(command(0x09), [VI])
    assert driver.response_complete(None, [VI])
    chunks = chunked([VB_ANALOG], 20)
    assert not driver.response_complete(vb_command(0x42), chunks[:-1])
    assert driver.response_complete(vb_command(0x42), chunks)
    assert not driver.response_complete(vb_command(0x42), [VI])
    assert driver.frames_in(b"\xaa") == ([], b"\xaa")


def test_stale_bytes_before_a_frame_are_skipped() -> None:
    whole = decode("cbtpwr", FRAMES)
    assert decode("cbtpwr", [b"\x0d\x0a\x00\x55" + FRAMES[0], *FRAMES[1:]]) == whole
    assert decode("cbtpwr", chunked(FRAMES, 20)) == whole
    vb = decode("cbtpwr", [VB_ANALOG, VB_CAPACITY], variant="vb")
    assert decode("cbtpwr", [b"\r\x00" + VB_ANALOG, VB_CAPACITY], variant="vb") == vb


def test_runtime_only_while_discharging() -> None:
    charging = frame(0x0B, bytes.fromhex("58340000") + (1000).to_bytes(4, "little"))
    assert "runtime" not in decode("cbtpwr", [charging, SOC, RUNTIME])
    assert decode("cbtpwr", [VI, SOC, RUNTIME])["runtime"] == 22608


def test_empty_probe_slots_are_dropped_but_the_first_is_kept() -> None:
    temps = frame(0x09, (0).to_bytes(2, "little") + (5).to_bytes(2, "little") + bytes(8))
    assert decode("cbtpwr", [VI, SOC, temps])["temperatures"] == [0.0, 5.0]


def test_zero_design_capacity_is_not_shown() -> None:
    assert "design_capacity" not in decode("cbtpwr", [VI, SOC, frame(0x15, bytes(4))])
    assert "temperatures" not in decode("cbtpwr", [VI, SOC, frame(0x03, b"\x01")])  # not read


def test_vb_series_decodes_and_caps_the_state_of_charge() -> None:
    sample = decode("cbtpwr", [VB_ANALOG, VB_CAPACITY], variant="vb")
    assert sample["design_capacity"] == 200
    info = bytes.fromhex(VB_ANALOG[13:-5].decode())
    high = bytearray(info)
    high[1 + 8 + 1 + 4 + 4 : 1 + 8 + 1 + 4 + 6] = (101).to_bytes(2, "big")
    assert decode("cbtpwr", [vb_frame(bytes(high))], variant="vb")["battery_level"] == 100


@given(word=st.integers(0, (1 << 48) - 1))
def test_vb_status_word_keeps_exactly_the_alarm_bits(word: int) -> None:
    info = bytearray(bytes.fromhex(VB_ANALOG[13:-5].decode()))
    info[-6:] = word.to_bytes(6, "big")
    code = decode("cbtpwr", [vb_frame(bytes(info))], variant="vb")["problem_code"]
    assert code == word & 0xFFF000FF000F


@given(word=st.integers(0, (1 << 32) - 1))
def test_warning_word_decodes_exactly(word: int) -> None:
    code = decode("cbtpwr", [VI, SOC, frame(0x21, word.to_bytes(4, "little"))])["problem_code"]
    assert code == word


def test_top_and_bottom_alarm_bits() -> None:
    info = bytearray(bytes.fromhex(VB_ANALOG[13:-5].decode()))
    info[-6:] = (1 << 47 | 1).to_bytes(6, "big")
    assert decode("cbtpwr", [vb_frame(bytes(info))])["problem_code"] == 1 << 47 | 1
    word = (1 << 31 | 1).to_bytes(4, "little")
    assert decode("cbtpwr", [VI, SOC, frame(0x21, word)])["problem_code"] == 1 << 31 | 1


INFO = bytes.fromhex(VB_ANALOG[13:-5].decode())


@pytest.mark.parametrize(("frames", "message"), [
    ([VI[:-3] + b"\x00\x0d\x0a", SOC], "bad checksum in 0x0B response"),
    # a frame that does not end with 0D 0A is no frame: skipped, its values are missing
    ([VI[:-1] + b"\x0b", SOC], "response lacks voltage, current"),
    ([VI, frame(0x0A, b"\x65")], "battery_level 101 % is above 100"),
    ([VI, SOC, frame(0x09, b"\x01")], "temperature frame without a probe"),
    ([VI, SOC, frame(0x05, bytes(8))], "cell frame 0x05 of 8 bytes"),
    ([frame(0x0B, bytes(7)), SOC], "field current at byte 4 lies beyond"),
    ([VI, CAPACITY], "lacks battery_level"),
    ([b"~" + b"1" * 600], "no end of an ASCII frame within 512 bytes"),
    ([b"~11\r"], "not upper-case hex"),
    ([VB_ANALOG.replace(b"~22", b"~2a")], "not upper-case hex"),
    ([VB_ANALOG[:-2] + b"1\r"], "bad LRC"),
    ([vb_frame(INFO, version=0x21)], "unknown ASCII protocol version 0x21"),
    ([vb_frame(INFO, rtn=0x02)], "BMS reported error 0x02"),
    ([vb_frame(INFO, lenid=2 * len(INFO))], "length id 0x0046 does not fit"),
    ([vb_frame(INFO, lenid=length_id(2 * len(INFO) + 2))], "does not fit a 35-byte info"),
    ([vb_frame(b"\x11" + INFO[1:])], "17 cells do not fit a 35-byte info"),
    ([vb_frame(INFO[:-10])], "lies beyond"),
])
def test_malformed_input_is_rejected(frames: list[bytes], message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode("cbtpwr", frames)


def test_matchers_and_variant() -> None:
    creabest = Advertisement(local_name="170C000E56", service_uuids=(uuid16(0xFFF0),),
                             manufacturer_data={0x4243: bytes.fromhex("545e0111")})
    vb = Advertisement(local_name="VB024000390", service_uuids=(uuid16(0xFFF0),),
                       manufacturer_data={0x4243: bytes.fromhex("545e0211f82e0ca88942")})
    for adv in (creabest, vb):
        assert [d.family for d in drivers_matching(adv)] == ["cbtpwr"]
    assert CbtPowerDriver.variant_for(vb) == "vb"
    assert CbtPowerDriver.variant_for(creabest) is None
    other = Advertisement(local_name="DL-40D63C", service_uuids=(uuid16(0xFFF0),),
                          manufacturer_data={0x0000: bytes(6)})
    assert not CbtPowerDriver.matches(other)
    assert CbtPowerDriver.matches(Advertisement(local_name=None, service_uuids=(uuid16(0xFFE5),)))


def test_simulated_vb_battery_decodes_to_its_model() -> None:
    device = make_device("cbtpwr", "AA:BB:CC:00:00:01", variant="vb")
    assert device.advertisement()["local_name"] == "VB024000390"
    driver = CbtPowerDriver("vb")
    frames = [f for r in driver.requests() for f in device.respond(driver.write_uuid or "", r)]
    sample = decode("cbtpwr", chunked(frames, 20), variant="vb")
    assert sample["voltage"] == pytest.approx(device.model.voltage, abs=0.06)
    assert sample["cell_voltages"] == pytest.approx(device.model.cell_voltages, abs=0.001)
    device.faults.corrupt = True
    frames = [f for r in driver.requests() for f in device.respond(driver.write_uuid or "", r)]
    with pytest.raises(FrameError, match="bad LRC"):
        decode("cbtpwr", frames, variant="vb")
