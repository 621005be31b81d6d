"""Masks identifying bytes in raw notifications before diagnostics show them.

Device-info frames carry what identifies an owner's device: serial numbers,
owner-given names, passcodes, manufacturing dates (a JK type 0x03 frame, a JBD
0x05 answer, a Seplos V2 0x51 answer, the device-info registers of the Modbus
families). Diagnostics keep the raw notifications of the latest poll because
they are what a malformed-response report needs, so three rules apply to the
byte stream of one poll:

1. device-info frames a family defines are masked past the bytes that only name
   the frame type, model and firmware (wherever they start in the stream);
2. whole frames a family defines as measurements are kept as they are;
3. every other byte (other frames, fragments, garbage, Modbus responses, which
   carry no register address) loses every run of printable ASCII of
   `MIN_TEXT_RUN` bytes or more: names, serials, passcodes and dates are text.

The notifications keep their boundaries; a masked byte is shown as `**`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .protocol import FrameError
from .protocol.base import Driver

MASK = "**"
MIN_TEXT_RUN = 4

# JK: 55 AA EB 90 <type>; the device-info frame (type 0x03) keeps its model (6..22),
# hardware (22..30) and software version (30..38); name, passcodes, dates, serial and
# user data follow.
JK_HEAD = b"\x55\xaa\xeb\x90"
JK_DEVICE_INFO, JK_CELL_INFO = 0x03, 0x02
JK_KEEP, JK_FRAME = 38, 300

Span = tuple[int, int]
# where a device-info frame starts, and the span of its bytes to mask
Identity = tuple[int, int, int]


def _find_all(buffer: bytes, head: bytes) -> Iterable[int]:
    pos = buffer.find(head)
    while pos >= 0:
        yield pos
        pos = buffer.find(head, pos + 1)


# --- rule 1: device-info frames, found by their header ---------------------------------
# Scanned over the whole stream (a poll can end inside a frame), except inside the
# measurement frames of rule 2, whose data could happen to look like a header.


def _jk_identity(buffer: bytes) -> list[Identity]:
    return [
        (pos, pos + JK_KEEP, pos + JK_FRAME)
        for pos in _find_all(buffer, JK_HEAD + bytes((JK_DEVICE_INFO,)))
    ]


def _jbd_identity(buffer: bytes) -> list[Identity]:
    # DD 05 <status> <len> <hardware version / device name> <crc16> 77
    return [
        (pos, pos + 4, pos + 4 + (buffer[pos + 3] if pos + 3 < len(buffer) else 0) + 2)
        for pos in _find_all(buffer, b"\xdd\x05")
    ]


def _seplos_v2_identity(buffer: bytes) -> list[Identity]:
    # 7E <ver> <addr> <cid2=0x51 manufacturer info> <status> <len16> <text...> <crc16> 0D
    spans = []
    for pos in _find_all(buffer, b"\x7e"):
        if buffer[pos + 3 : pos + 4] == b"\x51":
            length = int.from_bytes(buffer[pos + 5 : pos + 7], "big") if pos + 7 <= len(buffer) else 0
            spans.append((pos, pos + 4, pos + 7 + length + 2))
    return spans


IDENTITY: dict[str, Callable[[bytes], list[Identity]]] = {
    "jk": _jk_identity,
    "jbd": _jbd_identity,
    "seplos": _seplos_v2_identity,
}


# --- rule 2: whole frames that only carry measurements --------------------------------


def _is_measurement(family: str, frame: bytes) -> bool:
    match family:
        case "jk":
            return frame.startswith(JK_HEAD) and len(frame) > 4 and frame[4] == JK_CELL_INFO
        case "jbd":
            return frame[:2] in (b"\xdd\x03", b"\xdd\x04")
        case "seplos":  # V2 analog data (0x61) and parameters (0x62); V3 speaks Modbus
            return frame[:1] == b"\x7e" and frame[3:4] in (b"\x61", b"\x62")
        case "tianpower":  # 55 14 <cmd>: status, general, MOSFET, temperatures, cells
            return frame[:2] == b"\x55\x14" and frame[2:3] in b"\x83\x84\x85\x87\x88\x89\x8a"
        case "ant":  # status replies of the 7E A1 and the legacy protocol
            return frame[:3] == b"\x7e\xa1\x11" or frame[:4] == b"\xaa\x55\xaa\xff"
        case "topband":  # ASCII-hex measurement frames, the only thing these devices push
            return True
        case "ble_battery_service":  # one byte: the battery level
            return len(frame) == 1
    return False


def _frame_spans(driver: Driver, buffer: bytes) -> list[tuple[Span, bool]]:
    """Where each whole frame of the stream lies, and whether it is a measurement frame."""
    try:
        frames, _rest = driver.frames_in(buffer)
    except (FrameError, IndexError, ValueError):
        return []  # the stream does not split: every byte gets the text rule
    spans, pos = [], 0
    for frame in frames:
        start = buffer.find(frame, pos)
        if start < 0:
            break
        pos = start + len(frame)
        spans.append(((start, pos), _is_measurement(driver.family, frame)))
    return spans


# --- rule 3 and the whole --------------------------------------------------------------


def _is_text(byte: int) -> bool:
    return 0x20 <= byte < 0x7F


def masked_positions(driver: Driver, buffer: bytes) -> set[int]:
    """Positions of the bytes in one poll's byte stream that diagnostics must not show."""
    masked: set[int] = set()
    kept = bytearray(len(buffer))
    spans = _frame_spans(driver, buffer)
    for (start, end), measurement in spans:
        if measurement:
            kept[start:end] = b"\x01" * (end - start)
    # a run of text ends where a frame starts: a header byte that happens to be
    # printable ('{', '~', ':') belongs to its frame, not to the text before it
    frame_starts = {start for (start, _end), _m in spans}
    scan = IDENTITY.get(driver.family)
    for header, start, end in scan(buffer) if scan else ():
        if not kept[header]:  # a header inside a measurement frame is data
            kept[header:start] = b"\x01" * (start - header)  # type, model, firmware
            masked.update(range(start, min(end, len(buffer))))
    run_start = None
    for pos in range(len(buffer) + 1):
        text = pos < len(buffer) and not kept[pos] and _is_text(buffer[pos])
        if pos in frame_starts and run_start is not None:
            if pos - run_start >= MIN_TEXT_RUN:
                masked.update(range(run_start, pos))
            run_start = None
        if text and run_start is None:
            run_start = pos
        elif not text and run_start is not None:
            if pos - run_start >= MIN_TEXT_RUN:
                masked.update(range(run_start, pos))
            run_start = None
    return masked


def redact_notifications(driver: Driver, notifications: Sequence[bytes]) -> list[str]:
    """Hex of each notification with identifying bytes shown as `**`."""
    buffer = b"".join(notifications)
    masked = masked_positions(driver, buffer)
    out, pos = [], 0
    for notification in notifications:
        out.append(
            "".join(
                MASK if pos + i in masked else f"{byte:02x}"
                for i, byte in enumerate(notification)
            )
        )
        pos += len(notification)
    return out


def redact_hex_frames(driver: Driver, frames_hex: Sequence[str]) -> list[str]:
    """`redact_notifications` for notifications kept as hex strings."""
    notifications = []
    for text in frames_hex:
        try:
            notifications.append(bytes.fromhex(text))
        except ValueError:
            notifications.append(b"")  # not hex: nothing of it is shown
    return redact_notifications(driver, notifications)
