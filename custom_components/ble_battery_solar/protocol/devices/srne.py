"""SRNE solar charge controllers (ML series) and their rebrands (Rich Solar, PowMr)
through a BT-1/BT-2 style module: the Renogy controller protocol at other device ids.

Renogy's Rover is an SRNE design, and SRNE's published Modbus map ("MODBUS
communication protocol for SRNE solar charge controllers") is the same map:
0x000C x 8 model string, 0x0014 x 4 software and hardware version, 0x0018 x 2
serial number, 0x001A device address, 0x0100... charging information with the
load state (high byte) and charging state (low byte) in 0x0120 and the 32-bit
fault word in 0x0121-0x0122 (bits 16-30: over-discharge, battery over-voltage,
under-voltage warning, load short, load over-power, controller and ambient
over-temperature, PV over-power, PV short, PV over-voltage, PV counter-current,
working-point over-voltage, PV reversed, anti-reverse MOS short, charge MOS short).
SRNE units answer the broadcast id 0xFF and their own address (1 unless set; 16/17
daisy-chained, 96/97 behind a hub per cyrils/renogy-bt's README), so any unicast id is
accepted. The poll reads the charging block one register further than the Renogy
driver (0x23 registers) to take the whole fault word; a 0x22-register answer (what
the Renogy tools read) decodes too, with the fault word's high half (bits 16-31,
every named bit) as the Renogy driver reads it. The bits are decoded with the
Rover's table (renogy_controller.ROVER_ALARMS: SRNE's map and Renogy's name the
same bits); bits 0-15 and 31 are reserved and stay in `problem_code` if ever set.

The module advertises exactly like Renogy's (``BT-TH-<MAC>``, service 0xFFD0), so
the advertisement cannot tell the brands apart: the model string can. Renogy's
models start ``RNG``/``RCC``/``RBC``/``RIV``/``RBT``; a device whose model read
answers with one of those is left to the renogy_controller family when probing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from custom_components.ble_battery_solar.protocol.base import Field, read_fields, read_int
from custom_components.ble_battery_solar.protocol.devices.renogy_controller import (
    ADDRESS,
    BATTERY_TYPE,
    MODEL,
    SLAVE,
    RenogyControllerDriver,
    blocks_at,
)
from custom_components.ble_battery_solar.protocol.modbus import (
    Block,
    answers,
    block_for_request,
    is_exception,
    payload,
)
from custom_components.ble_battery_solar.protocol.models import Sample

CHARGING = Block("charging information", SLAVE, 0x03, 0x0100, 0x22)
CHARGING_FAULTS = Block("charging information and faults", SLAVE, 0x03, 0x0100, 0x23)
VERSION = Block("version", SLAVE, 0x03, 0x0014, 4)
SERIAL = Block("serial number", SLAVE, 0x03, 0x0018, 2)
FAULT_FIELD = Field("problem_code", 66, 4, kind="int")
RENOGY_MODELS = (b"RNG", b"RCC", b"RBC", b"RIV", b"RBT", b"RMS")


def version_text(data: bytes) -> str:
    """Version from the three low bytes of a 32-bit register pair: ``V<major>.<minor>.<patch>``."""
    return f"V{data[1]:02d}.{data[2]:02d}.{data[3]:02d}"


class SrneDriver(RenogyControllerDriver):
    """SRNE ML / Rich Solar / PowMr controller behind a BT-1/BT-2 style module."""

    family = "srne"
    title = "SRNE / Rich Solar / PowMr solar charge controller"
    alternatives: ClassVar[tuple[str, ...]] = ()

    def poll(self) -> list[Block]:
        return [MODEL, VERSION, SERIAL, ADDRESS, CHARGING_FAULTS, BATTERY_TYPE]

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        # the charging block answered with or without the fault word (0x23 / 0x22 registers)
        return blocks_at(frames[0][0], [MODEL, VERSION, SERIAL, ADDRESS, CHARGING_FAULTS,
                                        CHARGING, BATTERY_TYPE])

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        frames, _rest = self.split(b"".join(notifications))
        return any(answers(request, f) for f in frames)

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        """A model string naming a Renogy product is not an SRNE controller (see the module doc)."""
        if not answers(request, frame):
            return False
        block = block_for_request(request) if request is not None else None
        if block is None or block.start != MODEL.start or is_exception(frame):
            return True
        return not payload(frame).strip(b"\x00 ").startswith(RENOGY_MODELS)

    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        out: dict[str, Any] = {}
        model = self.data_of(tied, MODEL.name)
        if model is not None and (text := model.decode("ascii", "replace").strip("\x00 ")):
            out["model"] = text
        version = self.data_of(tied, VERSION.name)
        if version is not None:
            out["sw_version"] = version_text(version[0:4])
            out["hw_version"] = version_text(version[4:8])
        serial = self.data_of(tied, SERIAL.name)
        if serial is not None:
            out["serial_number"] = serial.hex().upper()
        charging = self.data_of(tied, CHARGING_FAULTS.name)
        if charging is None:
            charging = self.require(tied, CHARGING_FAULTS.name, CHARGING.name)
        out.update(self._charging(charging, dcc=False))
        if len(charging) >= FAULT_FIELD.offset + FAULT_FIELD.size:
            out.update(read_fields(self.family, charging, (FAULT_FIELD,)))
        else:  # the 0x22-register answer ends with the word's high half (0x0121)
            out["problem_code"] = read_int(charging, FAULT_FIELD.offset, 2) << 16
        return out  # type: ignore[return-value]
