"""JBD / Jiabaida / Xiaoxiang / Overkill BMS (service 0xFF00, notify 0xFF01, write 0xFF02).

Request  ``DD A5 <cmd> 00 <chk16 BE> 77``; response
``DD <cmd> <status> <len> <data...> <chk16 BE> 77`` with
chk = 0x10000 - sum(status, len, data). 0x03 basic info, 0x04 cell voltages,
0x05 hardware version. Responses may be followed by zero padding (seen on
real packs), which framing skips. Big-endian; voltage 10 mV, current signed 10 mA
(+ = charging), capacities 10 mAh, temperatures 0.1 K.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
    uuid16,
    values_list,
)
from ..models import Advertisement, Sample
from .humsienk import HumsienkDriver

HEAD, TAIL = 0xDD, 0x77
CMD_BASIC, CMD_CELLS, CMD_VERSION = 0x03, 0x04, 0x05
COMMANDS = frozenset((CMD_BASIC, CMD_CELLS, CMD_VERSION))
# A probe reading raw 0 (0 K) or 0xFFFF is an unfitted or broken sensor, not a temperature.
ABSENT_TEMPERATURE = (0x0000, 0xFFFF)
# Seplos V2 packs ("BP00".."BP99") advertise service 0xFF00 as well.
SEPLOS_V2_NAME = re.compile(r"BP\d{2}")
# KS48x00 boards (family braunpwr: "HSKS-…", "BL-…", "KS-…") advertise service 0xFF00 too.
KS_NAME = re.compile(r"(HSKS|BL|KS)-")

BASIC_FIELDS = (
    Field("voltage", 0, 2, 0.01),
    Field("current", 2, 2, 0.01, signed=True),
    Field("cycle_charge", 4, 2, 0.01),
    Field("design_capacity", 6, 2, 0.01),
    Field("cycles", 8, 2, kind="int"),
    Field("balance_bits", 12, 4, kind="int"),
    Field("problem_code", 16, 2, kind="int"),
    Field("battery_level", 19, 1, kind="int"),
    Field("chrg_mosfet", 20, 1, kind="bool", mask=0x01),
    Field("dischrg_mosfet", 20, 1, kind="bool", mask=0x02),
    Field("cell_count", 21, 1, kind="int"),
    Field("ntc_count", 22, 1, kind="int"),
)
NTC_OFFSET = 23


def checksum(body: bytes) -> int:
    """JBD checksum of status/command, length and data bytes."""
    return (0x10000 - sum(body)) & 0xFFFF


def request(cmd: int) -> bytes:
    """Read request for a register (0x03, 0x04, 0x05)."""
    body = bytes((cmd, 0x00))
    return bytes((HEAD, 0xA5)) + body + checksum(body).to_bytes(2, "big") + bytes((TAIL,))


# Protection status word (basic info bytes 16-17), from the JBD protocol document.
ALARM_BITS: dict[int, AlarmBit] = {
    0: protection("cell_overvoltage"),
    1: protection("cell_undervoltage"),
    2: protection("pack_overvoltage"),
    3: protection("pack_undervoltage"),
    4: protection("charge_overtemperature"),
    5: protection("charge_undertemperature"),
    6: protection("discharge_overtemperature"),
    7: protection("discharge_undertemperature"),
    8: protection("charge_overcurrent"),
    9: protection("discharge_overcurrent"),
    10: protection("short_circuit"),
    11: fault("hardware_fault"),  # front-end (AFE) IC error
    12: protection("outputs_locked"),  # MOSFETs switched off by software (the app)
}


class JbdDriver(Driver):
    """JBD smart BMS; two requests per poll (basic info, cell voltages)."""

    family = "jbd"
    title = "JBD / Xiaoxiang BMS"
    service_uuid = uuid16(0xFF00)
    notify_uuid = uuid16(0xFF01)
    write_uuid = uuid16(0xFF02)
    matchers: ClassVar[tuple[Matcher, ...]] = ({"service_uuid": uuid16(0xFF00), "connectable": True},)
    required_keys = ("voltage", "current")
    alarm_bits: ClassVar[Mapping[int, AlarmBit]] = ALARM_BITS

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        # Humsienk BMS advertise 0xFF00 beside their own service 0x0001
        if HumsienkDriver.matches(adv):
            return False
        name = adv.local_name
        return name is None or not (SEPLOS_V2_NAME.fullmatch(name) or KS_NAME.match(name))

    def requests(self) -> list[bytes]:
        return [request(CMD_BASIC), request(CMD_CELLS)]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        if buffer[pos] != HEAD:
            return None
        if pos + 1 < len(buffer) and buffer[pos + 1] not in COMMANDS:
            return None
        if len(buffer) - pos < 4:
            return NEED_MORE
        return 4 + buffer[pos + 3] + 3

    def frame_defect(self, frame: bytes) -> str | None:
        if frame[-1] != TAIL:
            return f"frame ends with 0x{frame[-1]:02X}, expected 0x77"
        if checksum(frame[2:-3]) != int.from_bytes(frame[-3:-1], "big"):
            return f"bad checksum in 0x{frame[1]:02X} response"
        return None

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[1] == request[2]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        for frame in frames:
            cmd, status, length = frame[1], frame[2], frame[3]
            data = frame[4 : 4 + length]
            if status != 0:
                raise self.error(f"BMS reported error status 0x{status:02X} for 0x{cmd:02X}")
            if cmd == CMD_BASIC:
                out.update(self._basic(data))
            elif cmd == CMD_CELLS:
                if length % 2:
                    raise self.error(f"odd cell-voltage payload length {length}")
                out["cell_voltages"] = values_list(data, 0, length // 2, 2, scale=0.001)
            else:
                out["hw_version"] = data.decode("ascii", "replace").strip("\x00 ")
        return out  # type: ignore[return-value]

    def _basic(self, data: bytes) -> dict[str, Any]:
        values = read_fields(self.family, data, BASIC_FIELDS)
        ntc = values.pop("ntc_count")
        if NTC_OFFSET + 2 * ntc > len(data):
            raise self.error(f"{ntc} temperature probes do not fit a {len(data)}-byte payload")
        values["temperatures"] = values_list(data, NTC_OFFSET, ntc, 2, scale=0.1, add=-2731,
                                             absent=ABSENT_TEMPERATURE)
        values["balancer"] = bool(values.pop("balance_bits"))
        return values

    # --- opt-in control ------------------------------------------------------------
    # Register 0xE1 holds the MOSFET software switches: bit 0 set turns charging off,
    # bit 1 discharging. The vendor app follows the write with register 0x01 = 0 (leave
    # factory mode without saving), and the BMS acknowledges each write with
    # ``DD <register> <status> 00 <chk> 77`` (status 0 = done, 0x80 = refused).

    control_acknowledged = True

    def control_switches(self) -> tuple[str, ...]:
        return (CHARGE, DISCHARGE)

    def control_requests(self, switch: str, on: bool, state: Sample | None = None) -> list[bytes]:
        # one register holds both switches: the other one keeps its reported state
        if switch not in (CHARGE, DISCHARGE) or state is None:
            return []
        charge = on if switch == CHARGE else state.get(CHARGE)
        discharge = on if switch == DISCHARGE else state.get(DISCHARGE)
        if charge is None or discharge is None:
            return []
        value = (0 if charge else 0x01) | (0 if discharge else 0x02)
        return [write_request(REG_MOSFET_CONTROL, value), write_request(REG_EXIT_FACTORY, 0)]

    def control_reply(self, request: bytes, notifications: Sequence[bytes]) -> bool | None:
        buffer = b"".join(notifications)
        register = request[2]
        for pos in range(len(buffer) - 6):
            if buffer[pos] != HEAD or buffer[pos + 1] != register:
                continue
            end = pos + 4 + buffer[pos + 3] + 3
            frame = buffer[pos:end]
            if len(frame) == end - pos and self.frame_defect(frame) is None:
                return frame[2] == 0
        return None


REG_MOSFET_CONTROL, REG_EXIT_FACTORY = 0xE1, 0x01


def write_request(register: int, value: int) -> bytes:
    """Write of a 16-bit register: ``DD 5A <register> 02 <value BE> <chk16 BE> 77``."""
    body = bytes((register, 2)) + value.to_bytes(2, "big")
    return bytes((HEAD, 0x5A)) + body + checksum(body).to_bytes(2, "big") + bytes((TAIL,))
