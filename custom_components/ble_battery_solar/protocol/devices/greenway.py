"""Greenway BMS (service 0xFFF0, one characteristic 0xFFF1 for writes and notifications).

One request per value: ``46 16 01 <type> <len> <sum8>`` asks for message `type`
(`len` is the data length the BMS answers with); the answer is
``47 16 01 <type> <len> <data...> <sum8>``, the checksum being the sum of every
byte before it. Data is little-endian: 0x08 seven temperature probes (signed
°C, one byte each, in a 32-byte block), 0x09 voltage (mV, u32), 0x0A current
(mA, s32, + = charging), 0x0D SOC %, 0x0E SOH %, 0x0F remaining charge (mAh),
0x16 status (a 64-bit alarm word at data bytes 2-9), 0x17 cycles, 0x18 design
capacity (mAh), 0x1A version (software minor, major, hardware minor, major,
then the firmware name in ASCII), 0x21 BMS model and 0x23 serial number
(NUL-padded ASCII), 0x24 and 0x25 sixteen cell slots each (mV, u16; an unused
slot reads 0).

The packs (Changzhou Coolfly, e.g. Talaria motorcycles) advertise service
0xFFF0, which many vendors use, and the serial number as their name. They are
recognised by the module vendor's address prefix C4:A9:B8, which Home
Assistant's manifest matchers cannot express: the manifest matches the service
and `claims()` checks the prefix.

Source: patman15/aiobmsble aiobmsble/bms/greenway_bms.py, tests/bms/test_greenway_bms.py and
aiobmsble/test_data/greenway_bms.json @b0567331025033d33729385fa89a1198275d6486 (frames of a
user's pack, BMS_BLE-HA issue 700). The source floors the design capacity to whole
Ah; the message holds mAh, read here exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, read_fields, sum8, uuid16, values_list
from ..models import Advertisement, Sample

PREFIX = "C4:A9:B8"
REQUEST_HEAD, RESPONSE_HEAD = b"\x46\x16\x01", b"\x47\x16\x01"
LEN_POS = 4
TEMPS, VOLTAGE, CURRENT, SOC, SOH, CHARGE = 0x08, 0x09, 0x0A, 0x0D, 0x0E, 0x0F
STATUS, CYCLES, DESIGN, VERSION, MODEL, SERIAL = 0x16, 0x17, 0x18, 0x1A, 0x21, 0x23
CELLS_1, CELLS_2 = 0x24, 0x25
# data length the BMS answers each message with (the request carries it)
DATA_LENGTH = {
    TEMPS: 32, VOLTAGE: 4, CURRENT: 4, SOC: 4, SOH: 4, CHARGE: 4, STATUS: 16, CYCLES: 4,
    DESIGN: 4, VERSION: 8, MODEL: 32, SERIAL: 32, CELLS_1: 32, CELLS_2: 32,
}
POLL = (VOLTAGE, CURRENT, SOC, SOH, CHARGE, DESIGN, CYCLES, STATUS, TEMPS, CELLS_1, CELLS_2,
        VERSION, MODEL, SERIAL)
TEMP_PROBES = 7
CELL_SLOTS = 16

FIELDS = {
    VOLTAGE: Field("voltage", 0, 4, 0.001, order="little"),
    CURRENT: Field("current", 0, 4, 0.001, signed=True, order="little"),
    SOC: Field("battery_level", 0, 4, order="little", kind="int"),
    SOH: Field("battery_health", 0, 4, order="little", kind="int"),
    CHARGE: Field("cycle_charge", 0, 4, 0.001, order="little"),
    DESIGN: Field("design_capacity", 0, 4, 0.001, order="little"),
    CYCLES: Field("cycles", 0, 4, order="little", kind="int"),
    STATUS: Field("problem_code", 2, 8, order="little", kind="int"),
}


def request(message: int) -> bytes:
    """The request for one message type."""
    body = REQUEST_HEAD + bytes((message, DATA_LENGTH[message]))
    return body + bytes((sum8(body),))


def _text(data: bytes) -> str:
    return data.split(b"\x00", 1)[0].decode("ascii", "replace").strip()


class GreenwayDriver(Driver):
    """Greenway BMS: one request per message, fourteen per poll."""

    family = "greenway"
    title = "Greenway"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF1)
    matchers: ClassVar[tuple[Matcher, ...]] = ({"service_uuid": uuid16(0xFFF0), "connectable": True},)
    required_keys = ("voltage", "current")

    @classmethod
    def claims(cls, adv: Advertisement) -> bool:
        return (adv.address or "").upper().replace("-", ":")[:8] == PREFIX

    def requests(self) -> list[bytes]:
        return [request(m) for m in POLL]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        head = buffer[pos : pos + len(RESPONSE_HEAD)]
        if not RESPONSE_HEAD.startswith(head):
            return None
        if len(buffer) - pos <= LEN_POS:
            return NEED_MORE
        return buffer[pos + LEN_POS] + LEN_POS + 2

    def frame_defect(self, frame: bytes) -> str | None:
        if sum8(frame[:-1]) != frame[-1]:
            return f"bad checksum in message 0x{frame[3]:02X}"
        return None

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[3] == request[3]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        cells: dict[int, list[float]] = {}
        for frame in frames:
            message, data = frame[3], frame[LEN_POS + 1 : -1]
            expected = DATA_LENGTH.get(message)
            if expected is not None and len(data) < expected:
                raise self.error(
                    f"message 0x{message:02X} carries {len(data)} data bytes, expected {expected}"
                )
            if (field := FIELDS.get(message)) is not None:
                out.update(read_fields(self.family, data, (field,)))
            elif message == TEMPS:
                out["temperatures"] = values_list(data, 0, TEMP_PROBES, 1, signed=True)
            elif message in (CELLS_1, CELLS_2):
                cells[message] = values_list(data, 0, CELL_SLOTS, 2, scale=0.001,
                                             order="little", absent=(0,))
            elif message == VERSION:
                out["sw_version"] = f"{data[1]}.{data[0]}"
                out["hw_version"] = f"{data[3]}.{data[2]}"
                if firmware := _text(data[4:]):
                    out["sw_version"] += f" ({firmware})"
            elif message == MODEL and (text := _text(data)):
                out["model"] = text
            elif message == SERIAL and (text := _text(data)):
                out["serial_number"] = text
        if cells:
            out["cell_voltages"] = cells.get(CELLS_1, []) + cells.get(CELLS_2, [])
        for key in ("battery_level", "battery_health"):
            if key in out and out[key] > 100:
                raise self.error(f"{key} {out[key]} % is above 100")
        return out  # type: ignore[return-value]
