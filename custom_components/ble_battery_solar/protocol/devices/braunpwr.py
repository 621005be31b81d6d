"""KS48x00 BMS boards: BEMORY, Braun Power, Docan, Vanvolt Arctic Pro, VoltPolska.

Service 0xFF00, notify 0xFF01, write 0xFF02. Request ``7B <cmd> 00 7D``;
response ``7B <cmd> <len> <data...> 7D`` (4 + len bytes). The protocol has no
checksum: a frame is accepted when its command is known, its tail byte sits
where the length byte says, its payload length fits its own counts, and each
command is answered once per poll.

0x01 status (0x61 on some firmware; big-endian 16-bit words, frame offsets):
SOC % at 3, voltage 10 mV at 5, average, ambient and MOSFET temperature
(0.1 degC) at 7/9/11, current signed 10 mA at 13 (+ = charging), remaining,
full-charge and nominal capacity (10 mAh) at 15/17/19, cycles at 23, a 32-bit
balancing-cell mask at 25, FET status at 29 (bit 2 charge, bit 3 discharge
MOSFET), the protection word at 31 and, on newer firmware, SOH % at 33.
0x02: cell count and cells in mV. 0x03: probe count and probes in 0.1 K.
0x74: the BLE board's version string; 0xF4: a BMS version as three numbers.

Sources: patman15/aiobmsble ``aiobmsble/bms/braunpwr_bms.py`` and its tests
(a 16S 300 Ah capture, "KS_BLE_WIFI" board); syssi/esphome-ks-bms
``components/ks_bms_ble`` and its KS48200/KS48300 captures. Disagreements:
aiobmsble reads the design capacity at 17, syssi calls 17 the full-charge and
19 the nominal capacity; 19 is used, or 17 where 19 is 0 (as in aiobmsble's
capture). aiobmsble reads the balancing mask as 16 bits at 25, syssi as 32:
32 bits are read. aiobmsble calls 0xF4 the BMS program version, syssi the
hardware version (its 0xF3 "software version" gets no answer from the boards
it fakes): 0xF4 is reported as firmware (sw_version), the 0x74 board string
as hw_version, as aiobmsble does. The status frame's ambient and MOSFET
temperatures are not added to the probe list, whose order both sources give
as the 0x03 probes only. The versions are read on every poll.
JBD boards share the service UUID and even the advertised manufacturer data
(company 0x007B, ``02 FF FF 7D``), so these boards are told by their names.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, uuid16, values_list
from ..models import Sample

HEAD, TAIL = 0x7B, 0x7D
CMD_STATUS, CMD_CELLS, CMD_PROBES = 0x01, 0x02, 0x03
CMD_STATUS_2 = 0x61
CMD_BOARD, CMD_FIRMWARE = 0x74, 0xF4
COMMANDS = frozenset({CMD_STATUS, CMD_STATUS_2, CMD_CELLS, CMD_PROBES, CMD_BOARD, CMD_FIRMWARE})
SOH_AT = 33
NAME_PREFIXES = ("HSKS-", "BL-", "KS-")

STATUS_FIELDS = (
    Field("battery_level", 3, 2, kind="int"),
    Field("voltage", 5, 2, 0.01),
    Field("current", 13, 2, 0.01, signed=True),
    Field("cycle_charge", 15, 2, 0.01),
    Field("full_capacity", 17, 2, 0.01),
    Field("nominal_capacity", 19, 2, 0.01),
    Field("cycles", 23, 2, kind="int"),
    Field("balance_bits", 25, 4, kind="int"),
    Field("chrg_mosfet", 29, 2, kind="bool", mask=0x0004),
    Field("dischrg_mosfet", 29, 2, kind="bool", mask=0x0008),
    Field("problem_code", 31, 2, kind="int"),
)


def request(cmd: int) -> bytes:
    """Read request for a command."""
    return bytes((HEAD, cmd, 0x00, TAIL))


class BraunPwrDriver(Driver):
    """KS48x00 BMS (Braun Power and others): status, cells, probes and versions per poll."""

    family = "braunpwr"
    checksummed = False
    title = "Braun Power / KS48x00 BMS"
    service_uuid = uuid16(0xFF00)
    notify_uuid = uuid16(0xFF01)
    write_uuid = uuid16(0xFF02)
    matchers: ClassVar[tuple[Matcher, ...]] = tuple(
        {"local_name": f"{prefix}*", "service_uuid": uuid16(0xFF00), "connectable": True}
        for prefix in NAME_PREFIXES
    )
    required_keys = ("voltage", "current", "cell_voltages", "temperatures")

    def requests(self) -> list[bytes]:
        return [request(cmd) for cmd in (CMD_STATUS, CMD_CELLS, CMD_PROBES, CMD_BOARD,
                                          CMD_FIRMWARE)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if buffer[pos] != HEAD or (pos + 1 < len(buffer) and buffer[pos + 1] not in COMMANDS):
                pos += 1  # stale bytes: resynchronise on the next header
                continue
            if len(buffer) - pos < 3:
                break
            end = pos + 4 + buffer[pos + 2]
            if end > len(buffer):
                break
            frames.append(buffer[pos:end])
            pos = end
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[1] == request[1]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        seen: set[int] = set()
        for frame in frames:
            cmd = frame[1]
            if frame[-1] != TAIL:
                raise self.error(f"0x{cmd:02X} frame ends with 0x{frame[-1]:02X}, expected 0x7D")
            if cmd in seen:
                raise self.error(f"two responses to command 0x{cmd:02X}")
            seen.add(cmd)
            data = frame[3:-1]
            if cmd in (CMD_STATUS, CMD_STATUS_2):
                out.update(self._status(frame))
            elif cmd == CMD_CELLS:
                out["cell_voltages"] = self._counted(data, "cell", 0.001)
            elif cmd == CMD_PROBES:
                out["temperatures"] = self._counted(data, "probe", 0.1, add=-2731)
            elif cmd == CMD_BOARD:
                out["hw_version"] = data.split(b"\x00", 1)[0].decode("ascii", "replace")
            else:
                if len(data) != 3:
                    raise self.error(f"firmware version of {len(data)} bytes, expected 3")
                out["sw_version"] = ".".join(str(b) for b in data)
        return out  # type: ignore[return-value]

    def _counted(self, data: bytes, what: str, scale: float, add: float = 0.0) -> list[float]:
        count = data[0] if data else 0
        if len(data) != 1 + 2 * count:
            raise self.error(f"{count} {what} values do not match a {len(data)}-byte payload")
        return values_list(data, 1, count, 2, scale=scale, add=add)

    def _status(self, frame: bytes) -> dict[str, Any]:
        values = read_fields(self.family, frame[:-1], STATUS_FIELDS)
        if len(frame) - 1 >= SOH_AT + 2:  # older firmware ends before the SOH word
            values["battery_health"] = int.from_bytes(frame[SOH_AT : SOH_AT + 2], "big")
        for key in ("battery_level", "battery_health"):
            if values.get(key, 0) > 100:
                raise self.error(f"{key} {values[key]} % is above 100")
        values["balancer"] = bool(values.pop("balance_bits"))
        full, nominal = values.pop("full_capacity"), values.pop("nominal_capacity")
        values["design_capacity"] = nominal or full
        return values
