"""Simulated devices: the device side of each protocol on a time-varying model.

`SimDevice` is the base of every simulated peripheral: how it advertises, its
GATT table, how it answers writes and reads (whole frames; the transport in
`proxy.py` splits them into MTU-sized notifications), what it streams on its
own, and the faults a test switched on. Each protocol family lives in
`blesim/families/<family>.py`.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from .model import BatteryModel

if TYPE_CHECKING:
    from .replay import Replay

SIG = "0000{:04x}-0000-1000-8000-00805f9b34fb"
WRITE = ("write", "write-without-response")
NOTIFY = ("notify",)
# ATT errors of a device that requires bonding (Bluetooth Core Vol 3 Part F 3.4.1.1)
INSUFFICIENT_AUTHENTICATION = 0x05
INSUFFICIENT_ENCRYPTION = 0x0F


def uuid16(short: int) -> str:
    """128-bit form of a 16-bit UUID."""
    return SIG.format(short)


@dataclass
class Faults:
    """Faults a test can switch on for one device (set attributes, or use `SimDevice.fault_for`)."""

    refuse_connect: bool = False  # connect fails at once
    connect_delay: float = 0.0  # extra seconds before a connect completes
    no_answer: bool = False  # requests (and reads) are swallowed; streams stop
    corrupt: bool = False  # frames get a wrong checksum
    truncate: bool = False  # frames lose their last byte
    drop_mid_response: bool = False  # the link drops after the first notification
    out_of_range: bool = False  # no advertisements, connects fail "not found"
    held_by_phone: bool = False  # the vendor's app holds the only connection
    corrupt_next: int = 0  # the next N answers (writes or reads) carry a corrupt frame
    drop_next: int = 0  # the link drops during the next N answers
    hang_write: bool = False  # writes are accepted and never complete
    hang_read: bool = False  # reads never complete
    hang_subscribe: bool = False  # enabling notifications never completes
    refuse_control: bool = False  # control writes are answered "refused" and change nothing
    ignore_control: bool = False  # control writes get no answer and change nothing
    refuse_pairing: bool = False  # pairing requests fail (the device rejects the bond)

    def clear(self) -> None:
        """Switch every fault off."""
        for f in fields(self):
            setattr(self, f.name, f.default)


class SimDevice:
    """Base of a simulated peripheral: advertisement, GATT table and protocol handler.

    Subclasses set the class attributes and implement `on_write` (request →
    whole response frames), `on_read` and, for devices that push data on their
    own, `stream_frames` with a `stream_period`.
    """

    family: ClassVar[str] = ""
    local_name: ClassVar[str] = "SIM"
    service_uuids: ClassVar[tuple[str, ...]] = ()
    manufacturer_data: ClassVar[dict[int, bytes]] = {}
    gatt: ClassVar[dict[str, dict[str, tuple[str, ...]]]] = {}
    notify_uuid: ClassVar[str | None] = None
    mtu: int = 23
    # alarm and protection bits, laid out as the family's problem_code (JBD, JK, Daly and
    # Seplos V3 put them into their frames; a test sets them to raise alarms)
    problem_code: int = 0
    # seconds between frames a device pushes by itself (None: it only answers)
    stream_period: ClassVar[float | None] = None

    def __init__(self, address: str, name: str | None = None, *, rssi: int = -60,
                 model: Any = None, variant: str | None = None, bonding: bool = False,
                 bonding_error: int = INSUFFICIENT_AUTHENTICATION) -> None:
        self.address = address
        self.name = name or self.local_name
        self.rssi = rssi
        self.variant = variant
        self.model = model if model is not None else self.default_model()
        if model is None:  # cells of different devices differ, reproducibly per address
            battery = getattr(self.model, "battery", self.model)
            if isinstance(battery, BatteryModel):
                battery.reseed(zlib.crc32(address.encode()))
        self.faults = Faults()
        self.requests_seen: list[bytes] = []
        self.centrals: set[object] = set()  # clients connected right now (any proxy)
        self.connects = 0  # links opened to this device, over every proxy
        self.disconnects = 0  # links that ended (either side)
        self.replay: Replay | None = None
        self._fault_timers: list[asyncio.TimerHandle] = []
        # Bonding: a device that requires it refuses every GATT operation on its
        # characteristics (ATT `bonding_error`) from a central it holds no bond with.
        self.bonding = bonding
        if bonding_error not in (INSUFFICIENT_AUTHENTICATION, INSUFFICIENT_ENCRYPTION):
            raise ValueError(f"bonding_error {bonding_error:#04x} is neither 0x05 nor 0x0f")
        self.bonding_error = bonding_error
        self.bonds: set[str] = set()  # centrals (adapter or proxy addresses) it is bonded with
        self.pairings = 0  # successful pairings, over every central

    # --- customisation points ------------------------------------------------------

    def default_model(self) -> Any:
        """The model a device gets when none is passed."""
        return BatteryModel()

    def advertisement(self) -> dict[str, Any]:
        """What the device advertises: local name, service UUIDs, manufacturer data."""
        return {
            "local_name": self.name,
            "service_uuids": list(self.service_uuids),
            "manufacturer_data": dict(self.manufacturer_data),
            "service_data": {},
        }

    def on_connect(self) -> None:
        """A central connected: reset per-connection protocol state."""

    def on_disconnect(self) -> None:
        """The link ended."""

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        """Whole response frames to a write (chunked by the transport)."""
        return []

    def on_read(self, char_uuid: str) -> bytes:
        """Value of a characteristic read."""
        return b""

    def stream_frames(self) -> list[bytes]:
        """Frames the device pushes by itself now (called every `stream_period`)."""
        return []

    def corrupt_frame(self, frame: bytes) -> bytes:
        """The frame with its checksum broken (default: flip the third byte from the end)."""
        if len(frame) <= 3:
            return bytes(b ^ 0xFF for b in frame)
        return frame[:-3] + bytes([frame[-3] ^ 0x5A]) + frame[-2:]

    # --- bonding ----------------------------------------------------------------------

    def refusal(self, central: str) -> int | None:
        """The ATT error a GATT operation from `central` gets for lack of a bond, or None."""
        if self.bonding and central not in self.bonds:
            return self.bonding_error
        return None

    def pair(self, central: str) -> bool:
        """A pairing request from `central`: whether the device bonded with it."""
        if self.faults.refuse_pairing:
            return False
        self.bonds.add(central)
        self.pairings += 1
        return True

    def unpair(self, central: str) -> None:
        """`central` removed its bond (its keys are gone: the device's are useless)."""
        self.bonds.discard(central)

    def forget_bonds(self) -> None:
        """The device is reset: its links drop and it forgets every bond (centrals must
        pair again)."""
        self.bonds.clear()
        for central in list(self.centrals):
            central.peripheral_dropped()  # type: ignore[attr-defined]

    # --- transport side (called by the virtual client) -------------------------------

    def respond(self, char_uuid: str, data: bytes) -> list[bytes]:
        """Response frames to a write, with replay and the device's faults applied."""
        self.requests_seen.append(bytes(data))
        if self.faults.no_answer:
            return []
        if self.replay is not None:
            frames = self.replay.answer(data)
        else:
            frames = self.on_write(char_uuid, data)
        return self._damage_once([self._damage(f) for f in frames])

    def read(self, char_uuid: str) -> bytes:
        """A characteristic read with replay and faults applied."""
        if self.replay is not None and (value := self.replay.read()) is not None:
            return self._damage_once([self._damage(value)])[0]
        return self._damage_once([self._damage(self.on_read(char_uuid))])[0]

    def stream(self) -> list[bytes]:
        """Frames pushed now, with replay and faults applied."""
        if self.faults.no_answer:
            return []
        frames = self.replay.stream() if self.replay is not None else self.stream_frames()
        return self._damage_once([self._damage(f) for f in frames])

    def _damage_once(self, frames: list[bytes]) -> list[bytes]:
        """Corrupt the first frame of this answer when `corrupt_next` asks for it."""
        if self.faults.corrupt_next > 0 and frames and frames[0]:
            self.faults.corrupt_next -= 1
            frames = [self.corrupt_frame(frames[0]), *frames[1:]]
        return frames

    def take_drop(self) -> bool:
        """Whether the link drops during the answer being sent now (`drop_mid_response`,
        or one of the `drop_next` answers)."""
        if self.faults.drop_mid_response:
            return True
        if self.faults.drop_next > 0:
            self.faults.drop_next -= 1
            return True
        return False

    def _damage(self, frame: bytes) -> bytes:
        if self.faults.corrupt and frame:
            frame = self.corrupt_frame(frame)
        if self.faults.truncate:
            frame = frame[:-1]
        return frame

    # --- scripting ------------------------------------------------------------------

    def fault_for(self, seconds: float, *, loop: asyncio.AbstractEventLoop | None = None,
                  **faults: Any) -> None:
        """Switch faults on now and back to their current values after `seconds`.

        Example: ``device.fault_for(120, out_of_range=True)``.
        """
        loop = loop or asyncio.get_running_loop()
        before = {key: getattr(self.faults, key) for key in faults}
        for key, value in faults.items():
            if not hasattr(self.faults, key):
                raise AttributeError(f"unknown fault {key!r}")
            setattr(self.faults, key, value)
        self._fault_timers.append(loop.call_later(seconds, self._restore, before))

    def _restore(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(self.faults, key, value)

    def cancel_scripts(self) -> None:
        """Cancel pending `fault_for` restorations (faults stay as they are)."""
        for timer in self._fault_timers:
            timer.cancel()
        self._fault_timers.clear()

    def use_replay(self, vector_id: str, vectors: Any = None) -> SimDevice:
        """Answer with the captured frames of a test vector instead of the model."""
        from .replay import Replay

        self.replay = Replay.load(vector_id, vectors)
        if self.replay.family != self.family:
            raise ValueError(f"vector {vector_id} is a {self.replay.family} vector, "
                             f"not {self.family}")
        return self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.address}>"


__all__ = ["INSUFFICIENT_AUTHENTICATION", "INSUFFICIENT_ENCRYPTION", "BatteryModel", "Faults",
           "SimDevice", "uuid16"]
