"""Seplos BMS, both BLE protocols.

V3 (service 0xFFF0, notify 0xFFF1, write 0xFFF2): Modbus RTU. Slave 0x00 is the
system (EMS): input registers 0x2000 x 0x1A "EIA" (32-bit values with the low
word first), 0x2100 x 0x16 "EIB", coils 0x2200 x 0x50 "EIC" (switches, alarms).
Pack n (slave n): 0x1000 x 0x11 "PIA" (voltage 10 mV, current 10 mA, SOC
0.1 %, cycles), 0x1100 x 0x1A "PIB" (16 cells 1 mV, temperatures 0.1 K); PIA
is read for parallel packs only. Exception replies ``<addr> <fn | 0x80> <code> <CRC>``.

V2 (service 0xFF00, notify 0xFF01, write 0xFF02): request
``7E 10 <addr> 46 <cmd> <len16> <data> <CRC16/XMODEM BE> 0D``, response
``7E 14 <addr> <cmd> <status> <len16> <data> <CRC16/XMODEM BE over [1:-3]> 0D``;
0x61 telemetry, 0x62 parameters and switches, 0x51 manufacturer information.
Slave packs ("BP01" ...) answer 0x62 with an error status: only the master
has the parallel data, so such an answer leaves switches and alarms out.

Several V3 packs in parallel: the system (EMS) values go to the top level,
each pack's cells and temperatures to `packs` (one Sample per pack, in pack
order, `pack_address` = pack number).

Variants: "v2"; "v3" (one pack) or "v3:<packs>" (or any text naming "<n> packs");
`variant_for` picks V2 for the "BPxx" advertisements.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.alarms import (
    AlarmBit,
    fault,
    protection,
    warning,
)
from custom_components.ble_battery_solar.protocol.base import (
    NEED_MORE,
    Field,
    Matcher,
    crc16_xmodem,
    read_fields,
    read_int,
    uuid16,
    values_list,
)
from custom_components.ble_battery_solar.protocol.checks import summarise_packs
from custom_components.ble_battery_solar.protocol.modbus import Block, ModbusDriver
from custom_components.ble_battery_solar.protocol.models import Advertisement, Sample

# --- V3 (Modbus) -------------------------------------------------------------------

SYSTEM = 0x00
MAX_PACKS = 16
PACK_CELLS = 16
KELVIN = -2731  # temperatures in 0.1 K

EIA = Block("EIA", SYSTEM, 0x04, 0x2000, 0x1A)
EIB = Block("EIB", SYSTEM, 0x04, 0x2100, 0x16)
EIC = Block("EIC", SYSTEM, 0x01, 0x2200, 0x50)


def pia(pack: int) -> Block:
    """Pack information A (voltages, currents, capacities of one pack)."""
    return Block(f"PIA{pack}", pack, 0x04, 0x1000, 0x11)


def pib(pack: int) -> Block:
    """Pack information B (cell voltages and temperatures of one pack)."""
    return Block(f"PIB{pack}", pack, 0x04, 0x1100, 0x1A)


V3_PLAN = [EIA, EIB, EIC] + [b for n in range(1, MAX_PACKS + 1) for b in (pia(n), pib(n))]

EIA_FIELDS = (
    Field("pack_count", 44, 2, kind="int"),
    Field("cycles", 46, 2, kind="int"),
    Field("battery_level", 48, 2, 0.1),
    Field("battery_health", 50, 2, 0.1),
)
EIC_FIELDS = (
    Field("dischrg_mosfet", 7, 1, kind="bool", mask=0x01),
    Field("chrg_mosfet", 7, 1, kind="bool", mask=0x02),
    Field("balancer", 7, 1, kind="bool", mask=0x04),
    Field("heater", 7, 1, kind="bool", mask=0x08),
    # alarm bytes 1-9 without the switch states and status (non-alarm) bytes
    Field("problem_code", 1, 9, kind="int", mask=0xFFFF00FF00FF0000FF),
)
PIA_FIELDS = (
    Field("voltage", 0, 2, 0.01),
    Field("current", 2, 2, 0.01, signed=True),
    Field("battery_level", 10, 2, 0.1),
    Field("cycles", 14, 2, kind="int"),
)
PIB_CELL_TEMPS, PIB_AMBIENT_TEMPS = 32, 48  # 4 cell sensors; ambient and MOSFET sensors
ABSENT_CELL = (0x0000, 0xFFFF)  # unused cell slots of a pack
ABSENT_TEMPERATURE = (0x0000, 0xFFFF)  # unfitted sensor (raw 0 = 0 K)


def swapped32(data: bytes, offset: int, *, signed: bool = False) -> int:
    """32-bit value stored as two big-endian words, low word first."""
    value = read_int(data, offset + 2, 2) << 16 | read_int(data, offset, 2)
    return value - (1 << 32) if signed and value & 0x80000000 else value


# --- V2 (7E framing) -------------------------------------------------------------------

V2_HEAD, V2_TAIL = 0x7E, 0x0D
V2_REQUEST_VERSION, V2_RESPONSE_VERSION = 0x10, 0x14
V2_HEADER, V2_TRAILER = 7, 3  # 7E ver addr cmd status len16 | crc16 0D
V2_MAX_LENGTH = 0x400
CMD_TELEMETRY, CMD_PARAMETERS, CMD_MANUFACTURER = 0x61, 0x62, 0x51
V2_MAX_CELLS, V2_MAX_TEMPS = 24, 12
V2_FIELDS = (
    Field("current", 0, 2, 0.01, signed=True),
    Field("voltage", 2, 2, 0.01),
    Field("cycle_charge", 4, 2, 0.01),
    Field("battery_level", 9, 2, 0.1),
    Field("design_capacity", 11, 2, 0.01),
    Field("cycles", 13, 2, kind="int"),
    Field("battery_health", 15, 2, 0.1),
)
V2_ANALOG_LENGTH = 19  # the fields above plus the port voltage
V2_STATES = (
    Field("dischrg_mosfet", 38, 1, kind="bool", mask=0x01),
    Field("chrg_mosfet", 38, 1, kind="bool", mask=0x02),
    Field("heater", 38, 1, kind="bool", mask=0x08),
)
V2_ALARM_COUNT, V2_MAX_ALARMS = 39, 8
V2_ALARM_MASK = 0x7DFFFFFFFFFF  # ignores alarm bytes 7-8 and status bits of byte 6


def v2_request(cmd: int, data: bytes = b"", address: int = 0) -> bytes:
    """A Seplos V2 request frame."""
    body = bytes((V2_REQUEST_VERSION, address, 0x46, cmd)) + len(data).to_bytes(2, "big") + data
    return bytes((V2_HEAD,)) + body + crc16_xmodem(body).to_bytes(2, "big") + bytes((V2_TAIL,))


V2_NAMES = ("BP0?", "BP1?", "BP2?")
V3_NAMES = (*(f"SP{d}?B*" for d in range(10)), "SP1??B*", "XZHX*", "CSY*")


def _matcher(local_name: str, service: int) -> Matcher:
    return {"local_name": local_name, "service_uuid": uuid16(service), "connectable": True}


_PACKS = re.compile(r"(?:v3:|\b)(\d+)(?:\s*packs?\b|$)")


# V3 alarm bytes of EIC (bytes 1-9 as one big-endian word: byte k at bit (9 - k) * 8), from
# the Seplos V3 Modbus protocol's event tables: TB02 voltage (byte 1), TB03 cell
# temperature (byte 2), TB05 current (byte 4), TB06 capacity (byte 6), TB15 hard faults (byte 9).
V3_ALARM_BITS: dict[int, AlarmBit] = {
    64: warning("cell_overvoltage"),
    65: protection("cell_overvoltage"),
    66: warning("cell_undervoltage"),
    67: protection("cell_undervoltage"),
    68: warning("pack_overvoltage"),
    69: protection("pack_overvoltage"),
    70: warning("pack_undervoltage"),
    71: protection("pack_undervoltage"),
    56: warning("charge_overtemperature"),
    57: protection("charge_overtemperature"),
    58: warning("charge_undertemperature"),
    59: protection("charge_undertemperature"),
    60: warning("discharge_overtemperature"),
    61: protection("discharge_overtemperature"),
    62: warning("discharge_undertemperature"),
    63: protection("discharge_undertemperature"),
    40: warning("charge_overcurrent"),
    41: protection("charge_overcurrent"),
    42: protection("charge_overcurrent"),  # second level
    43: warning("discharge_overcurrent"),
    44: protection("discharge_overcurrent"),
    45: protection("discharge_overcurrent"),  # second level
    46: protection("short_circuit"),
    26: warning("low_state_of_charge"),
    27: protection("low_state_of_charge"),
    28: warning("cell_imbalance"),
    0: fault("sensor_fault"),  # NTC wire break or short
    1: fault("hardware_fault"),  # AFE communication
    2: fault("mosfet_fault"),  # charge MOSFETs short
    3: fault("mosfet_fault"),  # discharge MOSFETs short
    4: fault("cell_imbalance"),  # large voltage difference
    5: fault("wiring_fault"),  # broken sense line
}


class SeplosDriver(ModbusDriver):
    """Seplos V3 (Modbus, EMS + packs) and V2 (7E framing) BMS."""

    family = "seplos"
    title = "Seplos BMS (V2 / V3)"
    service_uuid = uuid16(0xFFF0)
    notify_uuid = uuid16(0xFFF1)
    write_uuid = uuid16(0xFFF2)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        *(_matcher(name, 0xFFF0) for name in V3_NAMES),
        *(_matcher(name, 0xFF00) for name in V2_NAMES),
    )
    slaves = frozenset(range(SYSTEM, MAX_PACKS + 1))
    functions = frozenset({0x01, 0x04})
    required_keys = ("voltage", "current")
    # V3 only: the V2 alarm bytes are laid out otherwise and are not decoded
    alarm_bits: ClassVar[Mapping[int, AlarmBit]] = V3_ALARM_BITS

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        text = (variant or "").lower()
        self.v2 = "v2" in text
        match = _PACKS.search(text)
        self.packs = min(max(int(match.group(1)), 1), MAX_PACKS) if match else 1
        if self.v2:  # V2 talks over the 0xFF00 service
            self.service_uuid = uuid16(0xFF00)  # type: ignore[misc]
            self.notify_uuid = uuid16(0xFF01)  # type: ignore[misc]
            self.write_uuid = uuid16(0xFF02)  # type: ignore[misc]

    def alarm_table(self) -> Mapping[int, AlarmBit]:
        """V3's EIC alarm bits; V2 boards' problem_code is left undecoded."""
        return {} if self.v2 else self.alarm_bits

    @classmethod
    def variant_for(cls, adv: Advertisement) -> str:
        """"v2" for the V2 boards' "BPxx" advertisements, else "v3"."""
        name = adv.local_name or ""
        return "v2" if any(fnmatch.fnmatchcase(name, n) for n in V2_NAMES) else "v3"

    # requests and framing

    def poll(self) -> list[Block]:
        if self.packs == 1:  # one pack: the system values are the pack's
            return [EIA, EIC, pib(1)]
        return [EIA, EIC, *(b for n in range(1, self.packs + 1) for b in (pia(n), pib(n)))]

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        return V3_PLAN

    def requests(self) -> list[bytes]:
        if self.v2:
            return [v2_request(CMD_TELEMETRY, b"\x00"), v2_request(CMD_PARAMETERS)]
        return super().requests()

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        if buffer[pos] != V2_HEAD:
            return super().frame_length(buffer, pos)  # V3: Modbus
        if len(buffer) - pos < V2_HEADER:
            if len(buffer) - pos > 1 and buffer[pos + 1] != V2_RESPONSE_VERSION:
                return None
            return NEED_MORE
        length = read_int(buffer, pos + 5, 2)
        if buffer[pos + 1] != V2_RESPONSE_VERSION or length > V2_MAX_LENGTH:
            return None
        return V2_HEADER + length + V2_TRAILER

    def frame_defect(self, frame: bytes) -> str | None:
        if frame[0] != V2_HEAD:
            return super().frame_defect(frame)
        if frame[-1] != V2_TAIL:
            return f"V2 frame ends with 0x{frame[-1]:02X}, expected 0x0D"
        if crc16_xmodem(frame[1:-3]) != read_int(frame, len(frame) - 3, 2):
            return f"bad CRC in V2 0x{frame[3]:02X} response"
        return None

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        if request is not None and request[0] == V2_HEAD:
            return frame[0] == V2_HEAD and frame[3] == request[4]
        return frame[0] != V2_HEAD and super().answers(request, frame)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        v2 = [frame[0] == V2_HEAD for frame in frames]
        if any(v2) and not all(v2):
            raise self.error("V2 and V3 frames mixed in one response")
        return self._decode_v2(frames) if v2[0] else super().decode_frames(frames)

    # V3

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        # EIB is not needed (and refused with an exception by some firmware); PIA neither
        eia = self.require(tied, EIA.name)
        eic = self.require(tied, EIC.name)
        out: dict[str, Any] = read_fields(self.family, eia, EIA_FIELDS)
        out["voltage"] = swapped32(eia, 0) / 100
        out["current"] = swapped32(eia, 4, signed=True) / 10
        out["cycle_charge"] = swapped32(eia, 8) / 100
        out["design_capacity"] = swapped32(eia, 20) / 100
        packs = out.pop("pack_count")
        if not 1 <= packs <= MAX_PACKS:
            raise self.error(f"system reports {packs} packs, expected 1-{MAX_PACKS}")
        out.update(read_fields(self.family, eic, EIC_FIELDS))

        pack_samples: list[dict[str, Any]] = []
        for pack in range(1, MAX_PACKS + 1):
            pia_data = self.data_of(tied, pia(pack).name)
            data = self.data_of(tied, pib(pack).name, required=pia_data is not None)
            if data is None:
                break
            if pack > packs:
                raise self.error(f"pack {pack} answered, but the system reports {packs} packs")
            pack_cells = values_list(data, 0, PACK_CELLS, 2, scale=0.001, absent=ABSENT_CELL)
            temperatures = [
                *values_list(data, PIB_CELL_TEMPS, 4, 2, scale=0.1, add=KELVIN,
                             absent=ABSENT_TEMPERATURE),
                *values_list(data, PIB_AMBIENT_TEMPS, 2, 2, scale=0.1, add=KELVIN,
                             absent=ABSENT_TEMPERATURE),
            ]
            values: dict[str, Any] = {"pack_address": pack, "cell_count": len(pack_cells),
                                      "temperatures": temperatures}
            if pia_data is not None:
                values.update(read_fields(self.family, pia_data, PIA_FIELDS))
            if pack_cells:
                values["cell_voltages"] = pack_cells
                values["delta_voltage"] = round(max(pack_cells) - min(pack_cells), 3)
            pack_samples.append(values)
        # answers from packs beyond the first gap answer no request of this poll
        answered = {block.name for block, _frame in tied}
        if any(pib(n).name in answered for n in range(len(pack_samples) + 1, MAX_PACKS + 1)):
            raise self.error("pack responses are not numbered consecutively from 1")
        if pack_samples:
            # packs are in parallel: the system's voltage, current and charge come from EIA
            summary = summarise_packs(pack_samples)
            out.update({k: summary[k] for k in ("cell_voltages", "cell_count", "delta_voltage",
                                                "temperatures") if summary.get(k)})
            if len(pack_samples) > 1:
                out["packs"] = pack_samples
        return out  # type: ignore[return-value]

    # V2

    def _decode_v2(self, frames: list[bytes]) -> Sample:
        out: dict[str, Any] = {}
        seen: set[int] = set()
        for frame in frames:
            cmd, status = frame[3], frame[4]
            if status != 0 and cmd != CMD_TELEMETRY:
                # a slave pack (BP01 ...) has no parallel data or manufacturer block to give
                continue
            if status != 0:
                raise self.error(f"BMS reported error status 0x{status:02X} for 0x{cmd:02X}")
            if cmd in seen:
                raise self.error(f"two V2 0x{cmd:02X} responses in one poll")
            seen.add(cmd)
            data = frame[V2_HEADER:-V2_TRAILER]
            if cmd == CMD_TELEMETRY:
                out.update(self._telemetry(data))
            elif cmd == CMD_PARAMETERS:
                out.update(self._parameters(data))
            elif cmd != CMD_MANUFACTURER:
                raise self.error(f"unexpected V2 response to command 0x{cmd:02X}")
        return out  # type: ignore[return-value]

    def _telemetry(self, data: bytes) -> dict[str, Any]:
        if len(data) < 3:
            raise self.error(f"V2 telemetry of {len(data)} bytes is too short")
        cells = data[2]
        if cells > V2_MAX_CELLS or len(data) < 4 + 2 * cells:
            raise self.error(f"{cells} cells do not fit a {len(data)}-byte V2 telemetry frame")
        temps = data[3 + 2 * cells]
        if temps > V2_MAX_TEMPS:
            raise self.error(f"{temps} temperature sensors reported, at most {V2_MAX_TEMPS}")
        base = 4 + 2 * cells + 2 * temps
        alarm = base + V2_ANALOG_LENGTH + 4 + cells + temps
        if alarm >= len(data) or alarm + 1 + data[alarm] + (cells + 7) // 8 > len(data):
            raise self.error(f"V2 telemetry of {len(data)} bytes lacks its status section")
        out = read_fields(self.family, data[base:], V2_FIELDS)
        out["cell_voltages"] = values_list(data, 3, cells, 2, scale=0.001)
        out["temperatures"] = values_list(data, 4 + 2 * cells, temps, 2, scale=0.1, add=KELVIN,
                                          absent=ABSENT_TEMPERATURE)
        balance = alarm + 1 + data[alarm]
        out["balancer"] = any(data[balance : balance + min((cells + 7) // 8, 8)])
        return out

    def _parameters(self, data: bytes) -> dict[str, Any]:
        if len(data) <= V2_ALARM_COUNT or len(data) < V2_ALARM_COUNT + 1 + data[V2_ALARM_COUNT]:
            raise self.error(f"V2 parameter frame of {len(data)} bytes is too short")
        out = read_fields(self.family, data, V2_STATES)
        count = min(data[V2_ALARM_COUNT], V2_MAX_ALARMS)
        alarms = data[V2_ALARM_COUNT + 1 : V2_ALARM_COUNT + 1 + count]
        out["problem_code"] = int.from_bytes(alarms, "big") & V2_ALARM_MASK
        return out
