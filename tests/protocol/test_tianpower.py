"""TianPower driver: matcher, requests per poll, 20-byte framing, block checks, errors."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.devices.tianpower import (
    TianPowerDriver,
    request,
)

from .vectors import ADVERTISEMENTS, VECTORS, frames_of

VECTOR = {v["id"]: v for v in VECTORS if v["family"] == "tianpower"}["tianpower_1"]
FRAMES = frames_of(VECTOR)
BY_CMD = {f[2]: f for f in FRAMES}


def block(cmd: int, data: bytes) -> bytes:
    return bytes((0x55, 0x14, cmd)) + data.ljust(16, b"\0") + b"\xaa"


def with_blocks(*blocks: bytes) -> list[bytes]:
    """The captured poll with some blocks replaced (or added)."""
    out = dict(BY_CMD)
    for b in blocks:
        out[b[2]] = b
    return list(out.values())


def without(*cmds: int) -> list[bytes]:
    return [f for f in FRAMES if f[2] not in cmds]


def general(cells: int = 16, sensors: int = 4) -> bytes:
    data = bytearray(BY_CMD[0x84][3:19])
    data[0], data[1] = cells, sensors
    return block(0x84, bytes(data))


# --- matcher -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record", [a for a in ADVERTISEMENTS if a["family"] == "tianpower"], ids=lambda a: a["id"]
)
def test_fixture_advertisement_is_claimed_by_tianpower_only(record: dict[str, Any]) -> None:
    families = [d.family for d in drivers_matching(record) if d.discoverable]
    assert families == ["tianpower"]


def test_foreign_advertisements_are_not_claimed() -> None:
    for record in ADVERTISEMENTS:
        if record["family"] != "tianpower":
            assert not TianPowerDriver.matches(Advertisement.from_any(record)), record["id"]


@pytest.mark.parametrize(("name", "claimed"), [("TP_000123", True), ("TP-Link", False),
                                               ("TPX_1", False), (None, False)])
def test_name_pattern(name: str | None, claimed: bool) -> None:
    assert TianPowerDriver.matches(Advertisement(local_name=name)) is claimed
    assert not TianPowerDriver.matches(Advertisement(local_name=name, connectable=False))


# --- requests and answers ----------------------------------------------------------------


def test_first_poll_requests_every_block() -> None:
    assert TianPowerDriver().requests() == [bytes.fromhex(r) for r in VECTOR["requests"]]
    assert request(0x83) == bytes.fromhex("550483aa")


def test_later_polls_request_only_the_cell_blocks_in_use() -> None:
    driver = TianPowerDriver()
    driver.decode(FRAMES)
    assert driver.cell_count == 16
    assert [r[2] for r in driver.requests()] == [0x83, 0x84, 0x85, 0x87, 0x88, 0x89]
    status = bytearray(BY_CMD[0x83])
    status[5:7] = (1368).to_bytes(2, "big")  # 13.68 V: the four cells left
    driver.decode(with_blocks(general(cells=4), bytes(status)))
    assert [r[2] for r in driver.requests()] == [0x83, 0x84, 0x85, 0x87, 0x88]
    # more cells than the last poll asked for: this poll fails, the next one asks for them
    with pytest.raises(FrameError, match="tianpower: 16 cells but no cell block 0x89"):
        driver.decode([f for f in FRAMES if f[2] in (0x83, 0x84, 0x85, 0x87, 0x88)])
    assert [r[2] for r in driver.requests()] == [0x83, 0x84, 0x85, 0x87, 0x88, 0x89]


def test_request_frame_map() -> None:
    driver = TianPowerDriver()
    for request_hex, (index,) in zip(VECTOR["requests"], VECTOR["request_frame_map"], strict=True):
        req = bytes.fromhex(request_hex)
        assert driver.answers(req, FRAMES[index])
        assert driver.response_complete(req, [FRAMES[index]])
        assert not driver.response_complete(req, [FRAMES[index - 1]])
        assert not driver.response_complete(req, [FRAMES[index][:19]])
    assert driver.answers(None, FRAMES[0])


# --- framing -----------------------------------------------------------------------------


def test_framing_errors() -> None:
    good = FRAMES[0]
    with pytest.raises(FrameError, match=r"tianpower: (no complete frame|truncated frame)"):
        decode("tianpower", [b"\xaa" + good[1:]])
    with pytest.raises(FrameError, match=r"tianpower: (no complete frame|truncated frame)"):
        decode("tianpower", [good[:1] + b"\x15" + good[2:]])
    with pytest.raises(FrameError, match="tianpower: frame ends with 0x00, expected 0xAA"):
        decode("tianpower", [good[:-1] + b"\x00"])


@pytest.mark.parametrize("cut", [1, 2, 19])
def test_incomplete_frame_is_the_tail(cut: int) -> None:
    assert TianPowerDriver().frames_in(FRAMES[0][:cut]) == ([], FRAMES[0][:cut])


# --- blocks ------------------------------------------------------------------------------


def test_unknown_block_is_skipped() -> None:
    # a 0x86 "frame" is not one of the blocks the BMS answers with: framing skips it
    assert decode("tianpower", [*FRAMES, block(0x86, b"")]) == decode("tianpower", FRAMES)


@pytest.mark.parametrize("cmd", [0x83, 0x84, 0x85, 0x87])
def test_missing_block_is_rejected(cmd: int) -> None:
    with pytest.raises(FrameError, match=f"tianpower: response lacks block 0x{cmd:02X}"):
        decode("tianpower", without(cmd))


def test_missing_cell_block_is_rejected() -> None:
    with pytest.raises(FrameError, match="tianpower: 16 cells but no cell block 0x89"):
        decode("tianpower", without(0x89))
    # 16 cells need no third block
    assert decode("tianpower", without(0x8A))["cell_count"] == 16


@pytest.mark.parametrize("cells", [0, 25])
def test_impossible_cell_count_is_rejected(cells: int) -> None:
    with pytest.raises(FrameError, match=f"tianpower: impossible cell count {cells}"):
        decode("tianpower", with_blocks(general(cells=cells)))


def test_impossible_sensor_count_is_rejected() -> None:
    with pytest.raises(FrameError, match="tianpower: impossible temperature sensor count 9"):
        decode("tianpower", with_blocks(general(sensors=9)))


def test_cells_over_three_blocks() -> None:
    third = block(0x8A, b"".join((3300 + i).to_bytes(2, "big") for i in range(8)))
    sample = decode("tianpower", with_blocks(general(cells=20, sensors=0), third))
    assert sample["cell_count"] == 20
    assert sample["cell_voltages"][16:] == [3.3, 3.301, 3.302, 3.303]
    assert sample["temperatures"] == [23.0, 25.0]  # ambient and MOSFET only


@pytest.mark.parametrize(("offset", "key"), [(3, "battery_level"), (17, "battery_health")])
def test_percentages_above_100_are_rejected(offset: int, key: str) -> None:
    status = bytearray(BY_CMD[0x83])
    status[offset : offset + 2] = (101).to_bytes(2, "big")
    with pytest.raises(FrameError, match=f"tianpower: {key} 101 % is outside 0-100 %"):
        decode("tianpower", with_blocks(bytes(status)))


def test_versions_and_signed_values() -> None:
    status = bytearray(BY_CMD[0x83])
    status[13:15] = (-1234).to_bytes(2, "big", signed=True)
    status[9:11] = (-55).to_bytes(2, "big", signed=True)
    mosfet = block(0x85, b"\x08\x01" + bytes(8) + b"\x00\x01")
    sample = decode(
        "tianpower",
        with_blocks(bytes(status), mosfet, block(0x81, b"V1.2\0\0junk"), block(0x82, b"HW-A")),
    )
    assert sample["sw_version"] == "V1.2"
    assert sample["hw_version"] == "HW-A"
    assert sample["current"] == pytest.approx(-12.34)
    assert sample["temperatures"][-2] == pytest.approx(-5.5)
    assert sample["dischrg_mosfet"] is True
    assert sample["chrg_mosfet"] is False
    assert sample["balancer"] is True
