"""JK / Jikong smart BMS, BLE protocol "JK02" (service 0xFFE0, characteristic 0xFFE1).

Requests are 20 bytes ``AA 55 90 EB <cmd> <len> <13 value bytes> <sum8>``:
0x97 asks for device information, 0x96 for cell information (after which the
BMS keeps streaming cell-info frames). Responses are 300 bytes
``55 AA EB 90 <type> <counter> <data...> <sum8 of bytes 0..298>`` with type
0x03 device information, 0x01 settings and 0x02 cell information; they arrive
split over several notifications. The BMS also sends 20-byte messages in the
command direction (``AA 55 90 EB C8 01 01 ... <sum8>``, the "ready" ACK after
0x97, sometimes glued to a 300-byte frame) and its BLE module interjects
``AT\\r\\n``; both are noise between frames.

The cell-info layout depends on the firmware: up to SW 10.x ("JK02_24S") room
for 24 cells and the measurement block 32 bytes earlier than from SW 11
("JK02_32S", room for 32 cells). The SW version comes from the device-info
frame; without it the 32S layout is assumed (or the layout named by `variant`).
All values are little-endian; current > 0 means charging.

Older boards (JK-B2A16S firmware 3.x, "JK04") answer the same requests with
cell-info frames of the same framing that carry 24 cell voltages as float32
(0.0 = no cell), cell resistances, the cell spread (float32 at 206) and the
balancer state (220), but no pack voltage or current: the voltage is the sum
of the cells. They are recognised by their float cell values.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from ..alarms import AlarmBit, fault, protection
from ..base import (
    CHARGE,
    DISCHARGE,
    NEED_MORE,
    Driver,
    Field,
    Matcher,
    read_fields,
    read_int,
    sum8,
    uuid16,
)
from ..models import FrameError, Sample

RSP_HEAD = b"\x55\xaa\xeb\x90"
CMD_HEAD = b"\xaa\x55\x90\xeb"
AT_NOISE = b"AT\r\n"
FRAME_LEN = 300
CMD_LEN = 20

CMD_CELL_INFO, CMD_DEVICE_INFO = 0x96, 0x97
TYPE_SETTINGS, TYPE_CELL_INFO, TYPE_DEVICE_INFO = 0x01, 0x02, 0x03
ANSWER_TYPE = {CMD_CELL_INFO: TYPE_CELL_INFO, CMD_DEVICE_INFO: TYPE_DEVICE_INFO}

VARIANT_24S, VARIANT_32S = "JK02_24S", "JK02_32S"
FIRST_32S_FIRMWARE = 11  # SW major version from which the 32S layout is used
SIX_SENSOR_FIRMWARE = 14  # SW major version from which six temperature sensors are reported
CELLS_OFFSET = 6
TEMP_ABSENT = -2000  # raw value of a sensor slot without a sensor
HEATER_24S = 183  # heating status (0 off, 1 on); 32 bytes later in the 32S layout
JK04_CELLS, JK04_MAX_CELLS = 6, 24  # float32 cell voltages
JK04_DELTA, JK04_BALANCING = 206, 220
VARIANT_JK04 = "JK04"
VOLTAGE_TOLERANCE = 0.1  # pack voltage vs. sum of cell voltages (relative, plus 0.5 V)

# Cell-info fields in the 32S layout; the 24S layout has them 32 bytes earlier.
FIELDS_32S = (
    Field("voltage", 150, 4, 0.001, order="little"),
    Field("current", 158, 4, 0.001, signed=True, order="little"),
    Field("balancer", 172, 1, kind="bool"),
    Field("battery_level", 173, 1, kind="int"),
    Field("cycle_charge", 174, 4, 0.001, order="little"),
    Field("design_capacity", 178, 4, 0.001, order="little"),
    Field("cycles", 182, 4, kind="int", order="little"),
    Field("battery_health", 190, 1, kind="int"),
    Field("chrg_mosfet", 198, 1, kind="bool"),
    Field("dischrg_mosfet", 199, 1, kind="bool"),
    Field("temp_mask", 214, 2, kind="int", order="little"),
)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the cell-info values of one firmware generation are."""

    name: str
    max_cells: int
    cell_mask_offset: int
    fields: tuple[Field, ...]


LAYOUT_32S = Layout(
    VARIANT_32S,
    32,
    70,
    (*FIELDS_32S, Field("problem_code", 166, 2, kind="int", order="little")),
)
LAYOUT_24S = Layout(
    VARIANT_24S,
    24,
    54,
    (
        *(replace(f, offset=f.offset - 32) for f in FIELDS_32S),
        # the alarm bits are the upper half of the 32-bit word at 134
        Field("problem_code", 136, 2, kind="int", order="little"),
    ),
)

# Temperature sensor slots (frame offsets), in the order of the sensor-presence bits.
TEMPS_24S = (130, 132, 134)  # T1, T2, MOSFET
TEMPS_32S = (144, 162, 164, 254)  # MOSFET, T1, T2, T3
TEMPS_32S_SIX = (*TEMPS_32S, 256, 258)  # ... T4, T5

DEVICE_INFO_TEXT = (
    ("model", 6, 16),
    ("hw_version", 22, 8),
    ("sw_version", 30, 8),
    # zero-terminated; JK02 firmware writes 10-15 characters here
    ("serial_number", 86, 16),
)


def command(cmd: int, value: bytes = b"") -> bytes:
    """A 20-byte JK02 command frame."""
    body = CMD_HEAD + bytes((cmd, len(value))) + value.ljust(13, b"\x00")
    return body + bytes((sum8(body),))


def _is_jk04(frame: bytes) -> bool:
    """Whether a cell-info frame holds JK04 float32 cells: the first cell a float of 1-5 V.

    In JK02 frames these bytes are two 16-bit cell voltages in mV; read as a float
    they are either tiny or huge, never a cell voltage.
    """
    first: float = struct.unpack_from("<f", frame, JK04_CELLS)[0]
    return 1.0 <= first <= 5.0


def _text(raw: bytes) -> str:
    """Zero-terminated ASCII text."""
    return raw.split(b"\x00", 1)[0].decode("ascii", "replace").strip()


# Alarm word (cell info, 32S layout byte 166, 24S layout byte 136; little-endian), as
# decoded by the ESPHome jk_bms_ble component; bit 3 is unused and bit 4 ("battery
# fully charged") is a state, not an alarm.
ALARM_BITS: dict[int, AlarmBit] = {
    0: fault("wiring_fault"),  # balance lead resistance too high
    1: protection("mosfet_overtemperature"),
    2: fault("configuration_error"),  # cell count differs from the settings
    5: protection("pack_overvoltage"),
    6: protection("charge_overcurrent"),
    7: protection("short_circuit"),  # while charging
    8: protection("charge_overtemperature"),
    9: protection("charge_undertemperature"),
    10: fault("hardware_fault"),  # coprocessor communication error
    11: protection("cell_undervoltage"),
    12: protection("pack_undervoltage"),
    13: protection("discharge_overcurrent"),
    14: protection("short_circuit"),  # while discharging
    15: protection("discharge_overtemperature"),
}


class JkDriver(Driver):
    """JK BMS (JK02 protocol, 24S- and 32S-era firmware)."""

    family = "jk"
    pushes_data = True
    title = "JK / Jikong BMS"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE1)
    # 0x0B65: JK's BLE module (payload 88 A0 + MAC); 0x4B4A ("JK"): newer JK-BD boards.
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"service_uuid": uuid16(0xFFE0), "manufacturer_id": 0x0B65, "connectable": True},
        {"service_uuid": uuid16(0xFFE0), "manufacturer_id": 0x4B4A, "connectable": True},
    )
    # JK02 cell info always carries the current; JK04 frames have none
    required_keys = ("voltage", "cell_voltages")
    alarm_bits: ClassVar[Mapping[int, AlarmBit]] = ALARM_BITS

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        # SW major version, learned from the device-info frame (kept for the connection)
        self.sw_major: int | None = None

    # requests and framing

    def requests(self) -> list[bytes]:
        if self.sw_major is None:
            return [command(CMD_DEVICE_INFO), command(CMD_CELL_INFO)]
        return [command(CMD_CELL_INFO)]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        head = buffer[pos : pos + 4]
        for header, length in ((RSP_HEAD, FRAME_LEN), (CMD_HEAD, CMD_LEN), (AT_NOISE, len(AT_NOISE))):
            if header.startswith(head):
                return length if len(head) == len(header) else NEED_MORE
        return None

    def frame_defect(self, frame: bytes) -> str | None:
        if frame.startswith(AT_NOISE) or sum8(frame[:-1]) == frame[-1]:
            return None
        if frame.startswith(CMD_HEAD):
            return f"bad checksum in 20-byte message 0x{frame[4]:02X}"
        return f"bad checksum in frame type 0x{frame[4]:02X}"

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames, rest = super().frames_in(buffer)
        # the "ready" ACK, command echoes and AT noise carry no data
        return [f for f in frames if f.startswith(RSP_HEAD)], rest

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is None:
            return frame[4] == TYPE_CELL_INFO
        return ANSWER_TYPE.get(request[4]) == frame[4]

    # decoding

    def layout(self) -> Layout:
        """Cell-info layout for the firmware learned so far (or the variant hint)."""
        if self.sw_major is not None:
            return LAYOUT_24S if self.sw_major < FIRST_32S_FIRMWARE else LAYOUT_32S
        if self.variant is not None and "24S" in self.variant.upper():
            return LAYOUT_24S
        return LAYOUT_32S

    def _layouts_to_try(self) -> tuple[Layout, ...]:
        """The known layout, or (firmware unknown) the likely one first and then the other."""
        first = self.layout()
        if self.sw_major is not None:
            return (first,)
        return (first, LAYOUT_24S if first is LAYOUT_32S else LAYOUT_32S)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        for frame in frames:
            if frame[4] not in (TYPE_SETTINGS, TYPE_CELL_INFO, TYPE_DEVICE_INFO):
                raise self.error(f"unknown frame type 0x{frame[4]:02X}")
        out: dict[str, Any] = {}
        # device information first: it decides the layout of the cell-info frames
        for frame in frames:
            if frame[4] == TYPE_DEVICE_INFO:
                out.update(self._device_info(frame))
        for frame in frames:
            if frame[4] == TYPE_CELL_INFO:
                out.update(self._cell_info_any_layout(frame))
        # settings frames (type 0x01) carry no measurement; they are accepted and skipped
        return out  # type: ignore[return-value]

    def _device_info(self, frame: bytes) -> dict[str, Any]:
        info = {key: _text(frame[start : start + size]) for key, start, size in DEVICE_INFO_TEXT}
        version = re.match(r"\d+", info["sw_version"])
        if version is None:
            raise self.error(f"cannot read a firmware version from {info['sw_version']!r}")
        self.sw_major = int(version.group())
        return info

    def _cell_info_any_layout(self, frame: bytes) -> dict[str, Any]:
        if _is_jk04(frame) or (self.variant or "").upper().startswith(VARIANT_JK04):
            return self._jk04_cell_info(frame)
        errors: list[FrameError] = []
        for layout in self._layouts_to_try():
            try:
                return self._cell_info(frame, layout)
            except FrameError as err:
                errors.append(err)
        raise errors[0]

    def _cell_info(self, frame: bytes, layout: Layout) -> dict[str, Any]:
        values = read_fields(self.family, frame, layout.fields)
        values["heater"] = bool(frame[HEATER_24S if layout is LAYOUT_24S else HEATER_24S + 32])
        mask = read_int(frame, layout.cell_mask_offset, 4, order="little")
        if mask >> layout.max_cells:
            raise self.error(f"cell mask 0x{mask:08X} names cells beyond {layout.max_cells}")
        values["cell_voltages"] = [
            round(read_int(frame, CELLS_OFFSET + 2 * i, 2, order="little") * 0.001, 3)
            for i in range(layout.max_cells)
            if mask >> i & 1
        ]
        if not values["cell_voltages"]:
            raise self.error("cell-info frame reports no cells")
        # The pack voltage is the sum of the cells; a mismatch means a wrong layout.
        total = sum(values["cell_voltages"])
        if abs(values["voltage"] - total) > VOLTAGE_TOLERANCE * total + 0.5:
            raise self.error(
                f"pack voltage {values['voltage']} V does not match the {total:.3f} V sum of "
                f"cells in the {layout.name} layout"
            )
        for key in ("battery_level", "battery_health"):
            if values[key] > 100:
                raise self.error(f"{key} {values[key]} % is outside 0-100 %")
        temp_mask = values.pop("temp_mask")
        values["temperatures"] = [
            raw / 10
            for bit, pos in enumerate(self._temperature_slots(layout))
            if temp_mask >> bit & 1
            and (raw := read_int(frame, pos, 2, signed=True, order="little")) != TEMP_ABSENT
        ]
        return values

    def _jk04_cell_info(self, frame: bytes) -> dict[str, Any]:
        cells = [round(struct.unpack_from("<f", frame, JK04_CELLS + 4 * i)[0], 3)
                 for i in range(JK04_MAX_CELLS)]
        present = [c for c in cells if c]  # 0.0: no cell in this slot
        if not present:
            raise self.error("JK04 cell-info frame reports no cells")
        return {
            "cell_voltages": present,
            "voltage": round(sum(present), 3),
            "delta_voltage": round(struct.unpack_from("<f", frame, JK04_DELTA)[0], 3),
            "balancer": frame[JK04_BALANCING] != 0,
        }

    def _temperature_slots(self, layout: Layout) -> tuple[int, ...]:
        if layout is LAYOUT_24S:
            return TEMPS_24S
        if self.sw_major is not None and self.sw_major >= SIX_SENSOR_FIRMWARE:
            return TEMPS_32S_SIX
        return TEMPS_32S

    # --- opt-in control ------------------------------------------------------------
    # JK02 switches are 20-byte writes of a holding register with a 4-byte value
    # (``AA 55 90 EB <register> 04 <value LE> ... <sum8>``), the same on 24S- and
    # 32S-era firmware: 0x1D charging, 0x1E discharging. The BMS sends no
    # acknowledgement; the MOSFET states in the next cell-info frame tell. JK04 boards
    # have no documented charge or discharge switch.

    def control_switches(self) -> tuple[str, ...]:
        if (self.variant or "").upper().startswith(VARIANT_JK04):
            return ()
        return (CHARGE, DISCHARGE)

    def control_requests(self, switch: str, on: bool, state: Sample | None = None) -> list[bytes]:
        register = CONTROL_REGISTERS.get(switch)
        if register is None or switch not in self.control_switches():
            return []
        return [command(register, (1 if on else 0).to_bytes(4, "little"))]


CONTROL_REGISTERS = {CHARGE: 0x1D, DISCHARGE: 0x1E}
