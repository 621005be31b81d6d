"""Daly driver: matchers, requests, response tying, variants and every error branch."""

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
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.daly import DalyDriver

from .vectors import ADVERTISEMENTS, VECTORS

BY_ID = {v["id"]: v for v in VECTORS}
MOS_FRAME, STATUS_FRAME = (bytes.fromhex(f) for f in BY_ID["daly_1"]["frames"])
STATUS_80 = bytes.fromhex(BY_ID["daly_2"]["frames"][0])


def response(data: bytes, slave: int = 0xD2, function: int = 0x03) -> bytes:
    body = bytes((slave, function, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def exception_reply(slave: int, function: int, code: int) -> bytes:
    body = bytes((slave, function, code))
    return body + crc16_modbus(body).to_bytes(2, "little")


def patched(frame: bytes, offset: int, value: bytes) -> bytes:
    """The response with data bytes at `offset` replaced (CRC recomputed)."""
    data = bytearray(frame[3:-2])
    data[offset : offset + len(value)] = value
    return response(bytes(data))


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "daly"],
                         ids=lambda a: a["id"])
def test_every_daly_advertisement_is_daly_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["daly"]


def test_daly_does_not_claim_other_families_or_strangers() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "daly":
            assert not DalyDriver.matches(Advertisement.from_any(record)), record["id"]
    assert not DalyDriver.matches(Advertisement(local_name="DL-123456"))  # no 0xFFF0
    assert DalyDriver.matches(Advertisement(local_name="DL-123456",
                                            service_uuids=(uuid16(0xFFF0),)))
    assert not DalyDriver.matches(Advertisement(manufacturer_data={0x0101: b"\x00"}))
    assert not DalyDriver.matches(
        Advertisement(manufacturer_data={0x0104: b"JHB"}, connectable=False))


def test_requests_match_the_captured_ones() -> None:
    assert [r.hex() for r in DalyDriver().requests()] == BY_ID["daly_1"]["requests"]
    assert [r.hex() for r in DalyDriver("80").requests()] == BY_ID["daly_2"]["requests"]
    assert DalyDriver(BY_ID["daly_2"]["variant"]).requests() == DalyDriver("80").requests()
    assert DalyDriver("62").requests() == DalyDriver().requests()


def test_answers_and_response_complete() -> None:
    driver = DalyDriver()
    mos_request, status_request = driver.requests()
    assert driver.answers(mos_request, MOS_FRAME)
    assert not driver.answers(mos_request, STATUS_FRAME)
    assert driver.answers(status_request, STATUS_FRAME)
    assert not driver.answers(status_request, STATUS_80)
    assert driver.answers(None, STATUS_FRAME)
    chunks = [STATUS_FRAME[i : i + 20] for i in range(0, len(STATUS_FRAME), 20)]
    assert not driver.response_complete(status_request, chunks[:-1])
    assert driver.response_complete(status_request, chunks)
    assert not driver.response_complete(mos_request, chunks)


def test_62_register_decode_puts_mosfet_temperature_first() -> None:
    sample = decode("daly", [MOS_FRAME, STATUS_FRAME])
    assert sample["temperatures"] == [38.0, 20.0, 21.0, 22.0, 23.0]
    assert sample["delta_voltage"] == 0.321  # the BMS's own figure, not max - min
    assert sample["cell_count"] == 4


def test_status_alone_and_missing_mosfet_sensor() -> None:
    assert decode("daly", [STATUS_FRAME])["temperatures"] == [20.0, 21.0, 22.0, 23.0]
    no_sensor = patched(MOS_FRAME, 8, b"\xff\xff")
    assert decode("daly", [no_sensor, STATUS_FRAME])["temperatures"] == [20.0, 21.0, 22.0, 23.0]
    zero = patched(MOS_FRAME, 8, b"\x00\x00")
    assert len(decode("daly", [zero, STATUS_FRAME])["temperatures"]) == 4


def test_80_register_variant_detected_from_the_frame() -> None:
    sample = decode("daly", [STATUS_80])
    assert sample["cell_count"] == 16
    assert sample["current"] == pytest.approx(-3.1)
    assert sample["temperatures"] == [15.0] * 4


def test_missing_status_is_rejected() -> None:
    with pytest.raises(FrameError, match=r"daly: response to the status \(62 registers\) / status \(80"):
        decode("daly", [MOS_FRAME])


def test_exception_reply_to_status_is_rejected() -> None:
    with pytest.raises(FrameError, match=r"daly: Modbus exception 0x02 .*status \(62"):
        decode("daly", [MOS_FRAME, exception_reply(0xD2, 0x83, 0x02)])
    # an exception to the optional MOSFET block only drops that temperature
    sample = decode("daly", [exception_reply(0xD2, 0x83, 0x02), STATUS_FRAME])
    assert sample["temperatures"] == [20.0, 21.0, 22.0, 23.0]


@pytest.mark.parametrize(("offset", "value", "message"), [
    (98, b"\x00\x21", "33 cells reported"),
    (100, b"\x00\x09", "9 temperature sensors"),
    (84, b"\x03\xe9", "battery_level 100.1 % is outside 0-100 %"),
])
def test_impossible_values_are_rejected(offset: int, value: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=f"daly: {message}"):
        decode("daly", [patched(STATUS_FRAME, offset, value)])


def test_framing_errors() -> None:
    with pytest.raises(FrameError, match=r"daly: (no complete frame|truncated frame)"):
        decode("daly", [b"\x01" + STATUS_FRAME[1:]])
    with pytest.raises(FrameError, match=r"daly: (no complete frame|truncated frame)"):
        decode("daly", [b"\xd2\x10" + STATUS_FRAME[2:]])
    with pytest.raises(FrameError, match=r"daly: .*answers no outstanding request"):
        decode("daly", [response(b"\x00\x01")])
    with pytest.raises(FrameError, match=r"daly: .*answers no outstanding request"):
        decode("daly", [STATUS_FRAME, MOS_FRAME])  # out of poll order
    with pytest.raises(FrameError, match=r"daly: bad CRC"):
        decode("daly", [STATUS_FRAME[:-1] + bytes([STATUS_FRAME[-1] ^ 0xFF])])
