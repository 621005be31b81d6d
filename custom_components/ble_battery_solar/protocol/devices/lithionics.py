"""Lithionics NeverDie / Li3 batteries: an ASCII line stream on 0xFFE1 of service 0xFFE0.

The BMS needs no request: once notifications are enabled it streams CRLF
terminated lines of comma-separated decimal fields. Which layout the primary
line has depends on the BMS's "Serial Data Format" setting:

- comma variant: ``<V 0.01 V>,<4 cells 0.01 V>,<2 probes °F>,<current A>,
  <SOC %>,<status hex>`` (e.g. ``1399,350,350,350,349,55,48,-3,99,000000``);
- fixed-length variant (zero-padded, field widths 1,5,4,3,3,1,5,6,3,6):
  ``<battery id>,<remaining 0.1 Ah>,<V 0.1 V>,<SOC %>,<unknown>,
  <charging flag>,<current 0.1 A>,<power W>,<probe °F>,<status hex>``.

The status line ``&,<id>,<remaining Ah>,<lifetime Ah>,...`` carries the
remaining charge for the comma variant. ``#,<n>,<module>,...`` lines describe
modules and ``ERROR`` answers a command; both are recognised and not decoded.
A stream joined mid-line starts with the tail of a line: a first line that is
not a valid line of either kind is skipped. The frames carry no checksum, so
every field must be a plain decimal (or hex for the status word) of bounded
length, and the plausibility rule checks the pack voltage against its cells.

Sources: patman15/aiobmsble ``lithionics_bms.py`` and
``tests/bms/test_lithionics_bms.py`` (comma variant, 12 V Li3 pack),
aiobmsble 0.31.0 (PyPI) and patman15/aiobmsble#271 (fixed-length variant of a
48 V / 16S Li3 pack, firmware 9.0.04; status word masked with 0x68CEFD so that
state bits such as 0x000100 "AUX contacts closed" are not alarms).
Disagreements: aiobmsble requires the status line for both layouts; here the
fixed-length line, which carries the remaining charge itself, is enough. The
fixed-length current field's sign convention is not documented by the source;
its value is taken as signed text (a leading "-" is honoured) and not forced
from the charging flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..base import Driver, Matcher, uuid16
from ..models import Sample

EOL = b"\r\n"
STATUS_HEAD = b"&,"
MODULE_HEAD = b"#,"
IGNORED = (b"ERROR", b"")
PRIMARY_FIELDS = 10
STATUS_MIN_FIELDS = 3
FIXED_WIDTHS = (1, 5, 4, 3, 3, 1, 5, 6, 3, 6)
MAX_DIGITS = 9
PROBLEM_MASK = 0x68CEFD
MAX_LINE = 512  # longer "lines" are no lines of this BMS


def fahrenheit(value: int) -> float:
    """Degrees Celsius of a whole-degree Fahrenheit reading."""
    return round((value - 32) * 5 / 9, 3)


class LithionicsDriver(Driver):
    """Lithionics NeverDie / Li3 BMS streaming ASCII lines."""

    family = "lithionics"
    title = "Lithionics NeverDie / Li3"
    service_uuid = uuid16(0xFFE0)
    notify_uuid = uuid16(0xFFE1)
    matchers: ClassVar[tuple[Matcher, ...]] = (
        # Home Assistant needs three literal characters before a wildcard
        {"local_name": "Li3-*", "manufacturer_id": 19784, "connectable": True},
        {"local_name": "Li3-*", "service_uuid": uuid16(0xFFE0), "connectable": True},
        {"local_name": "Lithionics*", "connectable": True},
        {"local_name": "NeverDie*", "connectable": True},
    )
    required_keys = ("voltage", "current", "battery_level")
    checksummed = False

    def frames_in(self, buffer: bytes) -> tuple[list[bytes], bytes]:
        lines: list[bytes] = []
        pos = 0
        while (end := buffer.find(EOL, pos)) >= 0:
            line = buffer[pos : end + 2]
            if pos > 0 or self._kind(line[:-2]) is not None:
                lines.append(line)  # a first line that is no line is the tail of an earlier one
            pos = end + 2
        rest = buffer[pos:]
        if len(rest) > MAX_LINE:
            raise self.error(f"{len(rest)} bytes without a line end")
        return lines, rest

    def response_complete(self, request: bytes | None, notifications: Sequence[bytes]) -> bool:
        lines, _rest = self.split(b"".join(notifications))
        kinds = {self._kind(line[:-2]) for line in lines}
        # a damaged line inside the stream is an answer too: the decode says what is wrong
        return None in kinds or "fixed" in kinds or {"primary", "status"} <= kinds

    def _kind(self, line: bytes) -> str | None:
        """Which line this is (None: not a line of this BMS or not a whole one)."""
        if line in IGNORED:
            return "ignored"
        if line.startswith(STATUS_HEAD):
            return "status" if line.count(b",") + 1 >= STATUS_MIN_FIELDS else None
        if line.startswith(MODULE_HEAD):
            return "module"
        fields = line.split(b",")
        if len(fields) != PRIMARY_FIELDS or not line[:1].isdigit():
            return None
        if tuple(len(f) for f in fields) == FIXED_WIDTHS:
            return "fixed"
        return "primary"

    def decode_frames(self, frames: list[bytes]) -> Sample:
        latest: dict[str, list[str]] = {}
        for index, frame in enumerate(frames):
            line = frame[:-2]
            kind = self._kind(line)
            if kind is None:
                shown = line[:40].decode("ascii", "replace")
                raise self.error(f"line {index + 1} is not a line of this BMS: {shown!r}")
            if kind in ("ignored", "module"):
                continue
            try:
                latest[kind] = line.decode("ascii").split(",")
            except UnicodeDecodeError as err:
                raise self.error(f"line {index + 1} is not ASCII") from err
        out: dict[str, Any] = {}
        if "fixed" in latest:
            out.update(self._fixed(latest["fixed"]))
        elif "primary" in latest:
            out.update(self._primary(latest["primary"]))
        else:
            raise self.error("no primary line in the stream")
        if "status" in latest and "fixed" not in latest:
            out.update(self._status(latest["status"]))
        return out  # type: ignore[return-value]

    def _number(self, text: str, name: str) -> int:
        digits = text[1:] if text[:1] == "-" else text
        if not digits.isdigit() or not digits.isascii() or len(digits) > MAX_DIGITS:
            raise self.error(f"{name} {text!r} is not a decimal number")
        return int(text)

    def _problem(self, text: str) -> int:
        if not text or len(text) > MAX_DIGITS or not all(c in "0123456789abcdefABCDEF" for c in text):
            raise self.error(f"status word {text!r} is not a hex number")
        return int(text, 16) & PROBLEM_MASK

    def _primary(self, f: list[str]) -> dict[str, Any]:
        soc = self._number(f[8], "state of charge")
        return {
            "voltage": self._number(f[0], "voltage") / 100,
            "cell_voltages": [self._number(v, f"cell {i + 1}") / 100 for i, v in enumerate(f[1:5])],
            "temperatures": [fahrenheit(self._number(v, "temperature")) for v in f[5:7]],
            "current": float(self._number(f[7], "current")),
            "battery_level": soc,
            "problem_code": self._problem(f[9]),
        }

    def _fixed(self, f: list[str]) -> dict[str, Any]:
        flag = self._number(f[5], "charging flag")
        if flag > 1:
            raise self.error(f"charging flag {flag} is neither 0 nor 1")
        return {
            "cycle_charge": self._number(f[1], "remaining charge") / 10,
            "voltage": self._number(f[2], "voltage") / 10,
            "battery_level": self._number(f[3], "state of charge"),
            "current": self._number(f[6], "current") / 10,
            "power": float(self._number(f[7], "power")),
            "temperatures": [fahrenheit(self._number(f[8], "temperature"))],
            "problem_code": self._problem(f[9]),
        }

    def _status(self, f: list[str]) -> dict[str, Any]:
        return {"cycle_charge": float(self._number(f[2], "remaining charge"))}
