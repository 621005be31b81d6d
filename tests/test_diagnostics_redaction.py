"""Diagnostics show raw frames without what identifies the device.

Every family's device-info frame (captured ones from tests/fixtures/vectors.json,
and frames built per protocol where no capture exists) goes through the
redaction whole, in 20-byte notifications and cut off mid-frame; none of its
serial numbers, names, passcodes or dates may remain, as ASCII or as hex, while
measurement frames stay byte for byte. Then the same through Home Assistant's
diagnostics for simulated JK devices replaying captured device-info frames, and
the error a successful read ended is no longer reported as current.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from blesim import SimDevice, VirtualProxy, make_device
from custom_components.ble_battery_solar.frame_redaction import (
    MIN_TEXT_RUN,
    redact_notifications,
)
from custom_components.ble_battery_solar.protocol import get_driver
from custom_components.ble_battery_solar.protocol.base import crc16_modbus

from .conftest import setup_entry
from .protocol.vectors import VECTORS, chunked

JK_HEAD = bytes.fromhex("55aaeb90")


def _texts(data: bytes, minimum: int = 3) -> list[bytes]:
    """Printable ASCII strings in data (what names, serials and passcodes look like)."""
    return re.findall(rb"[\x20-\x7e]{%d,}" % minimum, data)


def _modbus(slave: int, function: int, data: bytes) -> bytes:
    body = bytes((slave, function, len(data))) + data
    return body + crc16_modbus(body).to_bytes(2, "little")


def _jbd_device_name(text: bytes) -> bytes:
    body = bytes((0x05, 0x00, len(text))) + text
    checksum = (0x10000 - sum(body[1:])) & 0xFFFF
    return b"\xdd" + body + checksum.to_bytes(2, "big") + b"\x77"


def _ant_device_info(text: bytes) -> bytes:
    body = bytes((0xA1, 0x12, 0x00, 0x00, len(text))) + text
    return b"\x7e" + body + crc16_modbus(body).to_bytes(2, "little") + b"\xaa\x55"


def _jk_identity(frame: bytes) -> list[bytes]:
    """Name, passcodes, dates, serial and user data of a JK device-info frame."""
    return [t for t in re.split(rb"[^\x20-\x7e]+", frame[38:299]) if len(t) >= 3]


# (id, family, variant, frames, identifying strings)
DEVICE_INFO: list[tuple[str, str, str | None, list[bytes], list[bytes]]] = []
for _vector in VECTORS:
    _frames = [bytes.fromhex(f) for f in _vector["frames"]]
    if _vector["family"] == "jk":
        _info = [f for f in _frames if f.startswith(JK_HEAD + b"\x03")]
        if _info and "malformed" not in _vector:
            _secrets = [s for f in _info for s in _jk_identity(f)]
            DEVICE_INFO.append((_vector["id"], "jk", _vector.get("variant"), _frames, _secrets))
    if _vector["id"] == "seplos_2":  # 0x51 manufacturer information
        DEVICE_INFO.append(
            ("seplos_2", "seplos", "v2", _frames, [b"CAN:PNG_DYE_Luxp_TBB1101-SP76"])
        )
    if _vector["id"] == "renogy_controller_1":  # registers 0x000C.. model
        DEVICE_INFO.append(
            ("renogy_controller_1", "renogy_controller", None, _frames, [b"RNG-CTRL-RVR40"])
        )
DEVICE_INFO += [
    ("jbd_0x05", "jbd", None,
     [_jbd_device_name(b"SP04S034-L4S-200A-B-U-2023091500123")], [b"2023091500123"]),
    ("daly_info", "daly", None,
     [_modbus(0xD2, 0x03, b"DL-40D63C2712B0 SN22051312345678")], [b"40D63C2712B0", b"22051312345678"]),
    ("renogy_battery_serial", "renogy_battery", None,
     [_modbus(0x30, 0x03, b"2207000123AB4567"), _modbus(0x30, 0x03, b"RBT100LFP12SH-G1")],
     [b"2207000123AB4567"]),
    ("renogy_controller_serial", "renogy_controller", None,
     [_modbus(0xFF, 0x03, b"RNGRVR40-A21B0998877")], [b"A21B0998877"]),
    ("seplos_v3_info", "seplos", "v3",
     [_modbus(0x00, 0x04, b"SP16B-2023-06-18 SN:BP160231234567 Camper van".ljust(48, b"\0"))],
     [b"BP160231234567", b"Camper van", b"2023-06-18"]),
    ("eg4_info", "eg4", None,
     [_modbus(0x01, 0x03, b"EG4-LL-12V400 4801234567 2024-02-11")], [b"4801234567"]),
    ("ant_info", "ant", None,
     [_ant_device_info(b"16ZMUB00-211026A 17SN2110261234 owner-boat")],
     [b"17SN2110261234", b"owner-boat"]),
]


def _joined(redacted: list[str]) -> str:
    return "".join(redacted)


def _unmasked(redacted: list[str]) -> bytes:
    """The bytes diagnostics still show (masked ones as NUL)."""
    return bytes.fromhex(_joined(redacted).replace("**", "00"))


def _leaks(redacted: list[str], secrets: list[bytes]) -> list[bytes]:
    """Secrets whose bytes diagnostics still show (the hex of the shown bytes has them)."""
    shown = _unmasked(redacted)
    return [s for s in secrets if s in shown]


@pytest.mark.parametrize(
    ("family", "variant", "frames", "secrets"),
    [d[1:] for d in DEVICE_INFO],
    ids=[d[0] for d in DEVICE_INFO],
)
@pytest.mark.parametrize("split", ["whole", "20-byte notifications", "cut off"])
def test_device_info_frames_lose_their_identifying_bytes(
    family: str, variant: str | None, frames: list[bytes], secrets: list[bytes], split: str
) -> None:
    assert secrets
    driver = get_driver(family)(variant)
    notifications = {
        "whole": frames,
        "20-byte notifications": chunked(frames, 20),
        # a poll that ended inside the frame
        "cut off": chunked(frames, 20)[: max(1, len(chunked(frames, 20)) * 2 // 3)],
    }[split]
    redacted = redact_notifications(driver, notifications)
    assert _leaks(redacted, secrets) == []
    # same shape as the raw notifications: one entry each, two characters a byte
    assert [len(r) for r in redacted] == [2 * len(n) for n in notifications]
    # nothing printable long enough for a name or serial is left (JK keeps its model)
    if family != "jk":
        assert _texts(_unmasked(redacted), MIN_TEXT_RUN) == []


@pytest.mark.parametrize("vector_id", ["jk_1", "jk_2", "jk_3", "jk_4", "jk_6"])
def test_jk_device_info_keeps_model_and_firmware(vector_id: str) -> None:
    vector = next(v for v in VECTORS if v["id"] == vector_id)
    frames = [bytes.fromhex(f) for f in vector["frames"]]
    info = next(f for f in frames if f.startswith(JK_HEAD + b"\x03"))
    redacted = redact_notifications(get_driver("jk")(vector.get("variant")), frames)
    shown = redacted[frames.index(info)]
    assert shown[: 2 * 38] == info[:38].hex()  # header, model, hardware and software version
    assert set(shown[2 * 38 :]) == {"*"}  # everything after, the checksum included


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if "malformed" not in v], ids=lambda v: v["id"]
)
def test_measurement_frames_stay_as_they_are(vector: dict[str, Any]) -> None:
    """Frames a family defines as measurements are not touched, also when chunked."""
    family = vector["family"]
    driver = get_driver(family)(vector.get("variant"))
    frames = [bytes.fromhex(f) for f in vector["frames"]]
    kept_families = {"jbd", "jk", "seplos", "tianpower", "ant", "topband", "ble_battery_service"}
    for notifications in (frames, chunked(frames, 20)):
        redacted = _joined(redact_notifications(driver, notifications))
        for frame in frames:
            measurement = (
                (family == "jk" and frame[:5] == JK_HEAD + b"\x02")
                or (family == "jbd" and frame[:2] in (b"\xdd\x03", b"\xdd\x04"))
                or (family == "seplos" and frame[:1] == b"\x7e" and frame[3] in (0x61, 0x62))
                or (family in kept_families - {"jk", "jbd", "seplos"} and not _texts(frame, 40))
            )
            if measurement:
                assert frame.hex() in redacted, frame.hex()
            # whatever the family, binary data without text is never masked
            if not _texts(frame, MIN_TEXT_RUN) and family not in ("jk", "jbd", "seplos"):
                assert frame.hex() in redacted


def test_malformed_frames_keep_their_bytes_but_not_their_text() -> None:
    """A stream that does not split into frames stays readable; only text goes."""
    driver = get_driver("jbd")(None)
    garbage = bytes.fromhex("dd03ff") + b"Owner name 42" + bytes.fromhex("0102030477")
    (shown,) = redact_notifications(driver, [garbage])
    assert shown.startswith("dd03ff")
    assert shown.endswith("0102030477")
    assert b"Owner name 42".hex() not in shown


@pytest.mark.parametrize(
    ("family", "vector_id"), [("jk", "jk_4"), ("jk", "jk_1"), ("jk", "jk_6")]
)
async def test_diagnostics_through_home_assistant_carry_no_identity(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    proxy: VirtualProxy,
    family: str,
    vector_id: str,
) -> None:
    device = proxy.add(make_device(family, "C0:FF:EE:00:00:01", replay=vector_id))
    entry = await setup_entry(hass, device)
    assert entry.runtime_data.last_update_success
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    frames = diag["connection"]["last_frames"]
    assert frames, "the latest poll's notifications are in the diagnostics"
    secrets = next(d[4] for d in DEVICE_INFO if d[0] == vector_id)
    assert _leaks(frames, secrets) == []
    text = repr(diag)
    # long enough not to occur by chance among the other values
    assert [s for s in secrets if len(s) >= 5 and (s.hex() in text or s.decode() in text)] == []
    assert device.address not in text
    assert "**" in "".join(frames)


def test_every_captured_device_info_frame_is_covered() -> None:
    captured = {
        v["id"] for v in VECTORS
        if "malformed" not in v and any(bytes.fromhex(f).startswith(JK_HEAD + b"\x03") for f in v["frames"])
    }
    assert captured <= {d[0] for d in DEVICE_INFO}
    assert len({d[1] for d in DEVICE_INFO}) == 8  # families with a device-info frame


async def test_diagnostics_do_not_report_a_release_after_recovery(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, jbd: SimDevice
) -> None:
    entry = await setup_entry(hass, jbd)
    coordinator = entry.runtime_data
    await coordinator.async_release_for_app()
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diag["last_update_success"] is False
    assert "released for the vendor's phone app" in diag["last_exception"].lower()
    assert jbd.address not in diag["last_exception"]

    await coordinator.async_reconnect_now()
    assert coordinator.last_update_success
    assert coordinator.last_exception is not None  # HA's coordinator keeps it
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diag["last_update_success"] is True
    assert diag["last_exception"] is None
    assert diag["connection"]["last_error"] is None


async def test_diagnostics_keep_a_current_connection_error(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, jbd: SimDevice
) -> None:
    entry = await setup_entry(hass, jbd)
    jbd.faults.corrupt = True
    await entry.runtime_data.async_refresh()
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diag["last_update_success"] is False
    assert diag["last_exception"]
    assert diag["connection"]["last_error"].startswith("malformed_response")

    jbd.faults.corrupt = False
    await entry.runtime_data.async_refresh()
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diag["connection"]["last_error"] is None
    assert diag["connection"]["error_before_last_success"].startswith("malformed_response")
