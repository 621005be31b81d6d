"""Seplos driver: V3 (Modbus, EMS + packs) and V2 (7E framing), matchers, variants, errors."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
    uuid16,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus, crc16_xmodem
from custom_components.ble_battery_solar.protocol.devices.seplos import SeplosDriver, v2_request

from .vectors import ADVERTISEMENTS, VECTORS

BY_ID = {v["id"]: v for v in VECTORS}
V3 = [bytes.fromhex(f) for f in BY_ID["seplos_1"]["frames"]]
EIA, EIB, EIC, PIA1, PIB1, PIA2, PIB2 = V3
V2 = [bytes.fromhex(f) for f in BY_ID["seplos_2"]["frames"]]
TELEMETRY, MANUFACTURER, PARAMETERS = V2


def modbus(data: bytes, slave: int, function: int = 0x04) -> bytes:
    body = bytes((slave, function, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def exception_reply(slave: int, function: int) -> bytes:
    body = bytes((slave, function | 0x80, 0x02))
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(frame: bytes, offset: int, value: bytes) -> bytes:
    data = bytearray(frame[3:-2])
    data[offset : offset + len(value)] = value
    return modbus(bytes(data), frame[0], frame[1])


def v2_frame(cmd: int, data: bytes, status: int = 0) -> bytes:
    body = bytes((0x14, 0x00, cmd, status)) + len(data).to_bytes(2, "big") + data
    return b"\x7e" + body + crc16_xmodem(body).to_bytes(2, "big") + b"\x0d"


def v2_patched(frame: bytes, offset: int, value: bytes) -> bytes:
    data = bytearray(frame[7:-3])
    data[offset : offset + len(value)] = value
    return v2_frame(frame[3], bytes(data))


# --- advertisements and variants -------------------------------------------------------


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "seplos"],
                         ids=lambda a: a["id"])
def test_every_seplos_advertisement_is_seplos(record: dict[str, Any]) -> None:
    families = {d.family for d in drivers_matching(record)}
    assert "seplos" in families
    # JBD claims every 0xFF00 advertisement until it excludes the V2 "BP0?/BP1?/BP2?" names
    assert families - {"jbd"} == {"seplos"}
    expected = "v2" if uuid16(0xFF00) in record["service_uuids"] else "v3"
    assert SeplosDriver.variant_for(Advertisement.from_any(record)) == expected


def test_no_other_advertisement_and_no_stranger_is_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "seplos":
            assert not SeplosDriver.matches(Advertisement.from_any(record)), record["id"]
    fff0, ff00 = (uuid16(0xFFF0),), (uuid16(0xFF00),)
    assert SeplosDriver.matches(Advertisement(local_name="SP12B2400000001", service_uuids=fff0))
    assert SeplosDriver.matches(Advertisement(local_name="SP100B240000001", service_uuids=fff0))
    assert not SeplosDriver.matches(Advertisement(local_name="SP12B2400000001"))
    assert not SeplosDriver.matches(Advertisement(local_name="SPARKLE", service_uuids=fff0))
    assert not SeplosDriver.matches(Advertisement(local_name="BP31", service_uuids=ff00))
    assert not SeplosDriver.matches(Advertisement(local_name="BP021", service_uuids=ff00))
    assert not SeplosDriver.matches(Advertisement(local_name="BP02", service_uuids=fff0))


@pytest.mark.parametrize(("variant", "v2", "packs"), [
    (None, False, 1), ("v3", False, 1), ("v3:2", False, 2), ("V3 modbus, 2 packs", False, 2),
    ("v3:99", False, 16), ("v3:0", False, 1), ("v2", True, 1), ("V2 (7E 14 binary)", True, 1),
])
def test_variant_parsing(variant: str | None, v2: bool, packs: int) -> None:
    driver = SeplosDriver(variant)
    assert (driver.v2, driver.packs) == (v2, packs)
    assert driver.write_uuid == (uuid16(0xFF02) if v2 else uuid16(0xFFF2))
    assert driver.notify_uuid == (uuid16(0xFF01) if v2 else uuid16(0xFFF1))


def test_requests_are_among_the_captured_ones() -> None:
    v3 = [r.hex() for r in SeplosDriver("v3:2").requests()]
    assert v3 == ["00042000001a7bd0", "000122000050379f", "01041000001134c6", "01041100001a74fd",
                  "02041000001134f5", "02041100001a74ce"]
    assert set(v3) <= set(BY_ID["seplos_1"]["requests"])
    assert len(SeplosDriver().requests()) == 3
    v2 = [r.hex() for r in SeplosDriver("v2").requests()]
    assert set(v2) <= set(BY_ID["seplos_2"]["requests"])
    assert v2_request(0x51).hex() == "7e1000465100003a7f0d"


def test_answers_tie_v2_by_command_and_v3_by_slave() -> None:
    v2 = SeplosDriver("v2")
    telemetry, parameters = v2.requests()
    assert v2.answers(telemetry, TELEMETRY)
    assert not v2.answers(parameters, TELEMETRY)
    assert not v2.answers(telemetry, EIA)
    chunks = [PARAMETERS[i : i + 20] for i in range(0, len(PARAMETERS), 20)]
    assert v2.response_complete(parameters, chunks)
    assert not v2.response_complete(parameters, chunks[:-1])
    v3 = SeplosDriver("v3:2")
    eia, eic, _pia1, pib1, _pia2, pib2 = v3.requests()
    assert v3.answers(eia, EIA)
    assert not v3.answers(eia, PIB1)  # same length, other slave
    assert v3.answers(pib1, PIB1)
    assert v3.answers(pib2, PIB2)
    assert v3.answers(eic, EIC)
    assert not v3.answers(eia, TELEMETRY)
    assert v3.answers(None, EIA)


# --- V3 ------------------------------------------------------------------------------


def test_v3_without_optional_blocks() -> None:
    sample = decode("seplos", [EIA, EIC, PIB1, PIB2])
    assert sample["cell_count"] == 16
    assert len(sample["cell_voltages"]) == 32
    assert sample["delta_voltage"] == 0.003  # the worst pack, not across parallel packs
    assert sample["design_capacity"] == 280.0


def test_v3_tolerates_an_exception_to_eib() -> None:
    sample = decode("seplos", [EIA, exception_reply(0x00, 0x04), EIC, PIB1])
    assert sample["voltage"] == pytest.approx(52.34)
    assert len(sample["temperatures"]) == 6


def test_v3_system_only_has_no_cells() -> None:
    sample = decode("seplos", [EIA, EIC])
    assert "cell_voltages" not in sample
    assert "temperatures" not in sample


def test_v3_unused_cells_are_dropped() -> None:
    fifteen = patched(PIB1, 30, b"\x00\x00")
    sample = decode("seplos", [EIA, EIC, fifteen])
    assert sample["cell_count"] == 15
    empty = patched(PIB1, 0, b"\x00" * 32)
    assert "delta_voltage" not in decode("seplos", [EIA, EIC, empty])


@pytest.mark.parametrize(("frames", "message"), [
    ([exception_reply(0x00, 0x04), EIC], r"Modbus exception 0x02 in reply to the EIA request"),
    ([EIA], "response to the EIC request is missing"),
    ([EIA, exception_reply(0x00, 0x01)], "Modbus exception 0x02 in reply to the EIC"),
    ([EIA, EIC, PIA1], "response to the PIB1 request is missing"),
    ([EIA, EIC, PIB2], "not numbered consecutively"),
    ([patched(EIA, 44, b"\x00\x01"), EIC, PIB1, PIB2], "pack 2 answered, but the system reports 1"),
    ([patched(EIA, 44, b"\x00\x00"), EIC], "system reports 0 packs"),
    ([patched(EIA, 44, b"\x00\x11"), EIC], "system reports 17 packs"),
    ([patched(EIA, 48, b"\x03\xe9"), EIC], "battery_level 100.1 % is outside 0-100 %"),
    ([patched(EIA, 50, b"\x03\xe9"), EIC], "battery_health 100.1 % is outside 0-100 %"),
    ([EIC, EIA], "answers no outstanding request"),
    ([b"\x11" + EIA[1:]], "(no complete frame|truncated frame|bad CRC|mixed)"),
    ([b"\x00\x03" + EIA[2:]], "(no complete frame|truncated frame|bad CRC|mixed)"),
    ([EIA[:-1] + bytes([EIA[-1] ^ 1]), EIC], "bad CRC"),
])
def test_v3_errors(frames: list[bytes], message: str) -> None:
    with pytest.raises(FrameError, match=f"seplos: .*{message}"):
        decode("seplos", frames)


# --- V2 ------------------------------------------------------------------------------


def test_v2_telemetry_alone_and_manufacturer_info_ignored() -> None:
    sample = decode("seplos", [TELEMETRY])
    assert sample["design_capacity"] == 304.0
    assert sample["balancer"] is True
    assert "chrg_mosfet" not in sample
    assert decode("seplos", [MANUFACTURER, TELEMETRY])["voltage"] == pytest.approx(54.43)


def test_v2_states_and_alarms() -> None:
    states = v2_patched(PARAMETERS, 38, b"\x08")
    sample = decode("seplos", [TELEMETRY, states])
    assert (sample["heater"], sample["chrg_mosfet"], sample["dischrg_mosfet"]) == (True, False, False)
    last = v2_patched(PARAMETERS, 47, b"\x04")  # 8 alarm bytes: the last one counts
    assert decode("seplos", [TELEMETRY, last])["problem_code"] == 4
    first = v2_patched(PARAMETERS, 40, b"\xff")  # ... the first two are status, not alarms
    assert decode("seplos", [TELEMETRY, first])["problem_code"] == 0
    one_alarm = v2_patched(v2_patched(PARAMETERS, 39, b"\x01"), 40, b"\x04")
    assert decode("seplos", [TELEMETRY, one_alarm])["problem_code"] == 4


TELEMETRY_DATA = TELEMETRY[7:-3]


@pytest.mark.parametrize(("frames", "message"), [
    ([TELEMETRY[:-3] + bytes([TELEMETRY[-3] ^ 1]) + TELEMETRY[-2:]], "bad CRC in V2 0x61"),
    ([v2_frame(0x61, TELEMETRY_DATA, status=0x80)], "error status 0x80"),
    ([TELEMETRY, TELEMETRY], "two V2 0x61 responses"),
    ([v2_frame(0x47, b"")], "unexpected V2 response to command 0x47"),
    ([v2_frame(0x61, b"\x00\x00")], "telemetry of 2 bytes is too short"),
    ([v2_frame(0x61, b"\x00\x00\x19" + bytes(60))], "25 cells do not fit"),
    ([v2_frame(0x61, b"\x00\x00\x10" + bytes(10))], "16 cells do not fit"),
    ([v2_patched(TELEMETRY, 35, b"\x0d")], "13 temperature sensors"),
    ([v2_frame(0x61, TELEMETRY_DATA[:80])], "lacks its status section"),
    ([v2_frame(0x61, TELEMETRY_DATA[:93] + b"\x20" + TELEMETRY_DATA[94:])], "lacks its status"),
    ([v2_patched(TELEMETRY, 48 + 9, b"\x03\xe9")], "battery_level 100.1 % is outside 0-100 %"),
    ([v2_patched(TELEMETRY, 48 + 15, b"\x03\xe9")], "battery_health 100.1 % is outside 0-100 %"),
    ([TELEMETRY, v2_frame(0x62, bytes(39))], "parameter frame of 39 bytes is too short"),
    ([TELEMETRY, v2_frame(0x62, bytes(39) + b"\x09" + bytes(8))], "48 bytes is too short"),
    ([TELEMETRY, EIA], "(no complete frame|truncated frame|bad CRC|mixed)"),
    ([b"\x7e\x10" + TELEMETRY[2:]], "(no complete frame|truncated frame|bad CRC|mixed)"),
    ([b"\x7e\x14\x00\x61\x00\x04\x01" + bytes(0x401)], "(no complete frame|truncated frame|bad CRC|mixed)"),
    ([TELEMETRY[:-1] + b"\x00"], "ends with 0x00"),
    ([EIA, TELEMETRY], "(no complete frame|truncated frame|bad CRC|mixed)"),
])
def test_v2_errors(frames: list[bytes], message: str) -> None:
    with pytest.raises(FrameError, match=f"seplos: .*{message}"):
        decode("seplos", frames)


def test_v2_stream_tail_is_kept() -> None:
    driver = SeplosDriver("v2")
    assert driver.frames_in(TELEMETRY + PARAMETERS[:5]) == ([TELEMETRY], PARAMETERS[:5])
    assert driver.frames_in(TELEMETRY + PARAMETERS[:9]) == ([TELEMETRY], PARAMETERS[:9])
    assert driver.frames_in(b"") == ([], b"")


def test_v3_sixteen_packs() -> None:
    packs = [modbus(PIB1[3:-2], slave) for slave in range(1, 17)]
    sample = decode("seplos", [patched(EIA, 44, b"\x00\x10"), EIC, *packs])
    assert len(sample["cell_voltages"]) == 256
    assert len(sample["temperatures"]) == 96


def test_v2_slave_pack_without_parallel_data_decodes() -> None:
    # a slave pack (BP01 ...) refuses the master's parallel-data request (0x62)
    refused = v2_frame(0x62, b"", status=0x04)
    sample = decode("seplos", [TELEMETRY, refused])
    assert sample["cell_voltages"] == decode("seplos", [TELEMETRY, PARAMETERS])["cell_voltages"]
    assert "problem_code" not in sample
    assert "chrg_mosfet" not in sample
