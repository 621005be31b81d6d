"""TianPower (TianPwr) BMS: service 0xFF00, notify 0xFF01, write 0xFF02.

Each request ``55 04 <cmd> AA`` is answered by one fixed 20-byte frame
``55 14 <cmd> <16 data bytes> AA`` without checksum; values are big-endian.
0x83 status (state of charge, voltage 10 mV, ambient and MOSFET temperature
0.1 °C, current 10 mA with + = charging, state of health), 0x84 general
(cell and sensor counts, capacity and remaining charge 10 mAh, cycles,
alarms), 0x85 MOSFETs and balancing, 0x87 cell temperatures 0.1 °C, 0x88-0x8A
cell voltages (8 per frame, mV). 0x81/0x82 answer with the software/hardware
version as text.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..base import Driver, Field, Matcher, read_fields, uuid16, values_list
from ..models import Sample

HEAD, TAIL, READ = 0x55, 0xAA, 0x04
FRAME_LEN = 20
DATA_OFFSET = 3
CMD_SW, CMD_HW = 0x81, 0x82
CMD_STATUS, CMD_GENERAL, CMD_MOSFET, CMD_TEMPS = 0x83, 0x84, 0x85, 0x87
CELL_CMDS = (0x88, 0x89, 0x8A)
CELLS_PER_FRAME = 8
MAX_CELLS = CELLS_PER_FRAME * len(CELL_CMDS)
MAX_TEMPS = 8  # 16 data bytes of the 0x87 frame
REQUIRED = (CMD_STATUS, CMD_GENERAL, CMD_MOSFET, CMD_TEMPS)
KNOWN = frozenset((CMD_SW, CMD_HW, *REQUIRED, *CELL_CMDS))

STATUS_FIELDS = (
    Field("battery_level", 3, 2, kind="int"),
    Field("voltage", 5, 2, 0.01),
    Field("ambient_temperature", 9, 2, 0.1, signed=True),
    Field("mosfet_temperature", 11, 2, 0.1, signed=True),
    Field("current", 13, 2, 0.01, signed=True),
    Field("battery_health", 17, 2, kind="int"),
)
GENERAL_FIELDS = (
    Field("cell_count", 3, 1, kind="int"),
    Field("temp_count", 4, 1, kind="int"),
    Field("design_capacity", 5, 2, 0.01),
    Field("cycle_charge", 7, 2, 0.01),
    Field("cycles", 9, 2, kind="int"),
    Field("problem_code", 11, 8, kind="int"),
)
MOSFET_FIELDS = (
    Field("dischrg_mosfet", 4, 1, kind="bool", mask=0x01),
    Field("chrg_mosfet", 4, 1, kind="bool", mask=0x02),
    Field("balancer", 13, 2, kind="bool"),
)


def _blocks(cells: int) -> int:
    """Number of cell-voltage blocks that hold `cells` cells."""
    return -(-cells // CELLS_PER_FRAME)


def request(cmd: int) -> bytes:
    """Read request for one register block."""
    return bytes((HEAD, READ, cmd, TAIL))


class TianPowerDriver(Driver):
    """TianPower BMS: seven 20-byte request/response exchanges per poll."""

    family = "tianpower"
    checksummed = False
    title = "TianPower BMS"
    service_uuid = uuid16(0xFF00)
    notify_uuid = uuid16(0xFF01)
    write_uuid = uuid16(0xFF02)
    # The BMS advertises neither services nor manufacturer data, only "TP_<serial>".
    matchers: ClassVar[tuple[Matcher, ...]] = ({"local_name": "TP_*", "connectable": True},)
    required_keys = ("voltage", "current", "battery_level", "cell_voltages")

    def __init__(self, variant: str | None = None) -> None:
        super().__init__(variant)
        # cell count learned from the 0x84 block: later polls ask only for the cell blocks in use
        self.cell_count: int | None = None

    def requests(self) -> list[bytes]:
        cells = CELL_CMDS if self.cell_count is None else CELL_CMDS[: _blocks(self.cell_count)]
        return [request(cmd) for cmd in (*REQUIRED, *cells)]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        head = buffer[pos : pos + DATA_OFFSET]
        if head[0] != HEAD or (len(head) > 1 and head[1] != FRAME_LEN):
            return None
        if len(head) > 2 and head[2] not in KNOWN:
            return None
        return FRAME_LEN

    def frame_defect(self, frame: bytes) -> str | None:
        return None if frame[-1] == TAIL else f"frame ends with 0x{frame[-1]:02X}, expected 0xAA"

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return request is None or frame[2] == request[2]

    def decode_frames(self, frames: list[bytes]) -> Sample:
        blocks: dict[int, bytes] = {}
        for frame in frames:
            blocks[frame[2]] = frame
        missing = [f"0x{cmd:02X}" for cmd in REQUIRED if cmd not in blocks]
        if missing:
            raise self.error(f"response lacks block {', '.join(missing)}")
        out: dict[str, Any] = {}
        for cmd, key in ((CMD_SW, "sw_version"), (CMD_HW, "hw_version")):
            if cmd in blocks:
                out[key] = blocks[cmd][DATA_OFFSET:-1].split(b"\x00", 1)[0].decode("ascii", "replace")
        status = read_fields(self.family, blocks[CMD_STATUS], STATUS_FIELDS)
        general = read_fields(self.family, blocks[CMD_GENERAL], GENERAL_FIELDS)
        out.update(status)
        out.update(general)
        out.update(read_fields(self.family, blocks[CMD_MOSFET], MOSFET_FIELDS))
        cell_count, temp_count = out.pop("cell_count"), out.pop("temp_count")
        if not 0 < cell_count <= MAX_CELLS:
            raise self.error(f"impossible cell count {cell_count}")
        if temp_count > MAX_TEMPS:
            raise self.error(f"impossible temperature sensor count {temp_count}")
        self.cell_count = cell_count  # next poll asks for the blocks this count needs
        cells: list[float] = []
        for cmd in CELL_CMDS[: _blocks(cell_count)]:
            if cmd not in blocks:
                raise self.error(f"{cell_count} cells but no cell block 0x{cmd:02X}")
            cells += values_list(blocks[cmd], DATA_OFFSET, CELLS_PER_FRAME, 2, scale=0.001)
        out["cell_voltages"] = cells[:cell_count]
        out["temperatures"] = [
            *values_list(blocks[CMD_TEMPS], DATA_OFFSET, temp_count, 2, scale=0.1, signed=True),
            out.pop("ambient_temperature"),
            out.pop("mosfet_temperature"),
        ]
        return out  # type: ignore[return-value]
