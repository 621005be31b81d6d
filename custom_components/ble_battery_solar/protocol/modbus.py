"""Modbus RTU framing over BLE, shared by the Daly, Renogy, Seplos V3 and EG4 drivers.

Request ``<slave> <fn> <start BE> <count BE> <CRC16/Modbus LE>``; response
``<slave> <fn> <byte count> <data...> <CRC LE>``; exception reply
``<slave> <fn | 0x80> <code> <CRC LE>``. A response carries no register
address, so a frame is tied to the request it answers by slave id, function
code, byte count and the order of the poll (`Block`, `assign`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import ClassVar

from .base import NEED_MORE, Driver, crc16_modbus
from .models import FrameError, Sample

READ_FUNCTIONS = frozenset({0x01, 0x02, 0x03, 0x04})
EXCEPTION_FLAG = 0x80
EXCEPTION_LENGTH = 5
HEADER_LENGTH = 3
CRC_LENGTH = 2


def read_request(slave: int, function: int, start: int, count: int) -> bytes:
    """Read request (coils for functions 1/2, registers for 3/4) with its CRC."""
    body = bytes((slave, function)) + start.to_bytes(2, "big") + count.to_bytes(2, "big")
    return body + crc16_modbus(body).to_bytes(2, "little")


def crc_ok(frame: bytes) -> bool:
    """Whether the last two bytes are the CRC16/Modbus (little-endian) of the rest."""
    return len(frame) > CRC_LENGTH and crc16_modbus(frame[:-CRC_LENGTH]) == int.from_bytes(
        frame[-CRC_LENGTH:], "little"
    )


def is_exception(frame: bytes) -> bool:
    """Whether a (whole) frame is an exception reply."""
    return bool(frame[1] & EXCEPTION_FLAG)


def payload(frame: bytes) -> bytes:
    """Data bytes of a (whole, non-exception) response."""
    return frame[HEADER_LENGTH:-CRC_LENGTH]


def frame_length(buffer: bytes, pos: int, slaves: Collection[int],
                 functions: Collection[int]) -> int | None:
    """Length of the response starting at `pos` (see `Driver.frame_length`).

    A frame starts with a slave id and a function code this family answers with.
    """
    if buffer[pos] not in slaves:
        return None
    if len(buffer) - pos < 2:
        return NEED_MORE
    function = buffer[pos + 1]
    if function & 0x7F not in functions:
        return None
    if function & EXCEPTION_FLAG:
        return EXCEPTION_LENGTH
    if len(buffer) - pos < HEADER_LENGTH:
        return NEED_MORE
    return HEADER_LENGTH + buffer[pos + 2] + CRC_LENGTH


def split(family: str, buffer: bytes, slaves: Collection[int],
          functions: Collection[int]) -> tuple[list[bytes], bytes]:
    """Split a stream of Modbus responses into whole frames and an incomplete tail, strictly.

    FrameError when a frame starts with a slave id or function code that this
    family never answers with. Drivers use the resynchronising
    `Driver.frames_in`; this strict form is kept for callers that must refuse
    any stray byte.
    """
    frames: list[bytes] = []
    pos = 0
    while pos < len(buffer):
        if buffer[pos] not in slaves:
            raise FrameError(f"{family}: frame starts with unexpected slave id 0x{buffer[pos]:02X}")
        if len(buffer) - pos < HEADER_LENGTH:
            break
        function = buffer[pos + 1]
        if function & 0x7F not in functions:
            raise FrameError(f"{family}: unexpected Modbus function code 0x{function:02X}")
        if function & EXCEPTION_FLAG:
            end = pos + EXCEPTION_LENGTH
        else:
            end = pos + HEADER_LENGTH + buffer[pos + 2] + CRC_LENGTH
        if end > len(buffer):
            break
        frames.append(buffer[pos:end])
        pos = end
    return frames, buffer[pos:]


@dataclass(frozen=True, slots=True)
class Block:
    """One read request of a poll and the shape of its response."""

    name: str
    slave: int
    function: int
    start: int
    count: int

    @property
    def byte_count(self) -> int:
        """Data bytes of the response: bits packed in bytes for coils, 2 per register."""
        if self.function in (0x01, 0x02):
            return (self.count + 7) // 8
        return 2 * self.count

    @property
    def request(self) -> bytes:
        """The request frame."""
        return read_request(self.slave, self.function, self.start, self.count)

    def answered_by(self, frame: bytes) -> bool:
        """Whether a whole frame is the response (or exception reply) to this block."""
        if len(frame) < HEADER_LENGTH or frame[0] != self.slave:
            return False
        if frame[1] == self.function | EXCEPTION_FLAG:
            return True
        return frame[1] == self.function and frame[2] == self.byte_count


def block_for_request(request: bytes) -> Block | None:
    """The block a request frame reads, or None when it is no read request."""
    if len(request) != 8 or request[1] not in READ_FUNCTIONS or not crc_ok(request):
        return None
    return Block("request", request[0], request[1], int.from_bytes(request[2:4], "big"),
                 int.from_bytes(request[4:6], "big"))


def answers(request: bytes | None, frame: bytes) -> bool:
    """Whether a whole frame answers a read request (None: any frame)."""
    if request is None:
        return True
    block = block_for_request(request)
    return block is not None and block.answered_by(frame)


def assign(family: str, frames: Sequence[bytes], plan: Sequence[Block]) -> list[tuple[Block, bytes]]:
    """Tie each frame to the block of the poll it answers, in poll order.

    Checks every CRC. Blocks may be missing (not requested, not answered), but
    frames must come in plan order and each block is answered at most once.
    """
    tied: list[tuple[Block, bytes]] = []
    next_index = 0
    for frame in frames:
        if not crc_ok(frame):
            raise FrameError(f"{family}: bad CRC in response of slave 0x{frame[0]:02X}")
        for index in range(next_index, len(plan)):
            if plan[index].answered_by(frame):
                tied.append((plan[index], frame))
                next_index = index + 1
                break
        else:
            raise FrameError(
                f"{family}: response (slave 0x{frame[0]:02X}, function 0x{frame[1]:02X}, "
                f"{frame[2]} bytes) answers no outstanding request"
            )
    return tied


class ModbusDriver(Driver):
    """Driver base of a family that speaks Modbus RTU over a BLE notify/write pair.

    Subclasses give the slave ids and function codes they answer with, the
    blocks of one poll (`poll`) and of every poll the frames may come from
    (`plan`, used to recognise frames when decoding), and `decode_blocks`.
    """

    slaves: ClassVar[frozenset[int]] = frozenset()
    functions: ClassVar[frozenset[int]] = frozenset({0x03})

    @abstractmethod
    def poll(self) -> list[Block]:
        """Blocks read in one poll, in order."""

    def plan(self, frames: Sequence[bytes]) -> list[Block]:
        """Every block the frames may answer, in poll order (default: `poll`)."""
        return self.poll()

    def requests(self) -> list[bytes]:
        return [block.request for block in self.poll()]

    def frame_length(self, buffer: bytes, pos: int) -> int | None:
        return frame_length(buffer, pos, self.slaves, self.functions)

    def frame_defect(self, frame: bytes) -> str | None:
        return None if crc_ok(frame) else f"bad CRC in response of slave 0x{frame[0]:02X}"

    def answers(self, request: bytes | None, frame: bytes) -> bool:
        return answers(request, frame)

    def decode_frames(self, frames: list[bytes]) -> Sample:
        return self.decode_blocks(assign(self.family, frames, self.plan(frames)))

    @abstractmethod
    def decode_blocks(self, tied: list[tuple[Block, bytes]]) -> Sample:
        """Decode frames tied to their blocks (CRC checked) into a Sample."""

    def data_of(self, tied: list[tuple[Block, bytes]], name: str, *,
                required: bool = False) -> bytes | None:
        """Payload of the response to block `name`, None when it is missing or an
        exception reply (FrameError instead when `required`)."""
        if required:
            return self.require(tied, name)
        for block, frame in tied:
            if block.name == name:
                return None if is_exception(frame) else payload(frame)
        return None

    def require(self, tied: list[tuple[Block, bytes]], *names: str) -> bytes:
        """Payload of the first answered of one or more alternative required blocks;
        FrameError when none was answered or the answer is an exception."""
        for block, frame in tied:
            if block.name in names:
                if is_exception(frame):
                    raise self.error(
                        f"Modbus exception 0x{frame[2]:02X} in reply to the {block.name} request"
                    )
                return payload(frame)
        raise self.error(f"response to the {' / '.join(names)} request is missing")
