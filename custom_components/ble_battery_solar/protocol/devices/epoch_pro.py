"""Epoch Pro / GC2 batteries (service 0xFFE0, notify 0xFFE4, write 0xFFE1; service data 0x3333).

Request ``FA F3 16 <start u16> <device> <count u16> <CRC16/Modbus LE>`` reads
`count` registers; response ``FA F3 16 <device> <byte count> <data>
<CRC16/Modbus LE over all before>``. Big-endian, offsets in the data.
System block (device 1, 0x7654 x 0x37): SOC % at 8, SOH % at 10, voltage
10 mV at 14, current at 16 (A, unverified scale), temperature 0.1 °C at 18,
number of packs at 42. Pack block (device n, 0x75F8 x 0x52): cycles at 16,
pack voltage 10 mV at 46, pack current signed 10 mA at 48, cell count at 50
(byte), probe count at 51 (byte), pack SOC 0.1 % at 66, cells mV from 72,
probes signed °C from 104.

A poll reads the system block and every pack the previous poll reported
(pack 1 on the first poll). Current is the sum of the packs' currents
(0.01 A resolution); cycles are the highest pack's; cell spread is the largest
spread within one pack (packs are not balanced against each other).

Source: patman15/aiobmsble branch 11-epoch-gc2 aiobmsble/bms/epoch_pro_bms.py and
tests/bms/test_epoch_pro_bms.py @f4173563 (not merged into its main branch).
The source leaves remaining charge, design capacity and alarms undecoded as
unverified; so does this driver.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, crc16_modbus, read_fields, uuid16, values_list
from ..models import Sample

HEAD = b"\xfa\xf3\x16"
MIN_LENGTH = 7  # header, device, byte count, CRC
SYSTEM_DEVICE = 0x01
SYSTEM_START, SYSTEM_COUNT = 0x7654, 0x37
PACK_START, PACK_COUNT = 0x75F8, 0x52
CELLS_OFFSET, PROBES_OFFSET = 72, 104
MAX_CELLS = (PROBES_OFFSET - CELLS_OFFSET) // 2
MAX_PACKS = 16

SYSTEM_FIELDS = (
    Field("battery_level", 8, 2, kind="int"),
    Field("battery_health", 10, 2, kind="int"),
    Field("voltage", 14, 2, 0.01),
    Field("system_current", 16, 2, signed=True),
    Field("packs", 42, 2, kind="int"),
)
PACK_FIELDS = (
    Field("cycles", 16, 2, kind="int"),
    Field("voltage", 46, 2, 0.01),
    Field("current", 48, 2, 0.01, signed=True),
    Field("cells", 50, 1, kind="int"),
    Field("probes", 51, 1, kind="int"),
    Field("level", 66, 2, 0.1),
)


def request(device: int, start: int, count: int) -> bytes:
    """A register read request."""
    body = HEAD + start.to_bytes(2, "big") + bytes((device,)) + count.to_bytes(2, "big")
    return body + crc16_modbus(body).to_bytes(2, "little")


SYSTEM_REQUEST = request(SYSTEM_DEVICE, SYSTEM_START, SYSTEM_COUNT)


class EpochProDriver(Driver):
    """Epoch Pro battery system: the system block and one block per pack."""

    family = "epoch_pro"
    title = "Epoch Pro battery"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE4)
    write_uuid = uuid16(0xFFE1)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"service_uuid": uuid16(0xFFE0), "service_data_uuid": uuid16(0x3333), "connectable": True},
    )
    required_keys = ("voltage", "current", "battery_level")

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        self.packs = 1  # packs the latest system block reported

    def requests(self) -> list[bytes]:
        return [SYSTEM_REQUEST] + [request(n, PACK_START, PACK_COUNT)
                                   for n in range(1, self.packs + 1)]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if not HEAD.startswith(buffer[pos : pos + len(HEAD)]):
                pos += 1  # stale bytes before a frame
                continue
            if len(buffer) - pos < MIN_LENGTH:
                break
            end = pos + buffer[pos + 4] + MIN_LENGTH
            if end > len(buffer):
                break
            candidate = buffer[pos:end]
            later = candidate.find(HEAD, 1)
            if later > 0 and crc16_modbus(candidate[:-2]) != int.from_bytes(candidate[-2:], "little"):
                pos += later  # a stale partial frame: the real one starts inside
                continue
            frames.append(candidate)
            pos = end
        return frames, buffer[pos:]

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is None:
            return True
        return frame[3] == request[5] and frame[4] == 2 * int.from_bytes(request[6:8], "big")

    def decode_frames(self, frames: list[bytes]) -> Sample:
        system: dict[str, Any] | None = None
        packs: dict[int, dict[str, Any]] = {}
        for frame in frames:
            if crc16_modbus(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
                raise self.error(f"bad CRC in the response of device {frame[3]}")
            data = frame[5:-2]
            if frame[4] == 2 * SYSTEM_COUNT:
                system = read_fields(self.family, data, SYSTEM_FIELDS)
            elif frame[4] == 2 * PACK_COUNT:
                packs[frame[3]] = self._pack(data)
            else:
                raise self.error(f"unexpected {frame[4]}-byte response of device {frame[3]}")
        if system is None:
            raise self.error("response to the system request is missing")
        out: dict[str, Any] = {k: system[k] for k in ("battery_level", "battery_health", "voltage")}
        for key in ("battery_level", "battery_health"):
            if out[key] > 100:
                raise self.error(f"{key} {out[key]} % is above 100")
        if not 1 <= system["packs"] <= MAX_PACKS:
            raise self.error(f"{system['packs']} packs reported")
        self.packs = system["packs"]
        if not packs:
            out["current"] = float(system["system_current"])
            return out  # type: ignore[return-value]
        ordered = [packs[n] for n in sorted(packs)]
        out["current"] = round(sum(p["current"] for p in ordered), 2)
        out["cycles"] = max(p["cycles"] for p in ordered)
        out["cell_voltages"] = [v for p in ordered for v in p["cell_voltages"]]
        out["temperatures"] = [t for p in ordered for t in p["temperatures"]]
        out["delta_voltage"] = max(p["delta"] for p in ordered)
        # the packs are in parallel: each pack's cells add up to its own voltage
        out["packs"] = [
            {"pack_address": n, "voltage": p["voltage"], "current": p["current"],
             "battery_level": p["level"], "cycles": p["cycles"],
             "cell_voltages": p["cell_voltages"], "temperatures": p["temperatures"]}
            for n, p in sorted(packs.items())
        ]
        return out  # type: ignore[return-value]

    def _pack(self, data: bytes) -> dict[str, Any]:
        pack = read_fields(self.family, data, PACK_FIELDS)
        if not 1 <= pack["cells"] <= MAX_CELLS:
            raise self.error(f"{pack['cells']} cells reported, 1 to {MAX_CELLS} fit a pack block")
        if pack["probes"] > (len(data) - PROBES_OFFSET) // 2:
            raise self.error(f"{pack['probes']} temperature probes do not fit a pack block")
        if pack["level"] > 100:
            raise self.error(f"pack state of charge {pack['level']} % is above 100")
        cells = values_list(data, CELLS_OFFSET, pack["cells"], 2, scale=0.001)
        pack["cell_voltages"] = cells
        pack["delta"] = round(max(cells) - min(cells), 3)
        pack["temperatures"] = values_list(data, PROBES_OFFSET, pack["probes"], 2, signed=True)
        return pack
