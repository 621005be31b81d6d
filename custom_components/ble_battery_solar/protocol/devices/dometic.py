"""Dometic / Büttner Tempra batteries (company 2117 with data ``14 85``; services 0xFEFB and 0x2345).

The module's channel A (write 00000001-0000-1000-8000-008025000000, notify
…0002) speaks ASCII commands: ``APP+AEN`` is answered ``MST+AEN``, ``APP+NET``
with ``MST+NET=`` and 11 bytes per battery on the bus, and ``APP+RDN=1`` with
``MST+DCO=`` and 4 bytes, after which the batteries' values arrive as 8-byte
frames ``23 85 <battery> <index> <4 data bytes>``, big-endian: 0x02 voltage
(0.01 V) and current (0.01 A; above 0x7FFF the current is 0x7FFF minus the
word, i.e. discharging), 0x07 design capacity (Ah, 32 bits), 0x0B state of
charge (%), 0x0C temperature (0.1 °C + 50 °C), 0x0E state of health (%),
0x36 stored energy (Wh), 0x56 and 0x57 two cell voltages each (mV). Other
indexes, ``23 4D``/``23 80`` frames and other ``MST+`` messages carry values
nobody has decoded yet and are skipped. A battery counts once its 0x02, 0x0B,
0x0C, 0x0E, 0x36, 0x56 and 0x57 frames have arrived; several batteries on one
bus become packs (``packs``) of one system. The frames carry no checksum.

Sources: patman15/aiobmsble branch ``103-add-dometic-büttner-bms``
(``dometic_bms.py``, and ``tests/bms/test_dometic_bms.py`` with a stream of two
batteries, 0x00 and 0x0F, captured from the vendor's app), aiobmsble 0.31.0
(PyPI: the channel-A handshake, several batteries as packs, design capacity
optional) and the advertisements of patman15/BMS_BLE-HA#564 and #729.
Limitation: aiobmsble 0.31.0 also answers two more channels (B: a toggling
keep-alive byte written to …0003 for every notification of …0004; C: every
notification of …000a echoed to …0009) and repeats ``APP+NET`` every 24 s so
that the module keeps streaming. This driver uses channel A only, so a module
that insists on the keep-alive may stop streaming or drop the link; the
decode follows the captured stream. Disagreements: the branch reads one
battery only (the first seen); 0.31.0 reports every battery as a pack, as here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, uuid16, values_list
from ..checks import summarise_packs
from ..models import Sample

CHANNEL_A_TX = "00000001-0000-1000-8000-008025000000"
CHANNEL_A_RX = "00000002-0000-1000-8000-008025000000"
FRAME = 8
DATA_HEAD = b"\x23\x85"
FRAME_KINDS = (b"\x85", b"\x4d", b"\x80")  # second byte of the 8-byte frames seen
MESSAGE = b"MST+"
# payload lengths after "MST+XXX=" of the messages seen in captures
MESSAGE_LENGTHS = {b"MST+AEN": 7, b"MST+NET=": 8 + 11, b"MST+DCO=": 8 + 4, b"MST+IMP=": 8 + 5}
AEN, NET, RDN = b"APP+AEN", b"APP+NET", b"APP+RDN=1"
ANSWERS = {AEN: b"MST+AEN", NET: b"MST+NET=", RDN: b"MST+DCO="}
REQUIRED = frozenset((0x02, 0x0B, 0x0C, 0x0E, 0x36, 0x56, 0x57))
NEGATIVE_FROM = 0x7FFF

FIELDS = {
    0x02: (Field("voltage", 4, 2, 0.01), Field("current_raw", 6, 2, kind="int")),
    0x07: (Field("design_capacity", 4, 4),),
    0x0B: (Field("battery_level", 4, 1, kind="int"),),
    0x0C: (Field("temperature", 4, 2, 0.1, add=-500),),
    0x0E: (Field("battery_health", 4, 1, kind="int"),),
    0x36: (Field("cycle_capacity", 4, 2),),
}


def _message_length(buffer: bytes, pos: int) -> int | None:
    for head, length in MESSAGE_LENGTHS.items():
        if buffer.startswith(head, pos):
            return length
    return None


class DometicDriver(Driver):
    """Dometic / Büttner battery module, channel A."""

    family = "dometic"
    pushes_data = True
    title = "Dometic / Büttner"
    service_uuid = uuid16(0xFEFB)
    notify_uuid = CHANNEL_A_RX
    write_uuid = CHANNEL_A_TX
    matchers: ClassVar[tuple[Matcher, ...]] = (
        {"manufacturer_id": 2117, "manufacturer_data_start": [0x14, 0x85], "connectable": True},
    )
    required_keys = ("voltage", "current", "battery_level")
    checksummed = False

    def requests(self) -> list[bytes]:
        return [AEN, NET, RDN]

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        frames: list[bytes] = []
        pos = 0
        while pos < len(buffer):
            if buffer[pos] == DATA_HEAD[0] and buffer[pos + 1 : pos + 2] in FRAME_KINDS:
                if len(buffer) - pos < FRAME:
                    return frames, buffer[pos:]
                frames.append(buffer[pos : pos + FRAME])
                pos += FRAME
                continue
            if buffer[pos:] == DATA_HEAD[:1]:
                return frames, buffer[pos:]  # a frame head still arriving
            length = _message_length(buffer, pos)
            if length is None:
                if MESSAGE.startswith(buffer[pos : pos + len(MESSAGE)]) and len(buffer) - pos < 8:
                    return frames, buffer[pos:]  # a message head still arriving
                pos += 1  # bytes of no frame: resynchronise
                continue
            if len(buffer) - pos < length:
                return frames, buffer[pos:]
            frames.append(buffer[pos : pos + length])
            pos += length
        return frames, b""

    def _batteries(self, frames: Sequence[bytes]) -> dict[int, dict[int, bytes]]:
        """The newest data frame of each index, per battery."""
        out: dict[int, dict[int, bytes]] = {}
        for frame in frames:
            if frame.startswith(DATA_HEAD):
                out.setdefault(frame[2], {})[frame[3]] = frame
        return out

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        frames, _rest = self.split(b"".join(notifications))
        if request is not None and request != RDN:
            return any(f.startswith(ANSWERS[request]) for f in frames)
        batteries = self._batteries(frames)
        return bool(batteries) and all(b.keys() >= REQUIRED for b in batteries.values())

    def decode_frames(self, frames: list[bytes]) -> Sample:
        batteries = self._batteries(frames)
        if not batteries:
            raise self.error("no battery data frame (23 85 …) in the stream")
        packs = [self._battery(n, batteries[n]) for n in sorted(batteries)]
        if len(packs) == 1:
            packs[0].pop("pack_address")
            return packs[0]  # type: ignore[return-value]
        out = summarise_packs(packs)
        # what summarise_packs leaves out: the measured energy, the weakest health,
        # the cell spread within one battery (they are not balanced against each other)
        out["cycle_capacity"] = round(sum(p["cycle_capacity"] for p in packs), 3)
        out["battery_health"] = min(p["battery_health"] for p in packs)
        out["delta_voltage"] = max(round(max(p["cell_voltages"]) - min(p["cell_voltages"]), 3)
                                   for p in packs)
        out["packs"] = packs
        return out  # type: ignore[return-value]

    def _battery(self, number: int, frames: dict[int, bytes]) -> dict[str, Any]:
        missing = sorted(REQUIRED - frames.keys())
        if missing:
            listed = ", ".join(f"0x{i:02X}" for i in missing)
            raise self.error(f"battery 0x{number:02X} lacks the frames {listed}")
        out: dict[str, Any] = {"pack_address": number}
        for index, fields in FIELDS.items():
            if index in frames:
                out.update(read_fields(self.family, frames[index], fields))
        raw = out.pop("current_raw")
        out["current"] = round((raw if raw <= NEGATIVE_FROM else NEGATIVE_FROM - raw) / 100, 2)
        out["temperatures"] = [out.pop("temperature")]
        out["cycle_capacity"] = float(out["cycle_capacity"])
        if "design_capacity" in out:
            out["design_capacity"] = float(out["design_capacity"])
            out["cycle_charge"] = round(out["design_capacity"] * out["battery_level"] / 100, 3)
        out["cell_voltages"] = [v for i in (0x56, 0x57)
                                for v in values_list(frames[i], 4, 2, 2, scale=0.001)]
        return out
