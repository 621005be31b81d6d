"""EPEver Tracer driver: poll, 32-bit words, status words, errors and matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custom_components.ble_battery_solar.protocol import (
    Advertisement,
    FrameError,
    decode,
    drivers_matching,
)
from custom_components.ble_battery_solar.protocol.base import crc16_modbus
from custom_components.ble_battery_solar.protocol.devices.epever import (
    EpeverDriver,
    charging_faults,
)

from .vectors import VECTORS, chunked

BY_ID = {v["id"]: v for v in VECTORS}
CPN = [bytes.fromhex(f) for f in BY_ID["epever_1"]["frames"]]
NIGHT = [bytes.fromhex(f) for f in BY_ID["epever_2"]["frames"]]
PV, LOAD, SOC, STATUS, STATISTICS = CPN


def response(words: list[int], slave: int = 0x01) -> bytes:
    data = b"".join(w.to_bytes(2, "big") for w in words)
    body = bytes((slave, 0x04, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def test_matches_the_built_in_module_by_name() -> None:
    assert EpeverDriver.kind == "controller"
    hn = Advertisement(local_name="HN_3C2A11")
    assert [d.family for d in drivers_matching(hn)] == ["epever"]
    assert not EpeverDriver.matches(Advertisement(local_name="BT-TH-3C2A11"))


def test_requests_are_input_register_reads_at_slave_1() -> None:
    requests = EpeverDriver().requests()
    assert [r.hex() for r in requests[:5]] == BY_ID["epever_1"]["requests"]
    assert all(r[:2] == b"\x01\x04" for r in requests)
    assert requests[5].hex() == BY_ID["epever_2"]["requests"][5]


def test_decode_and_chunks() -> None:
    sample = decode("epever", CPN)
    assert sample["pv_power"] == pytest.approx(59.91)
    assert sample["energy_generated_total"] == 4840
    assert decode("epever", chunked(CPN, 20)) == sample
    assert decode("epever", [b"".join(CPN)]) == sample


def test_net_current_is_signed_and_replaces_the_charging_current() -> None:
    sample = decode("epever", NIGHT)
    assert sample["current"] == pytest.approx(-1.52)
    assert sample["battery_temperature"] == pytest.approx(-2.0)
    assert sample["load_on"] is True
    assert sample["charging_state"] == "deactivated"


def test_optional_blocks_may_be_missing_or_refused() -> None:
    exception = bytes((0x01, 0x84, 0x02))
    exception += crc16_modbus(exception).to_bytes(2, "little")
    sample = decode("epever", [PV, STATUS])
    assert "load_power" not in sample
    assert "battery_level" not in sample
    assert "energy_generated_today" not in sample
    assert decode("epever", [PV, exception, SOC, STATUS])["battery_level"] == 85


def test_other_slave_ids() -> None:
    moved = [response([int.from_bytes(f[3 + i : 5 + i], "big") for i in range(0, f[2], 2)], 0x0A)
             for f in CPN]
    assert decode("epever", moved)["voltage"] == pytest.approx(26.63)


def test_resynchronises_after_stale_bytes() -> None:
    assert decode("epever", [STATISTICS[-9:] + PV, STATUS])["pv_voltage"] == pytest.approx(28.87)


@pytest.mark.parametrize(("word", "state"), [(0x0000, "deactivated"), (0x0005, "floating"),
                                             (0x0009, "boost"), (0x000D, "equalizing")])
def test_charging_stages(word: int, state: str) -> None:
    assert decode("epever", [PV, response([0, word, 0])])["charging_state"] == state


def test_charging_faults_drop_states_but_keep_input_faults() -> None:
    assert charging_faults(0x400D) == 0  # no PV at night, running, equalising
    assert charging_faults(0x8000) == 0x8000  # input voltage too high
    assert charging_faults(0xC002) == 0xC002  # input voltage error, fault
    assert charging_faults(0x2010) == 0x2010  # MOSFET short, PV input short


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_status_words_decode_exactly(battery: int, charging: int, discharging: int) -> None:
    battery |= 0x8001
    discharging |= 0x8000
    sample = decode("epever", [PV, response([battery, charging, discharging])])
    load = discharging & ~0x0001
    if load & 0x3000 != 0x3000:  # any load level but overload is no fault
        load &= ~0x3000
    expected = battery | charging_faults(charging) << 16 | load << 32
    assert sample["problem_code"] == expected
    assert sample["problem_code"] >> 47 == 1
    assert sample["load_on"] is bool(discharging & 1)


def test_errors() -> None:
    with pytest.raises(FrameError, match=r"epever: response to the status request is missing"):
        decode("epever", [PV, LOAD])
    with pytest.raises(FrameError, match=r"epever: response to the PV and battery request"):
        decode("epever", [STATUS])
    with pytest.raises(FrameError, match=r"epever: controller_temperature"):
        decode("epever", [PV, response([0, 0, 0, 0, 0, 20000]), STATUS])
    with pytest.raises(FrameError, match=r"epever: bad CRC"):
        decode("epever", [PV[:-1] + bytes((PV[-1] ^ 0x40,)), STATUS])
    with pytest.raises(FrameError, match=r"epever: .*answers no outstanding"):
        decode("epever", [PV, STATUS, LOAD])
    with pytest.raises(FrameError, match=r"epever: (no complete frame|truncated frame|bad CRC)"):
        decode("epever", [PV[:10]])
    with pytest.raises(FrameError, match=r"epever: (no complete frame|truncated frame)"):
        decode("epever", [b"\x01\x03" + PV[2:]])  # holding-register answers are not this poll's
