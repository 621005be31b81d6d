"""TDT BMS, also sold as Wattcycle (service 0xFFF0, notify 0xFFF1, write 0xFFF2).

Request ``7E 00 01 03 00 <cmd> 00 00 <CRC16/Modbus BE> 0D``; response
``7E <version 00|04> <addr> <fn> <error> <cmd> <len16 BE> <data> <CRC16/Modbus BE> 0D``
(11 + len bytes; the CRC covers everything before it). 0x8C values: cell count,
cells in mV, probe count, probes in 0.1 K (ambient, MOSFET, then cells), then
current (bit 15 = discharging, bits 0-13 = 0.1 A), voltage 10 mV, remaining
0.1 Ah, full-charge capacity 0.1 Ah, cycles, rated capacity 0.1 Ah, SOC %.
0x8D status: cell count and one status byte per cell, probe count and one
byte per probe, then a 16-bit protection word 6 bytes later and the MOSFET
byte (bit 2 charge, bit 1 discharge). 0x92 (device info) holds firmware,
manufacturer and serial number as 20-byte ASCII fields; it is decoded when
present but not requested on every poll, since not every board answers it.

Sources: patman15/aiobmsble ``aiobmsble/bms/tdt_bms.py`` and its tests (4S/16S
captures, firmware versions 0.0 and 0.4). The source also writes "HiLink" to
characteristic 0xFFFA before polling and retries with command head 0x1E when
0x7E gets no answer; it reads data of boards that refuse the unlock all the
same. The rated capacity (word 5 after the current) is not decoded by the
source; it reads 100.0 Ah on the 4S 100 Ah capture and is reported as design capacity.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, crc16_modbus, read_fields, uuid16, values_list
from ..models import Sample

HEAD, TAIL = 0x7E, 0x0D
VERSIONS = frozenset({0x00, 0x04})
CMD_VALUES, CMD_STATUS, CMD_INFO = 0x8C, 0x8D, 0x92
FRAME_OVERHEAD = 11
DATA_AT = 8

VALUE_FIELDS = (
    Field("current_raw", 0, 2, kind="int"),
    Field("voltage", 2, 2, 0.01),
    Field("cycle_charge", 4, 2, 0.1),
    Field("full_capacity", 6, 2, 0.1),
    Field("cycles", 8, 2, kind="int"),
    Field("design_capacity", 10, 2, 0.1),
    Field("battery_level", 12, 2, kind="int"),
)


def request(cmd: int, head: int = HEAD) -> bytes:
    """Read request for a command (0x8C values, 0x8D status, 0x92 device info)."""
    body = bytes((head, 0x00, 0x01, 0x03, 0x00, cmd, 0x00, 0x00))
    return body + crc16_modbus(body).to_bytes(2, "big") + bytes((TAIL,))


def ascii_field(data: bytes) -> str:
    """A NUL-padded ASCII field."""
    return data.split(b"\x00", 1)[0].decode("ascii", "replace").strip()


class TdtDriver(Driver):
    """TDT / Wattcycle BMS: values (0x8C) and status (0x8D) per poll."""

    family = "tdt"
    title = "TDT / Wattcycle BMS"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF2)
    matchers: ClassVar[tuple[Matcher, ...]] = ({"manufacturer_id": 54976, "connectable": True},)
    required_keys = ("voltage", "current", "chrg_mosfet")

    def requests(self) -> list[bytes]:
        return [request(CMD_VALUES), request(CMD_STATUS)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if buffer[pos] != HEAD or (pos + 1 < len(buffer) and buffer[pos + 1] not in VERSIONS):
                pos += 1  # stale bytes: resynchronise on the next header
                continue
            if len(buffer) - pos < DATA_AT:
                break
            end = pos + FRAME_OVERHEAD + int.from_bytes(buffer[pos + 6 : pos + 8], "big")
            if end > len(buffer):
                break
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[5] == request[5]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        status: bytes | None = None
        for frame in frames:
            cmd = frame[5]
            if frame[-1] != TAIL:
                raise self.error(f"frame ends with 0x{frame[-1]:02X}, expected 0x0D")
            if crc16_modbus(frame[:-3]) != int.from_bytes(frame[-3:-1], "big"):
                raise self.error(f"bad CRC in 0x{cmd:02X} response")
            if frame[4]:
                raise self.error(f"BMS reported error 0x{frame[4]:02X} for 0x{cmd:02X}")
            data = frame[DATA_AT:-3]
            if cmd == CMD_VALUES:
                out.update(self._values(data))
            elif cmd == CMD_STATUS:
                status = data
            elif cmd == CMD_INFO:
                out.update(self._info(data))
            else:
                raise self.error(f"unexpected response to command 0x{cmd:02X}")
        if status is not None:
            out.update(self._status(status))
        return out  # type: ignore[return-value]

    def _values(self, data: bytes) -> dict[str, Any]:
        cells = data[0] if data else 0
        probes_at = 1 + 2 * cells
        if probes_at >= len(data):
            raise self.error(f"{cells} cells do not fit a {len(data)}-byte payload")
        probes = data[probes_at]
        fields_at = probes_at + 1 + 2 * probes
        values = read_fields(self.family, data[fields_at:], VALUE_FIELDS)
        raw = values.pop("current_raw")
        values["current"] = round((raw & 0x3FFF) * (-0.1 if raw & 0x8000 else 0.1), 1)
        if values["battery_level"] > 100:
            raise self.error(f"state of charge {values['battery_level']} % is above 100")
        values.pop("full_capacity")
        values["cell_voltages"] = values_list(data, 1, cells, 2, scale=0.001)
        values["temperatures"] = values_list(data, probes_at + 1, probes, 2, scale=0.1, add=-2731)
        return values

    def _status(self, data: bytes) -> dict[str, Any]:
        cells = data[0] if data else 0
        probes_at = 1 + cells
        if probes_at >= len(data):
            raise self.error(f"status for {cells} cells does not fit a {len(data)}-byte payload")
        after = probes_at + 1 + data[probes_at]
        fields = (
            Field("problem_code", after + 4, 2, kind="int"),
            Field("chrg_mosfet", after + 6, 1, kind="bool", mask=0x04),
            Field("dischrg_mosfet", after + 6, 1, kind="bool", mask=0x02),
        )
        return read_fields(self.family, data, fields)

    def _info(self, data: bytes) -> dict[str, Any]:
        if len(data) < 60:
            raise self.error(f"device info of {len(data)} bytes is shorter than 60")
        info = {"sw_version": ascii_field(data[0:20]), "serial_number": ascii_field(data[40:60])}
        return {key: value for key, value in info.items() if value}
