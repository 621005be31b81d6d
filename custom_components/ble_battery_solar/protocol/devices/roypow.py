"""RoyPow BMS, older Epoch and Lion Energy Safari packs (service 0xFFE0, char 0xFFE1).

Request ``EA D1 01 04 FF <cmd> <xor> F5``; response
``EA D1 01 <len> FF <cmd> <data...> <xor> F5`` of 4 + len bytes, where xor is
the XOR of the bytes from the length byte up to it. The BLE module also sends
its own ``AT+STAT\\r\\n`` lines between frames: they are skipped like any byte
that does not start a frame. Commands: 0x02 cell voltages (mV, big-endian,
from byte 9), 0x03 status (current as sign bit + 16-bit magnitude in 10 mA,
24-bit alarm word, probe count and probes in degC + 40, MOSFET bits),
0x04 summary (SOC, cycles, then 16-bit tag/value pairs: tags 3/4 design
capacity, 7/8 remaining charge as high/low words of mAh, 9 runtime in
minutes (0xFFFF: not discharging); pack voltage 10 mV at byte 47).

Sources: patman15/aiobmsble ``aiobmsble/bms/roypow_bms.py`` and its test frames
(an Epoch 12 V 100 Ah capture whose comment reads "13.5V, 96%, 98.2Ah/105.0Ah").
Disagreement: the source reads the remaining charge from bytes 24-27 with the
low word's bytes swapped, which takes tag byte 0x08 as data (98.056 Ah for that
capture); reading tag 7 and tag 8 as high and low word gives 98.173 Ah, and tags
3/4 give the 105.0 Ah design capacity, matching the app's "98.2Ah/105.0Ah".
The tag reading is used here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, uuid16, values_list
from ..models import Sample

HEAD = b"\xea\xd1\x01"
TAIL = 0xF5
CMD_CELLS, CMD_STATUS, CMD_SUMMARY = 0x02, 0x03, 0x04
CELLS_AT = 9
PROBE_COUNT_AT, PROBES_AT = 13, 14
NO_RUNTIME = 0xFFFF

STATUS_FIELDS = (
    Field("current_sign", 6, 1, kind="int", mask=0x01),
    Field("current_abs", 7, 2, 0.01),
    Field("problem_code", 9, 3, kind="int"),
    Field("chrg_mosfet", 24, 1, kind="bool", mask=0x04),
    Field("dischrg_mosfet", 24, 1, kind="bool", mask=0x02),
)
SUMMARY_FIELDS = (
    Field("battery_level", 7, 1, kind="int"),
    Field("cycles", 9, 2, kind="int"),
    Field("design_high", 12, 2, kind="int"),
    Field("design_low", 15, 2, kind="int"),
    Field("charge_high", 24, 2, kind="int"),
    Field("charge_low", 27, 2, kind="int"),
    Field("runtime_min", 30, 2, kind="int"),
    Field("voltage", 47, 2, 0.01),
)


def xor(data: bytes) -> int:
    """XOR of all bytes."""
    out = 0
    for byte in data:
        out ^= byte
    return out


def request(cmd: int) -> bytes:
    """Read request for a command (0x02, 0x03, 0x04)."""
    body = bytes((0x04, 0xFF, cmd))
    return HEAD + body + bytes((xor(body), TAIL))


class RoyPowDriver(Driver):
    """RoyPow BMS: three requests per poll (cells, status, summary)."""

    family = "roypow"
    title = "RoyPow BMS"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    write_uuid = uuid16(0xFFE1)
    # Names start with a blank: " B12100A 220600016 ", " S12100A ...", " UT1300 BT ...".
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {"local_name": pattern, "service_uuid": uuid16(0xFFE0), "connectable": True}
        for pattern in (" B12*", " B24*", " B36*", " B48*", " S12*", " S24*", " S36*",
                        " S48*", " UT*")
    )
    required_keys = ("voltage", "current", "cell_voltages")

    def requests(self) -> list[bytes]:
        return [request(CMD_CELLS), request(CMD_STATUS), request(CMD_SUMMARY)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if not buffer.startswith(HEAD, pos):
                if HEAD.startswith(buffer[pos:]):
                    break  # the start of a header: wait for the rest
                pos += 1  # module messages or stale bytes: resynchronise
                continue
            if len(buffer) - pos < len(HEAD) + 1:
                break
            end = pos + len(HEAD) + 1 + buffer[pos + len(HEAD)]
            if end > len(buffer):
                break
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or (len(frame) > 5 and frame[5] == request[5])

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            if len(frame) < 8:
                raise self.error(f"frame of {len(frame)} bytes is shorter than 8")
            if frame[-1] != TAIL:
                raise self.error(f"frame ends with 0x{frame[-1]:02X}, expected 0xF5")
            if xor(frame[3:-2]) != frame[-2]:
                raise self.error(f"bad checksum in 0x{frame[5]:02X} response")
            cmd = frame[5]
            if cmd == CMD_CELLS:
                out.update(self._cells(frame))
            elif cmd == CMD_STATUS:
                out.update(self._status(frame))
            elif cmd == CMD_SUMMARY:
                out.update(self._summary(frame))
            else:
                raise self.error(f"unexpected response to command 0x{cmd:02X}")
        return out  # type: ignore[return-value]

    def _cells(self, frame: bytes) -> dict[str, Any]:
        size = len(frame) - CELLS_AT - 2
        if size < 0 or size % 2:
            raise self.error(f"cell payload of {size} bytes is not whole cells")
        return {"cell_voltages": values_list(frame, CELLS_AT, size // 2, 2, scale=0.001)}

    def _status(self, frame: bytes) -> dict[str, Any]:
        values = read_fields(self.family, frame[:-2], STATUS_FIELDS)
        sign = -1 if values.pop("current_sign") else 1
        values["current"] = sign * values.pop("current_abs")
        probes = frame[PROBE_COUNT_AT]
        if PROBES_AT + probes > len(frame) - 2:
            raise self.error(f"{probes} temperature probes do not fit a {len(frame)}-byte frame")
        values["temperatures"] = values_list(frame, PROBES_AT, probes, 1, add=-40)
        return values

    def _summary(self, frame: bytes) -> dict[str, Any]:
        values = read_fields(self.family, frame[:-2], SUMMARY_FIELDS)
        if values["battery_level"] > 100:
            raise self.error(f"state of charge {values['battery_level']} % is above 100")
        high, low = values.pop("design_high"), values.pop("design_low")
        values["design_capacity"] = ((high << 16) | low) / 1000
        high, low = values.pop("charge_high"), values.pop("charge_low")
        values["cycle_charge"] = ((high << 16) | low) / 1000
        runtime = values.pop("runtime_min")
        if runtime != NO_RUNTIME:
            values["runtime"] = runtime * 60
        return values
