"""Saihang BMS (Anenji, Aninerel; service 0xFFFA, notify 0xFFFC, write 0xFFFB).

Modbus RTU wrapped in an ``A5 A5`` start: request
``A5 A5 <slave> 03 <start BE> <count BE> <CRC16/Modbus LE>``, response
``A5 A5 <slave> 03 <byte count> <data...> <CRC16/Modbus LE>``, the CRC taken over
everything after ``A5 A5``; an exception reply is ``A5 A5 <slave> 83 <code> <CRC>``.
One read of 72 registers from 0x0000 carries everything, big-endian (offsets in
the data): current s32 10 mA (+ = charging) at 0, voltage u32 10 mV at 4, SOC %
at 8, SOH % at 10, remaining charge u32 10 mAh at 12, full charge at 16, design
capacity u32 10 mAh at 20, cycles at 24, the alarm word at 26 (active low: 0xFFFF
means no alarm, so `problem_code` is its complement), the switch word at 32 (bit 9
charge MOSFET, bit 10 discharge MOSFET), the balancing word at 36, the cell count
at 38 and up to 20 cells (1 mV) from 40, the probe count at 80 and up to 10 cell
probes (0.1 K, offset 2730) from 82, then the MOSFET and the ambient probe at 102
and 104 (0xFFFF: not fitted).

Devices advertise service 0xFFFA, the Device Information service data (0x180A)
and manufacturer data that is their own address (company id = the last two
address bytes), named "SH<voltage><capacity>-…" (SH24100-H-00069) or not named at
all: the service is what every advertisement carries, so it alone is matched.

Source: patman15/aiobmsble aiobmsble/bms/saihang_bms.py, tests/bms/test_saihang_bms.py,
docs/saihang_bms.md and aiobmsble/test_data/saihang_bms.json
@b0567331025033d33729385fa89a1198275d6486; advertisements from BMS_BLE-HA issues 483, 655
and 703. Sources disagree on the slave id: the code and its test frame use 0x00, the
documentation 0x01; the request uses 0x00 (the captured exchange) and any slave id is
accepted in a response. The source clamps counts above 20 cells / 10 probes; here
they fail the decode. The documentation speaks of responses split over several
notifications, the source's code accepts only whole ones: both are assembled here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import NEED_MORE, Driver, Field, Matcher, crc16_modbus, read_fields, uuid16, values_list
from ..models import Sample

HEAD = b"\xa5\xa5"
READ, EXCEPTION = 0x03, 0x83
SLAVE, START, COUNT = 0x00, 0x0000, 0x48
MAX_CELLS, MAX_PROBES = 20, 10
CELL_OFFSET, PROBE_OFFSET, EXTRA_PROBES_OFFSET = 40, 82, 102
DATA_LENGTH = 106  # through the ambient probe
NOT_FITTED = (0xFFFF, 0x0000)

FIELDS = (
    Field("current", 0, 4, 0.01, signed=True),
    Field("voltage", 4, 4, 0.01),
    Field("battery_level", 8, 2, kind="int"),
    Field("battery_health", 10, 2, kind="int"),
    Field("cycle_charge", 12, 4, 0.01),
    Field("design_capacity", 20, 4, 0.01),
    Field("cycles", 24, 2, kind="int"),
    Field("alarm_word", 26, 2, kind="int"),
    Field("chrg_mosfet", 32, 2, kind="bool", mask=0x0200),
    Field("dischrg_mosfet", 32, 2, kind="bool", mask=0x0400),
    Field("balancer", 36, 2, kind="bool"),
    Field("cell_count", 38, 2, kind="int"),
    Field("probe_count", 80, 2, kind="int"),
)


def request() -> bytes:
    """The status read: 72 registers from 0x0000."""
    body = bytes((SLAVE, READ)) + START.to_bytes(2, "big") + COUNT.to_bytes(2, "big")
    return HEAD + body + crc16_modbus(body).to_bytes(2, "little")


class SaihangDriver(Driver):
    """Saihang BMS: one Modbus read per poll behind an A5 A5 start."""

    family = "saihang"
    title = "Saihang BMS (Anenji, Aninerel)"
    service_uuid = uuid16(0xFFFA)
    notify_uuid = uuid16(0xFFFC)
    write_uuid = uuid16(0xFFFB)
    matchers: ClassVar[tuple[Matcher, ...]] = ({"service_uuid": uuid16(0xFFFA), "connectable": True},)
    required_keys = ("voltage", "current")

    def requests(self) -> list[bytes]:
        return [request()]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        have = buffer[pos : pos + 4]
        if not HEAD.startswith(have[:2]) or (len(have) == 4 and have[3] not in (READ, EXCEPTION)):
            return None
        if len(have) < 4:
            return NEED_MORE
        if have[3] == EXCEPTION:
            return 7
        if len(buffer) - pos < 5:
            return NEED_MORE
        return 7 + buffer[pos + 4]

    def frame_defect(self, frame: bytes) -> str | None:
        if crc16_modbus(frame[2:-2]) != int.from_bytes(frame[-2:], "little"):
            return f"bad CRC in response of slave 0x{frame[2]:02X}"
        return None

    def decode_frames(self, frames: list[bytes]) -> Sample:
        frame = frames[-1]
        if frame[3] == EXCEPTION:
            raise self.error(f"Modbus exception 0x{frame[4]:02X} in reply to the status read")
        data = frame[5:-2]
        if len(data) < DATA_LENGTH:
            raise self.error(f"status response holds {len(data)} data bytes, expected {2 * COUNT}")
        out: dict[str, Any] = read_fields(self.family, data, FIELDS)
        cells, probes = out.pop("cell_count"), out.pop("probe_count")
        if cells > MAX_CELLS:
            raise self.error(f"{cells} cells reported, at most {MAX_CELLS} fit the frame")
        if probes > MAX_PROBES:
            raise self.error(f"{probes} temperature probes reported, at most {MAX_PROBES} fit")
        for key in ("battery_level", "battery_health"):
            if out[key] > 100:
                raise self.error(f"{key} {out[key]} % is above 100")
        out["problem_code"] = ~out.pop("alarm_word") & 0xFFFF
        out["cell_voltages"] = values_list(data, CELL_OFFSET, cells, 2, scale=0.001)
        out["temperatures"] = values_list(data, PROBE_OFFSET, probes, 2, scale=0.1, add=-2730) + (
            values_list(data, EXTRA_PROBES_OFFSET, 2, 2, scale=0.1, add=-2730, absent=NOT_FITTED)
        )
        return out  # type: ignore[return-value]
