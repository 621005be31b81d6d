"""ANT BMS (service 0xFFE0, characteristic 0xFFE1 for notify and write), two protocols.

Current boards ("ANT-BLE2x...", variant "7EA1"): request
``7E A1 <fn> <addr16 LE> <len> <CRC16/Modbus LE over [1:]> AA 55``; the status
request is fn 0x01, address 0, length 0xBE. Response
``7E A1 <fn|0x10> <addr16> <len> <data...> <CRC16/Modbus LE over [1:-4]> AA 55``,
len + 10 bytes. Little-endian status: sensor count at 8, cell count at 9, cells
mV from 34, then the sensor temperatures plus MOSFET and balancer temperature
(s16 °C), then voltage 10 mV, current 0.1 A (+ = charging), state of charge,
state of health, charge/discharge MOSFET status bytes, balancer bits, capacity
and remaining charge in µAh, total charged mAh and power in W.

Legacy boards ("ANT-BLE0x/1x...", variant "legacy"): request
``DB DB 00 00 00 00``, response 140 bytes ``AA 55 AA FF <data...> <sum16 BE>``
(sum of bytes 4..137), big-endian; current 0.1 A with + = discharging on the wire.
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace
from typing import Any, ClassVar, Literal

from ..base import (
    NEED_MORE,
    Driver,
    Field,
    Matcher,
    crc16_modbus,
    read_fields,
    read_int,
    sum16,
    uuid16,
    values_list,
)
from ..models import Advertisement, Sample

VARIANT_NEW, VARIANT_LEGACY = "7EA1", "legacy"

NEW_HEAD, NEW_TAIL = b"\x7e\xa1", b"\xaa\x55"
NEW_OVERHEAD = 10  # header, function, address, length, CRC, tail
FN_STATUS = 0x01
REPLY_FLAG = 0x10
NEW_TEMPS_AT, NEW_CELLS_AT, NEW_CELL_DATA = 8, 9, 34
NEW_MAX_CELLS, NEW_MAX_TEMPS = 32, 6

LEGACY_HEAD = b"\xaa\x55\xaa"
LEGACY_STATUS = 0xFF
LEGACY_LEN = 140
LEGACY_REQUEST = bytes.fromhex("dbdb00000000")
LEGACY_CELL_DATA, LEGACY_MAX_CELLS = 6, 32
LEGACY_TEMPS_AT, LEGACY_TEMPS = 91, 4

# Offsets count from the first byte after the cell and temperature blocks minus 38,
# i.e. they are frame offsets for a BMS without cells or sensors (as in the protocol docs).
NEW_FIELDS = (
    Field("voltage", 38, 2, 0.01, order="little"),
    Field("current", 40, 2, 0.1, signed=True, order="little"),
    Field("battery_level", 42, 2, kind="int", order="little"),
    Field("battery_health", 44, 2, kind="int", order="little"),
    Field("chrg_status", 46, 1, kind="int"),
    Field("dischrg_status", 47, 1, kind="int"),
    Field("balancer", 48, 1, kind="bool", mask=0x04),
    Field("design_capacity", 50, 4, 1e-6, order="little"),
    Field("cycle_charge", 54, 4, 1e-6, order="little"),
    Field("total_charge", 58, 4, 0.001, order="little"),
    Field("power", 62, 4, signed=True, order="little"),
)
LEGACY_FIELDS = (
    Field("voltage", 4, 2, 0.1),
    Field("current", 70, 4, -0.1, signed=True),
    Field("battery_level", 74, 1, kind="int"),
    Field("design_capacity", 75, 4, 1e-6),
    Field("cycle_charge", 79, 4, 1e-6),
    Field("total_charge", 83, 4, 0.001),
    Field("chrg_status", 103, 1, kind="int"),
    Field("dischrg_status", 104, 1, kind="int"),
    Field("balancer", 105, 1, kind="bool", mask=0x04),
    Field("cell_count", 123, 1, kind="int"),
)

MOSFET_ON = 0x01
# MOSFET status codes that are not faults (on, battery full / empty, idle states);
# any other code of the first status byte is reported in bits 8-11 of problem_code,
# of the second one in bits 0-3.
BENIGN_HIGH = frozenset((0x0, 0x1, 0x4, 0xF))
BENIGN_LOW = frozenset((0x0, 0x1, 0x4, 0xB, 0xF))

NAME_PATTERN = "ANT?BLE*"
LEGACY_NAME_PATTERN = "ANT-BLE[01]*"


def status_request(fn: int = FN_STATUS, address: int = 0, length: int = 0xBE) -> bytes:
    """A 7E A1 request frame."""
    body = bytes((NEW_HEAD[1], fn)) + address.to_bytes(2, "little") + bytes((length,))
    return NEW_HEAD[:1] + body + crc16_modbus(body).to_bytes(2, "little") + NEW_TAIL


def _problem_code(high: int, low: int) -> int:
    return ((high & 0xF) << 8 if high not in BENIGN_HIGH else 0) | (
        low & 0xF if low & 0xF not in BENIGN_LOW else 0
    )


class AntDriver(Driver):
    """ANT BMS: 7E A1 protocol (current boards) or AA 55 AA FF (legacy boards)."""

    family = "ant"
    title = "ANT BMS"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE1)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"local_name": NAME_PATTERN, "service_uuid": uuid16(0xFFE0), "connectable": True},
    )
    required_keys = ("voltage", "current", "battery_level", "cell_voltages")

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str:
        """The protocol an advertised board speaks: legacy boards are named ANT-BLE0x/1x."""
        if adv.local_name and fnmatch.fnmatchcase(adv.local_name, LEGACY_NAME_PATTERN):
            return VARIANT_LEGACY
        return VARIANT_NEW

    @property
    def protocol(self) -> Literal["7EA1", "legacy"]:
        """Protocol used for requests (the variant; 7E A1 unless told otherwise)."""
        if self.variant is not None and self.variant.lower().startswith(VARIANT_LEGACY):
            return "legacy"
        return "7EA1"

    def requests(self) -> list[bytes]:
        return [LEGACY_REQUEST] if self.protocol == "legacy" else [status_request()]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        head = buffer[pos : pos + len(LEGACY_HEAD)]
        if LEGACY_HEAD.startswith(head):
            return LEGACY_LEN if len(head) == len(LEGACY_HEAD) else NEED_MORE
        if not NEW_HEAD.startswith(head[: len(NEW_HEAD)]):
            return None
        if len(buffer) - pos < 6:
            return NEED_MORE
        return buffer[pos + 5] + NEW_OVERHEAD

    def frame_defect(self, frame: bytes) -> str | None:
        if frame.startswith(LEGACY_HEAD):
            return None if sum16(frame[4:-2]) == read_int(frame, LEGACY_LEN - 2, 2) else "bad checksum"
        if not frame.endswith(NEW_TAIL):
            return f"frame does not end with AA 55 after {len(frame)} bytes"
        if crc16_modbus(frame[1:-4]) != read_int(frame, len(frame) - 4, 2, order="little"):
            return "bad CRC"
        return None

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is None:
            return True
        if request.startswith(NEW_HEAD):
            return frame.startswith(NEW_HEAD) and frame[2] == request[2] | REPLY_FLAG
        return frame.startswith(LEGACY_HEAD)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            out.update(self._new(frame) if frame.startswith(NEW_HEAD) else self._legacy(frame))
        return out  # type: ignore[return-value]

    def _new(self, frame: bytes) -> dict[str, Any]:
        if frame[2] != FN_STATUS | REPLY_FLAG:
            raise self.error(f"unexpected response function 0x{frame[2]:02X}")
        cells, temps = frame[NEW_CELLS_AT], frame[NEW_TEMPS_AT]
        if cells > NEW_MAX_CELLS or temps > NEW_MAX_TEMPS:
            raise self.error(f"impossible counts: {cells} cells, {temps} temperature sensors")
        shift = 2 * (cells + temps)
        fields = tuple(replace(f, offset=f.offset + shift) for f in NEW_FIELDS)
        values = read_fields(self.family, frame[:-4], fields)
        values["cell_voltages"] = values_list(
            frame, NEW_CELL_DATA, cells, 2, scale=0.001, order="little"
        )
        values["temperatures"] = values_list(
            frame, NEW_CELL_DATA + 2 * cells, temps + 2, 2, signed=True, order="little"
        )
        return self._common(values, high=values["dischrg_status"], low=values["chrg_status"])

    def _legacy(self, frame: bytes) -> dict[str, Any]:
        if frame[3] != LEGACY_STATUS:
            raise self.error(f"unknown legacy frame type 0x{frame[3]:02X}")
        values = read_fields(self.family, frame, LEGACY_FIELDS)
        cells = values.pop("cell_count")
        if cells > LEGACY_MAX_CELLS:
            raise self.error(f"impossible cell count {cells}")
        values["cell_voltages"] = values_list(frame, LEGACY_CELL_DATA, cells, 2, scale=0.001)
        values["temperatures"] = values_list(frame, LEGACY_TEMPS_AT, LEGACY_TEMPS, 2, signed=True)
        if not values["design_capacity"] and values["battery_level"]:
            # some boards report no capacity: estimate it from the charge and SOC (10 Ah steps)
            values["design_capacity"] = float(
                round(values["cycle_charge"] / values["battery_level"] * 100, -1)
            )
        return self._common(values, high=values["chrg_status"], low=values["dischrg_status"])

    def _common(self, values: dict[str, Any], *, high: int, low: int) -> dict[str, Any]:
        values["current"] += 0.0  # no "-0.0" from the legacy sign flip
        values["problem_code"] = _problem_code(high, low)
        values["chrg_mosfet"] = values.pop("chrg_status") == MOSFET_ON
        values["dischrg_mosfet"] = values.pop("dischrg_status") == MOSFET_ON
        total = values.pop("total_charge")
        if values["design_capacity"]:
            values["cycles"] = int(total // values["design_capacity"])
        else:
            del values["design_capacity"]
        return values
