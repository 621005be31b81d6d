"""One allocated connection slot of an `EspHomeNode` and the tasks that run on it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from aioesphomeapi import api_pb2 as pb

from .wire import int_to_mac

if TYPE_CHECKING:
    from ..devices import SimDevice
    from .gatt import GattTable
    from .session import ApiSession


class Link:
    """One allocated connection slot: connecting, then connected to a simulated device."""

    def __init__(self, session: ApiSession, address: int) -> None:
        self.session = session
        self.address = address
        self.mac = int_to_mac(address)
        self.device: SimDevice | None = None
        self.table: GattTable | None = None
        self.connected = False
        self.paired = False  # a PAIR request succeeded on this link
        self.registered: set[int] = set()  # characteristic handles with notify registered
        self.enabled: set[int] = set()  # ... whose CCCD the client switched on
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stream_task: asyncio.Task[None] | None = None
        self.send_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"<Link {self.mac} {'connected' if self.connected else 'connecting'}>"

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a radio operation of this link; it ends with the link."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def push(self, frames: list[bytes]) -> int:
        """The device notifies these payloads unasked, at once (a garbage flood); how many
        were sent to a subscribed client (as `VirtualClient.push` does on blesim's path)."""
        if not self.connected or self.device is None or self.table is None:
            return 0
        char = self.table.handle_of(self.device.notify_uuid or "")
        if char is None or char.handle not in self.registered or char.handle not in self.enabled:
            return 0
        for frame in frames:
            self.session.send(pb.BluetoothGATTNotifyDataResponse(
                address=self.address, handle=char.handle, data=frame))
        return len(frames)

    def peripheral_dropped(self) -> None:
        """The device ends the link; the proxy frees the slot and tells its client."""
        self.session.node.end_link(self, by_owner=False, reason=0x13)  # terminated by peer

    def close(self) -> None:
        """The link is gone: stop its operations and streams."""
        self.connected = False
        self.paired = False
        self.registered.clear()
        self.enabled.clear()
        current = asyncio.current_task() if _in_loop() else None
        for task in list(self.tasks):
            if task is not current:
                task.cancel()
        if self.stream_task is not None and self.stream_task is not current:
            self.stream_task.cancel()
        self.stream_task = None


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
