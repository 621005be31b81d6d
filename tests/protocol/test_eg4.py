"""EG4 LL driver: matchers, request, response tying and error branches."""

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
from custom_components.ble_battery_solar.protocol.devices.eg4 import Eg4Driver

from .vectors import ADVERTISEMENTS, VECTORS

BY_ID = {v["id"]: v for v in VECTORS}
STATUS = bytes.fromhex(BY_ID["eg4_1"]["frames"][0])


def patched(offset: int, value: bytes) -> bytes:
    data = bytearray(STATUS[3:-2])
    data[offset : offset + len(value)] = value
    body = STATUS[:3] + bytes(data)
    return body + crc16_modbus(body).to_bytes(2, "little")


@pytest.mark.parametrize("record", [a for a in ADVERTISEMENTS if a["family"] == "eg4"],
                         ids=lambda a: a["id"])
def test_every_eg4_advertisement_is_eg4_only(record: dict[str, Any]) -> None:
    assert [d.family for d in drivers_matching(record)] == ["eg4"]


def test_no_other_advertisement_and_no_stranger_is_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "eg4":
            assert not Eg4Driver.matches(Advertisement.from_any(record)), record["id"]
    # a Renogy BT-1 shares the 80:6F:B0 module vendor but not the 0x1000 service
    bt1 = Advertisement(local_name="BT-TH-B00F1234", service_uuids=(uuid16(0xFFD0),),
                        manufacturer_data={0x6F80: bytes.fromhex("b00f1234")})
    assert not Eg4Driver.matches(bt1)
    assert Eg4Driver.matches(Advertisement(manufacturer_data={0x45CC: bytes.fromhex("a5000001")}))
    assert not Eg4Driver.matches(Advertisement(manufacturer_data={0x45CC: b"\x00"}))


def test_request_and_answers() -> None:
    driver = Eg4Driver()
    assert [r.hex() for r in driver.requests()] == BY_ID["eg4_1"]["requests"]
    (request,) = driver.requests()
    assert driver.answers(request, STATUS)
    assert not driver.answers(request, STATUS[:2] + b"\x02\x00\x00")
    assert driver.response_complete(request, [STATUS[:20], STATUS[20:]])
    assert not driver.response_complete(request, [STATUS[:20]])


def test_optional_registers_present() -> None:
    sample = decode("eg4", [patched(74, b"\x03\xe8")])
    assert sample["design_capacity"] == pytest.approx(100.0)
    assert "cycle_charge" not in sample
    both = bytearray(STATUS[3:-2])
    both[42:44] = b"\x01\xf4"
    both[74:76] = b"\x03\xe8"
    body = STATUS[:3] + bytes(both)
    sample = decode("eg4", [body + crc16_modbus(body).to_bytes(2, "little")])
    assert sample["cycle_charge"] == pytest.approx(50.0)
    assert sample["cycle_capacity"] == pytest.approx(662.0)


@pytest.mark.parametrize(("offset", "value", "message"), [
    (48, b"\x00\x65", "battery_level 101 % is outside 0-100 %"),
    (46, b"\x00\x65", "battery_health 101 % is outside 0-100 %"),
    (72, b"\x00\x11", "17 cells reported"),
])
def test_impossible_values_are_rejected(offset: int, value: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=f"eg4: {message}"):
        decode("eg4", [patched(offset, value)])


def test_framing_errors() -> None:
    exception = b"\x01\x83\x02"
    exception += crc16_modbus(exception).to_bytes(2, "little")
    with pytest.raises(FrameError, match=r"eg4: Modbus exception 0x02 in reply to the status"):
        decode("eg4", [exception])
    with pytest.raises(FrameError, match=r"eg4: (no complete frame|truncated frame)"):
        decode("eg4", [b"\x02" + STATUS[1:]])
    with pytest.raises(FrameError, match=r"eg4: .*answers no outstanding request"):
        decode("eg4", [STATUS, STATUS])
