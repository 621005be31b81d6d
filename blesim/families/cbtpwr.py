"""CBT Power / Creabest BMS (notify 0xFFE4, write 0xFFE9), and the Creabest VB series.

Binary: answers ``AA 55 <cmd> 00 <sum8> 0A 0D`` with
``AA 55 <cmd> <len> <data> <sum8> 0D 0A`` (little-endian). Variant "vb":
answers ``~11014642…\\r`` with a version-0x22 ASCII frame (big-endian).
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import sum8, u
from ..model import BatteryModel


def frame(cmd: int, data: bytes) -> bytes:
    """A binary response frame."""
    body = bytes((cmd, len(data))) + data
    return b"\xaa\x55" + body + bytes((sum8(body),)) + b"\x0d\x0a"


def ascii_frame(info: bytes) -> bytes:
    """A VB-series response (version 0x22, address 1, RTN 0) around `info`."""
    length = 2 * len(info)
    check = (-(length & 0xF) - (length >> 4 & 0xF) - (length >> 8 & 0xF)) & 0xF
    body = bytes((0x22, 0x01, 0x46, 0x00)) + (check << 12 | length).to_bytes(2, "big") + info
    text = body.hex().upper().encode()
    return b"~" + text + f"{-sum(text) & 0xFFFF:04X}".encode() + b"\r"


class CbtPowerDevice(SimDevice):
    """A 4-cell 12 V / 100 Ah Creabest battery; variant "vb" speaks the VB series protocol."""

    family = "cbtpwr"
    local_name = "100R0002E3"
    service_uuids = (uuid16(0x03C1),)
    manufacturer_data = {0x5352: bytes.fromhex("2134ba03ec110909010500010000")}
    gatt = {
        uuid16(0xFFE0): {uuid16(0xFFE4): NOTIFY},
        uuid16(0xFFE5): {uuid16(0xFFE9): WRITE},
    }
    notify_uuid = uuid16(0xFFE4)

    def __init__(self, address: str, name: str | None = None, **kwargs: object) -> None:
        super().__init__(address, name, **kwargs)  # type: ignore[arg-type]
        if self.variant == "vb" and name is None:
            self.name = "VB024000390"

    def advertisement(self) -> dict[str, object]:
        if self.variant == "vb":
            return {"local_name": self.name,
                    "service_uuids": [uuid16(0xFFF0), uuid16(0xFFB0)],
                    "manufacturer_data": {0x4243: bytes.fromhex("545e0211f82e0ca88942")},
                    "service_data": {}}
        return super().advertisement()

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=4, capacity_ah=100.0, soc=0.7, current=-3.14,
                            temperatures=[18.0, 18.5])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != uuid16(0xFFE9):
            return []
        self.model.step()
        if data.startswith(b"~11014642"):
            return [self._vb()] if self.variant == "vb" else []
        if len(data) != 7 or data[:2] != b"\xaa\x55" or data[4] != sum8(data[2:4]):
            return []
        m = self.model
        cmd = data[2]
        if cmd == 0x0B:
            return [frame(cmd, u(m.voltage * 1000, 4, "little")
                          + u(m.current * 1000, 4, "little", signed=True))]
        if cmd == 0x09:
            temps = [*m.temperatures, 0, 0, 0, 0][:6]
            return [frame(cmd, b"".join(u(t, 2, "little", signed=True) for t in temps))]
        if cmd == 0x0A:
            return [frame(cmd, bytes((round(m.soc * 100),)) + bytes(5))]
        if cmd == 0x0C:
            hours = m.remaining_ah / -m.current if m.current < 0 else 0
            return [frame(cmd, bytes(10) + u(hours * 100, 2, "little"))]
        if cmd == 0x15:
            return [frame(cmd, u(m.capacity_ah, 2, "little") + u(m.cycles, 2, "little"))]
        if cmd == 0x21:
            return [frame(cmd, bytes(4))]
        if 0x05 <= cmd <= 0x08:
            first = 5 * (cmd - 0x05)
            cells = [*m.cell_voltages, *[0.0] * 20][first : first + 5]
            return [frame(cmd, b"".join(u(v * 1000, 2, "little") for v in cells))]
        return []

    def _vb(self) -> bytes:
        m = self.model
        info = (bytes((m.cells,)) + b"".join(u(v * 1000, 2) for v in m.cell_voltages)
                + bytes((len(m.temperatures),))
                + b"".join(u(t * 10, 2, signed=True) for t in m.temperatures)
                + u(m.current * 10, 2, signed=True) + u(m.voltage * 10, 2)
                + u(m.soc * 100, 2) + b"\x07" + u(m.cycles, 2) + bytes(12))
        return ascii_frame(info)

    def corrupt_frame(self, frame: bytes) -> bytes:
        if frame.startswith(b"~"):  # change one hex digit of the LRC
            return frame[:-2] + (b"0" if frame[-2:-1] != b"0" else b"1") + frame[-1:]
        return frame[:-3] + bytes((frame[-3] ^ 0x5A,)) + frame[-2:]
