"""ECO-WORTHY driver: unlock requests, both frame prefixes, resync and every error branch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.ecoworthy import UNLOCK, EcoWorthyDriver

VECTORS = {
    v["id"]: [bytes.fromhex(f) for f in v["frames"]]
    for v in json.loads(
        (Path(__file__).parents[1] / "fixtures" / "vectors" / "ecoworthy.json").read_text()
    )
}
STATUS_V1, CELLS_V1 = VECTORS["ecoworthy_1"]
STATUS_V2, CELLS_V2 = VECTORS["ecoworthy_2"]


def v1(kind: int, data: bytes) -> bytes:
    """A protocol-1 frame with a correct CRC."""
    body = bytes((kind,)) + STATUS_V1[1:12] + bytes((0x03, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def status(**changes: int) -> bytes:
    data = bytearray(STATUS_V1[14:-2])
    for offset, value in changes.items():
        pos = int(offset.removeprefix("at"))
        data[pos : pos + 2] = value.to_bytes(2, "big")
    return v1(0xA1, bytes(data))


def cells(data: bytes | None = None, **changes: int) -> bytes:
    body = bytearray(CELLS_V1[14:-2] if data is None else data)
    for offset, value in changes.items():
        pos = int(offset.removeprefix("at"))
        body[pos : pos + 2] = value.to_bytes(2, "big")
    return v1(0xA2, bytes(body))


def test_requests_are_the_unlock_commands() -> None:
    assert EcoWorthyDriver().requests() == list(UNLOCK)
    for command in UNLOCK:
        assert crc16_modbus(command[:-2]) == int.from_bytes(command[-2:], "little")


def test_first_command_is_answered_by_any_frame_the_last_by_both() -> None:
    driver = EcoWorthyDriver()
    first, last = driver.requests()
    assert not driver.response_complete(first, [STATUS_V1[:20]])
    assert driver.response_complete(first, [STATUS_V1])
    assert not driver.response_complete(last, [STATUS_V1])
    assert not driver.response_complete(last, [STATUS_V1, CELLS_V1[:40]])
    assert driver.response_complete(last, [CELLS_V2, STATUS_V2])


def test_mtu_chunks_decode_like_whole_frames() -> None:
    stream = STATUS_V2 + CELLS_V2
    chunks = [stream[i : i + 20] for i in range(0, len(stream), 20)]
    assert decode("ecoworthy", chunks) == decode("ecoworthy", [STATUS_V2, CELLS_V2])


def test_stale_bytes_before_a_frame_are_skipped() -> None:
    sample = decode("ecoworthy", [b"\x00\xa1\x03\x44" + STATUS_V1[30:50], STATUS_V1, CELLS_V1])
    assert sample["voltage"] == 13.29
    assert decode("ecoworthy", [CELLS_V2[-30:] + STATUS_V2, CELLS_V2])["current"] == -6.0


def test_only_garbage_is_no_frame() -> None:
    with pytest.raises(FrameError, match="ecoworthy: truncated frame, 13 trailing bytes"):
        decode("ecoworthy", [bytes(40)])


def test_short_tail_waits_for_more() -> None:
    assert EcoWorthyDriver().frames_in(STATUS_V1[:13]) == ([], STATUS_V1[:13])


def test_later_frames_of_a_stream_win() -> None:
    newer = status(at6=1400)
    assert decode("ecoworthy", [STATUS_V1, CELLS_V1, newer])["voltage"] == 14.0


def test_bad_crc_is_rejected() -> None:
    broken = STATUS_V2[:-1] + bytes((STATUS_V2[-1] ^ 1,))
    with pytest.raises(FrameError, match="ecoworthy: bad CRC in the 0xA1 frame"):
        decode("ecoworthy", [broken, CELLS_V2])


@pytest.mark.parametrize(("field", "offset"), [("battery_level", 2), ("battery_health", 4)])
def test_percentages_above_100_are_rejected(field: str, offset: int) -> None:
    with pytest.raises(FrameError, match=f"{field} 101 % is above 100"):
        decode("ecoworthy", [status(**{f"at{offset}": 101}), CELLS_V1])


def test_short_status_is_rejected() -> None:
    with pytest.raises(FrameError, match=r"field problem_code .* lies beyond"):
        decode("ecoworthy", [v1(0xA1, STATUS_V1[14:40]), CELLS_V1])


def test_short_cell_frame_is_rejected() -> None:
    with pytest.raises(FrameError, match="cell frame of 20 data bytes"):
        decode("ecoworthy", [STATUS_V1, cells(CELLS_V1[14:34])])


def test_too_many_cells_are_rejected() -> None:
    with pytest.raises(FrameError, match="cell_count 33 exceeds"):
        decode("ecoworthy", [STATUS_V1, cells(at0=33)])


@pytest.mark.parametrize("probes", [10, 9])
def test_probe_count_beyond_the_frame_is_rejected(probes: int) -> None:
    data = CELLS_V1[14:-2] if probes == 10 else CELLS_V1[14:-4]  # 9 probes need 86 bytes
    with pytest.raises(FrameError, match=f"probe count {probes} does not fit"):
        decode("ecoworthy", [STATUS_V1, cells(data, at66=probes)])


def test_cells_frame_alone_lacks_the_status() -> None:
    with pytest.raises(FrameError, match="lacks voltage, current"):
        decode("ecoworthy", [CELLS_V1])


def test_status_alone_lacks_the_cells() -> None:
    with pytest.raises(FrameError, match="lacks cell_voltages"):
        decode("ecoworthy", [STATUS_V1])


@given(word=st.integers(0, 0xFFFF), bits=st.sampled_from([0x8001, 0x0000, 0xFFFF]))
def test_problem_word_is_exact(word: int, bits: int) -> None:
    value = word | bits
    data = bytearray(STATUS_V1[14:-2])
    data[37:39] = value.to_bytes(2, "big")
    code = decode("ecoworthy", [v1(0xA1, bytes(data)), CELLS_V1])["problem_code"]
    assert code == value
    assert isinstance(code, int)


def test_matchers() -> None:
    fff0 = "0000fff0-0000-1000-8000-00805f9b34fb"
    assert EcoWorthyDriver.matches(Advertisement(local_name="ECO-WORTHY 02_50DB"))
    assert EcoWorthyDriver.matches(Advertisement(local_name="ECO-WORTHY 0B_5AD4", service_uuids=(fff0,)))
    assert EcoWorthyDriver.matches(Advertisement(local_name="DCHOUSE 01_4F9F", service_uuids=(fff0,)))
    assert not EcoWorthyDriver.matches(Advertisement(local_name="DCHOUSE 01_4F9F"))
    assert not EcoWorthyDriver.matches(Advertisement(local_name="ECOE934"))


def test_simulated_protocol_2_device_decodes() -> None:
    from blesim import make_device

    device = make_device("ecoworthy", "E2:E7:79:00:00:00", variant="protocol 2")
    frames = device.on_write(EcoWorthyDriver.write_uuid or "", UNLOCK[0])
    assert all(f.startswith(bytes.fromhex("e2e779000000")) for f in frames)
    sample = decode("ecoworthy", frames)
    assert sample["current"] == pytest.approx(device.model.current, abs=0.1)
