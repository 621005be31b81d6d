"""D-powercore driver: pages, acknowledgements, unlock, resync and every error branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.dpwrcore import (
    DpwrcoreDriver,
    command,
)

VECTOR = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "vectors" / "dpwrcore.json").read_text()
)[0]
PAGES = [bytes.fromhex(f) for f in VECTOR["frames"]]
STATUS_PAGES, INFO_PAGES, CELL_PAGES = ([PAGES[i] for i in m[1:]] for m in VECTOR["request_frame_map"])


def paged(payload: bytes) -> list[bytes]:
    parts = [payload[i : i + 18] for i in range(0, len(payload), 18)]
    return [(bytes((len(p), (n + 1) << 4 | len(parts))) + p).ljust(20, b"\x00")
            for n, p in enumerate(parts)]


def frame(cmd: int, data: bytes, *, fix: int = 0) -> list[bytes]:
    body = bytes((0x05, 0x03, cmd, 0x00, len(data))) + data
    return paged(b"\x3a" + body + ((sum(body) + fix) & 0xFFFF).to_bytes(2, "big") + b"\x0d\x0a")


STATUS_DATA = bytes.fromhex("02130000" "71c5458e3d00")
INFO_DATA = bytes.fromhex("001200126d600b7e8fdb1820")
CELLS_DATA = bytes.fromhex("0e" + "0ed7" * 14)


def poll(status: bytes = STATUS_DATA, info: bytes = INFO_DATA, cells: bytes = CELLS_DATA) -> list[bytes]:
    return [*frame(0x60, status), *frame(0x61, info), *frame(0x62, cells)]


def test_requests_and_unlock() -> None:
    assert DpwrcoreDriver().requests()[0] == bytes.fromhex("0c113a030560000000680d0a") + bytes(8)
    assert DpwrcoreDriver.variant_for(Advertisement(local_name="TBA-13500277")) is None
    assert DpwrcoreDriver.variant_for(Advertisement(local_name="DXB-0042")) == "0042"
    assert DpwrcoreDriver.variant_for(Advertisement(local_name="DXB-batt")) is None
    unlock, *reads = DpwrcoreDriver("C0FE").requests()
    assert unlock[0] == 0x0E
    assert unlock[5] == 0x64
    assert unlock[8:10] == bytes.fromhex("c0fe")
    assert reads == DpwrcoreDriver().requests()
    assert DpwrcoreDriver("C0FE").response_complete(unlock, [])


def test_response_complete_after_the_last_page() -> None:
    driver = DpwrcoreDriver()
    status_req, _, cells_req = driver.requests()
    assert not driver.response_complete(cells_req, CELL_PAGES[:-1])
    assert driver.response_complete(cells_req, CELL_PAGES)
    assert not driver.response_complete(status_req, CELL_PAGES)
    assert driver.response_complete(None, STATUS_PAGES)


def test_stale_bytes_and_acknowledgements_are_skipped() -> None:
    stream = b"\x01\x12\x3a" + b"".join(PAGES)
    assert decode("dpwrcore", [stream]) == decode("dpwrcore", PAGES)


def test_dxb_device_answers_after_the_unlock() -> None:
    device = make_device("dpwrcore", "CC:CC:CC:00:00:01", name="DXB-24100_C0FE")
    variant = DpwrcoreDriver.variant_for(Advertisement(local_name=device.name))
    device.on_connect()
    write = DpwrcoreDriver.write_uuid or ""
    locked = [p for r in DpwrcoreDriver().requests() for p in device.on_write(write, r)]
    with pytest.raises(FrameError, match="no complete frame"):
        decode("dpwrcore", locked)
    notes = [p for r in DpwrcoreDriver(variant).requests() for p in device.on_write(write, r)]
    assert decode("dpwrcore", notes)["current"] == -3.0


def test_bad_page_order_is_rejected() -> None:
    swapped = [CELL_PAGES[0], CELL_PAGES[2], CELL_PAGES[1]]
    with pytest.raises(FrameError, match="page 2 of 3 has header 0333"):
        decode("dpwrcore", [*STATUS_PAGES, *INFO_PAGES, *swapped])


def test_length_mismatch_is_rejected() -> None:
    pages = frame(0x60, STATUS_DATA)
    first = bytearray(pages[0])
    first[7] = 0x0B  # 11 data bytes announced, 10 sent
    with pytest.raises(FrameError, match="does not match its length byte"):
        decode("dpwrcore", [bytes(first), *pages[1:]])


def test_missing_end_is_rejected() -> None:
    pages = frame(0x61, INFO_DATA)
    last = bytearray(pages[-1])
    last[2 + last[0] - 1] = 0x00
    with pytest.raises(FrameError, match="0x61 frame does not end with 0D 0A"):
        decode("dpwrcore", [*frame(0x60, STATUS_DATA), *pages[:-1], bytes(last)])


def test_bad_checksum_is_rejected() -> None:
    with pytest.raises(FrameError, match="bad checksum in 0x62 frame"):
        decode("dpwrcore", [*frame(0x60, STATUS_DATA), *frame(0x62, CELLS_DATA, fix=1)])


def test_unknown_command_is_rejected() -> None:
    with pytest.raises(FrameError, match="unexpected response to command 0x63"):
        decode("dpwrcore", [*poll(), *frame(0x63, b"\x00")])


def test_short_frames_are_rejected() -> None:
    with pytest.raises(FrameError, match="status frame of 19 bytes"):
        decode("dpwrcore", poll(status=STATUS_DATA[:9]))
    with pytest.raises(FrameError, match="info frame of 17 bytes"):
        decode("dpwrcore", poll(info=INFO_DATA[:7]))


def test_too_many_cells_are_rejected() -> None:
    with pytest.raises(FrameError, match="cell_count 15 does not fit"):
        decode("dpwrcore", poll(cells=b"\x0f" + CELLS_DATA[1:]))
    with pytest.raises(FrameError, match="cell_count 33 does not fit"):
        decode("dpwrcore", poll(cells=b"\x21" + b"\x0e\xd7" * 33))


def test_state_of_charge_above_100_is_rejected() -> None:
    with pytest.raises(FrameError, match="state of charge 101"):
        decode("dpwrcore", poll(status=STATUS_DATA[:8] + b"\x65\x00"))


def test_cells_are_required() -> None:
    with pytest.raises(FrameError, match="lacks cell_voltages"):
        decode("dpwrcore", [*frame(0x60, STATUS_DATA), *frame(0x61, INFO_DATA)])


@given(code=st.integers(0, 255))
def test_problem_byte_is_exact(code: int) -> None:
    sample = decode("dpwrcore", poll(status=STATUS_DATA[:9] + bytes((code,))))
    assert sample["problem_code"] == code
    assert isinstance(sample["problem_code"], int)


def test_command_checksum() -> None:
    page = command(0x61)
    payload = page[2 : 2 + page[0] - 2]
    assert sum(payload[1:-4]) == int.from_bytes(payload[-4:-2], "big")


def test_matchers() -> None:
    fff0 = "0000fff0-0000-1000-8000-00805f9b34fb"
    assert DpwrcoreDriver.matches(Advertisement(local_name="TBA-13500277", service_uuids=(fff0,)))
    assert DpwrcoreDriver.matches(Advertisement(local_name="DXB-1234", service_uuids=(fff0,)))
    assert not DpwrcoreDriver.matches(Advertisement(local_name="DXB-1234"))
