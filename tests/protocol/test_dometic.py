"""Dometic / Büttner driver: handshake, frame assembly, batteries as packs, every error branch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from blesim import make_device
from custom_components.ble_battery_solar.protocol import Advertisement, FrameError, decode
from custom_components.ble_battery_solar.protocol.devices.dometic import DometicDriver

from .vectors import ADVERTISEMENTS, VECTORS, chunked

TWO = [bytes.fromhex(f) for f in next(v for v in VECTORS if v["id"] == "dometic_1")["frames"]]
ONE = [bytes.fromhex(f) for f in next(v for v in VECTORS if v["id"] == "dometic_2")["frames"]]


def replaced(frames: list[bytes], index: int, data: bytes) -> list[bytes]:
    return [f[:4] + data if f.startswith(b"\x23\x85\x00") and f[3] == index else f for f in frames]


def test_handshake_requests_and_answers() -> None:
    driver = DometicDriver()
    aen, net, rdn = driver.requests()
    assert (aen, net, rdn) == (b"APP+AEN", b"APP+NET", b"APP+RDN=1")
    assert not driver.response_complete(aen, [b"MST+A"])
    assert driver.response_complete(aen, [b"MST+A", b"EN"])
    assert driver.response_complete(net, [TWO[1]])
    assert not driver.response_complete(rdn, [TWO[3]])
    assert not driver.response_complete(rdn, TWO[3:8])  # battery 0x00 incomplete
    assert driver.response_complete(rdn, TWO[3:])
    assert driver.response_complete(None, ONE[3:])


def test_frames_at_any_chunk_size_and_resync() -> None:
    for size in (1, 5, 20):
        assert decode("dometic", chunked(TWO, size)) == decode("dometic", TWO)
    assert decode("dometic", [b"\x01\x23\x11\x9b\x00" + b"".join(ONE)]) == decode("dometic", ONE)
    driver = DometicDriver()
    assert driver.frames_in(b"\x23") == ([], b"\x23")
    assert driver.frames_in(b"MST") == ([], b"MST")
    assert driver.frames_in(b"MST+NET=\x85") == ([], b"MST+NET=\x85")
    assert driver.frames_in(b"\x23\x85\x00\x02") == ([], b"\x23\x85\x00\x02")


def test_two_batteries_are_packs() -> None:
    sample = decode("dometic", TWO)
    first, second = sample["packs"]
    assert (first["pack_address"], second["pack_address"]) == (0, 15)
    assert (first["voltage"], first["current"], first["cycle_capacity"]) == (13.29, -2.74, 1829.0)
    assert (second["voltage"], second["current"], second["cycle_capacity"]) == (13.28, -2.9, 1813.0)
    assert second["cell_voltages"] == [3.31, 3.311, 3.311, 3.307]
    assert sample["current"] == -5.64
    assert "packs" not in decode("dometic", ONE)


def test_the_newest_frame_of_an_index_counts_and_design_capacity_is_optional() -> None:
    newer = b"\x23\x85\x00\x0b\x50\xff\xff\xff"
    assert decode("dometic", [*ONE, newer])["battery_level"] == 80
    without = [f for f in ONE if not (f.startswith(b"\x23\x85") and f[3] == 0x07)]
    sample = decode("dometic", without)
    assert "design_capacity" not in sample
    assert "cycle_charge" not in sample


@given(raw=st.integers(0, 0xFFFF))
def test_current_word(raw: int) -> None:
    frames = replaced(ONE, 0x02, b"\x05\x31" + raw.to_bytes(2, "big"))
    expected = raw if raw <= 0x7FFF else 0x7FFF - raw
    assert decode("dometic", frames)["current"] == round(expected / 100, 2)


def test_errors() -> None:
    with pytest.raises(FrameError, match="no battery data frame"):
        decode("dometic", ONE[:3])
    with pytest.raises(FrameError, match=r"battery 0x00 lacks the frames 0x0C, 0x0E"):
        decode("dometic", [f for f in ONE if not (f.startswith(b"\x23\x85") and f[3] in (0x0C, 0x0E))])
    with pytest.raises(FrameError, match="cell_voltages"):
        decode("dometic", replaced(ONE, 0x56, b"\xff\xff\x0c\xf4"))
    with pytest.raises(FrameError, match="truncated"):
        decode("dometic", [*ONE, b"\x23\x85\x00"])


def test_matchers_and_advertisements() -> None:
    for adv in (a for a in ADVERTISEMENTS if a["family"] == "dometic"):
        assert DometicDriver.matches(Advertisement.from_any(adv))
    assert not DometicDriver.matches(Advertisement(manufacturer_data={2117: b"\x14\x86"}))


def test_simulated_device_answers_the_handshake() -> None:
    device = make_device("dometic", "48:02:AF:00:00:01")
    frames = [f for r in DometicDriver().requests()
              for f in device.respond(DometicDriver.write_uuid or "", r)]
    sample = decode("dometic", chunked(frames, device.mtu - 3))
    assert sample["voltage"] == pytest.approx(device.model.voltage, abs=0.01)
    assert sample["current"] == pytest.approx(device.model.current, abs=0.01)
