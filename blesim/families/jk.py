"""JK / Jikong BMS, BLE protocol JK02 (service 0xFFE0, characteristic 0xFFE1 for notify and write).

0x97 is answered with the device-info frame (type 0x03) and the 20-byte
"ready" ACK followed by the BLE module's ``AT\\r\\n``; 0x96 with a settings
frame (type 0x01, first time on a link) and a cell-info frame (type 0x02),
after which the BMS keeps streaming cell-info frames. Frames are 300 bytes,
sent in 128-byte notifications (MTU 131). Variant "JK02_24S" emulates
firmware 10.x (24S layout), anything else firmware 11.x (32S layout).
"""

from __future__ import annotations

from ..devices import NOTIFY, WRITE, SimDevice, uuid16
from ..framing import sum8, u

RSP_HEAD = b"\x55\xaa\xeb\x90"
CMD_HEAD = b"\xaa\x55\x90\xeb"
CHAR = uuid16(0xFFE1)


def command(cmd: int, value: bytes = b"") -> bytes:
    """A 20-byte JK02 command-direction message (used for the ACK)."""
    body = CMD_HEAD + bytes((cmd, len(value))) + value.ljust(13, b"\x00")
    return body + bytes((sum8(body),))


class JkDevice(SimDevice):
    """JK BMS with an 8-cell pack, firmware 11.x (32S layout) unless variant "JK02_24S"."""

    family = "jk"
    local_name = "JK_B2A8S20P"
    service_uuids = (uuid16(0xFFE0),)
    manufacturer_data = {0x0B65: bytes.fromhex("88a0c847800d086b")}
    gatt = {uuid16(0xFFE0): {CHAR: (*NOTIFY, *WRITE)}}
    notify_uuid = CHAR
    mtu = 131
    stream_period = 1.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.streaming = False
        self._counter = 0
        self._settings_sent = False

    @property
    def layout_24s(self) -> bool:
        """Whether the device emulates 24S-era firmware."""
        return bool(self.variant) and "24S" in str(self.variant).upper()

    def default_model(self) -> object:
        from ..model import BatteryModel

        return BatteryModel(cells=8, capacity_ah=280.0, temperatures=[23.1, 23.4, 26.0])

    def on_connect(self) -> None:
        self.streaming = False
        self._settings_sent = False

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != CHAR or len(data) != 20 or not data.startswith(CMD_HEAD):
            return []
        if sum8(data[:19]) != data[19]:
            return []
        if data[4] == 0x97:
            return [self.device_info(), command(0xC8, b"\x01") + b"AT\r\n"]
        if data[4] in (0x1D, 0x1E) and data[5] == 4:
            # charging / discharging switch; JK sends no acknowledgement
            if not (self.faults.ignore_control or self.faults.refuse_control):
                on = int.from_bytes(data[6:10], "little") != 0
                self.model.set_switches(**{"charge" if data[4] == 0x1D else "discharge": on})
            return []
        if data[4] == 0x96:
            self.streaming = True
            frames = [] if self._settings_sent else [self.settings()]
            self._settings_sent = True
            return [*frames, self.cell_info()]
        return []

    def stream_frames(self) -> list[bytes]:
        return [self.cell_info()] if self.streaming else []

    def _frame(self, kind: int, body: bytearray) -> bytes:
        self._counter = (self._counter + 1) & 0xFF
        body[0:4] = RSP_HEAD
        body[4] = kind
        body[5] = self._counter
        body[299] = sum8(bytes(body[:299]))
        return bytes(body)

    def device_info(self) -> bytes:
        """Type 0x03 frame: model, hardware and software version, serial number."""
        body = bytearray(300)
        sw = b"10.XW" if self.layout_24s else b"11.48"
        for start, size, text in ((6, 16, b"JK_B2A8S20P"), (22, 8, b"11.XA"), (30, 8, sw),
                                  (86, 8, b"SIM00042")):
            body[start : start + size] = text.ljust(size, b"\x00")
        return self._frame(0x03, body)

    def settings(self) -> bytes:
        """Type 0x01 frame (settings; the driver skips it)."""
        body = bytearray(300)
        body[6:10] = u(2500, 4, "little")  # smart sleep voltage, mV
        return self._frame(0x01, body)

    def cell_info(self) -> bytes:
        """Type 0x02 frame in the 24S or 32S layout."""
        self.model.step()
        m = self.model
        shift = -32 if self.layout_24s else 0
        body = bytearray(300)
        cells = m.cell_voltages
        for i, v in enumerate(cells):
            body[6 + 2 * i : 8 + 2 * i] = u(v * 1000, 2, "little")
        mask_at = 54 if self.layout_24s else 70
        body[mask_at : mask_at + 4] = u((1 << len(cells)) - 1, 4, "little")

        def put(offset: int, data: bytes) -> None:
            body[offset + shift : offset + shift + len(data)] = data

        put(150, u(m.voltage * 1000, 4, "little"))
        put(158, u(m.current * 1000, 4, "little", signed=True))
        put(172, bytes((m.balancing,)))
        put(173, bytes((round(m.soc * 100),)))
        put(174, u(m.remaining_ah * 1000, 4, "little"))
        put(178, u(m.capacity_ah * 1000, 4, "little"))
        put(182, u(m.cycles, 4, "little"))
        put(190, bytes((round(m.health),)))
        put(198, bytes((m.charge_mosfet, m.discharge_mosfet)))
        temps = m.temperatures
        if self.layout_24s:
            slots = (130, 132, 134)  # T1, T2, MOSFET
            values = (temps[0], temps[1], temps[-1])
        else:
            slots = (144, 162, 164, 254)  # MOSFET, T1, T2, T3 (absent)
            values = (temps[-1], temps[0], temps[1], -200.0)
        for pos, value in zip(slots, values, strict=True):
            body[pos : pos + 2] = u(value * 10, 2, "little", signed=True)
        put(214, u((1 << len(slots)) - 1, 2, "little"))
        alarms = 136 if self.layout_24s else 166  # 24S: upper half of the word at 134
        body[alarms : alarms + 2] = u(self.problem_code & 0xFFFF, 2, "little")
        return self._frame(0x02, body)
