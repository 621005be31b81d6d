"""JBD driver: requests, framing, response matching and every error branch."""

from __future__ import annotations

import pytest

from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.jbd import JbdDriver, checksum, request

BASIC = bytes.fromhex(
    "dd03001d0618000001f201f400002c7c00000000000080640304030b8b0b8a0b84fa8d77"
)
CELLS = bytes.fromhex("dd0400080f450f3d0f370f3dfec677")


def frame(cmd: int, data: bytes, status: int = 0) -> bytes:
    body = bytes((status, len(data))) + data
    return bytes((0xDD, cmd)) + body + checksum(body).to_bytes(2, "big") + b"\x77"


def test_requests_match_the_captured_ones() -> None:
    assert JbdDriver().requests() == [bytes.fromhex("dda50300fffd77"), bytes.fromhex("dda50400fffc77")]
    assert request(0x05) == bytes.fromhex("dda50500fffb77")


def test_response_complete_waits_for_the_whole_frame_of_its_request() -> None:
    driver = JbdDriver()
    basic_req, cells_req = driver.requests()
    chunks = [BASIC[i : i + 20] for i in range(0, len(BASIC), 20)]
    assert not driver.response_complete(basic_req, chunks[:1])
    assert driver.response_complete(basic_req, chunks)
    assert not driver.response_complete(cells_req, chunks)
    assert driver.response_complete(cells_req, [CELLS])
    assert driver.response_complete(None, [CELLS])


def test_short_header_waits() -> None:
    assert JbdDriver().frames_in(b"\xdd\x03") == ([], b"\xdd\x03")


def test_wrong_header_is_rejected() -> None:
    with pytest.raises(FrameError, match=r"jbd: (no complete frame|truncated frame)"):
        decode("jbd", [b"\xaa" + BASIC[1:]])


def test_error_status_is_rejected() -> None:
    with pytest.raises(FrameError, match="error status 0x80"):
        decode("jbd", [frame(0x03, BASIC[4:-3], status=0x80)])


def test_odd_cell_payload_is_rejected() -> None:
    with pytest.raises(FrameError, match="odd cell-voltage payload"):
        decode("jbd", [BASIC, frame(0x04, b"\x0f\x45\x0f")])


def test_unexpected_command_is_skipped() -> None:
    # 0x07 is no register this driver reads: the bytes are not a frame of the poll
    assert decode("jbd", [BASIC, frame(0x07, b"\x00")]) == decode("jbd", [BASIC])


def test_hardware_version_is_decoded() -> None:
    sample = decode("jbd", [BASIC, CELLS, frame(0x05, b"JBD-SP04S034\x00")])
    assert sample["hw_version"] == "JBD-SP04S034"


def test_too_many_probes_for_the_payload_are_rejected() -> None:
    data = bytearray(BASIC[4:-3])
    data[22] = 9  # 9 NTC probes announced, 3 present
    with pytest.raises(FrameError, match="9 temperature probes do not fit"):
        decode("jbd", [frame(0x03, bytes(data))])


def test_payload_too_short_for_the_field_table_is_rejected() -> None:
    with pytest.raises(FrameError, match="lies beyond"):
        decode("jbd", [frame(0x03, BASIC[4:20])])


def test_state_of_charge_above_100_is_rejected() -> None:
    data = bytearray(BASIC[4:-3])
    data[19] = 101
    with pytest.raises(FrameError, match="battery_level 101"):
        decode("jbd", [frame(0x03, bytes(data))])


def test_cells_alone_lack_the_basic_values() -> None:
    with pytest.raises(FrameError, match="lacks voltage, current"):
        decode("jbd", [CELLS])


def test_extra_bytes_after_the_probes_are_tolerated() -> None:
    sample = decode("jbd", [frame(0x03, BASIC[4:-3] + b"\x00\x01\x02\x03"), CELLS])
    assert sample["temperatures"] == [22.4, 22.3, 21.7]


def test_matchers() -> None:
    uuid = "0000ff00-0000-1000-8000-00805f9b34fb"
    assert JbdDriver.matches(Advertisement(local_name="xiaoxiang BMS", service_uuids=(uuid,)))
    assert JbdDriver.matches(Advertisement(local_name=None, service_uuids=(uuid,)))
    assert not JbdDriver.matches(Advertisement(local_name="BP02", service_uuids=(uuid,)))
    assert not JbdDriver.matches(Advertisement(local_name="xiaoxiang BMS"))
    assert not JbdDriver.matches(
        Advertisement(local_name="x", service_uuids=(uuid,), connectable=False)
    )
