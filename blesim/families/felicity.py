"""Felicity Solar ESS / FLB battery: ASCII commands answered by one JSON object.

Commands ``wifilocalMonitor:get dev real infor`` and ``… get dev basice infor``
are written to 49535258-…; the answer comes on 49535458-… in 35-byte
notifications, as the battery's BLE module sends them.
"""

from __future__ import annotations

import json

from ..devices import NOTIFY, WRITE, SimDevice
from ..model import BatteryModel

SERVICE = "6e6f736a-4643-4d44-8fa9-0fafd005e455"
NOTIFY_CHAR = "49535458-8341-43f4-a9d4-ec0e34729bb3"
WRITE_CHAR = "49535258-184d-4bd9-bc61-20c647249616"
SERIAL = "100011002424470238"


class FelicityDevice(SimDevice):
    """A 16-cell Felicity LUX-Y 48 V / 300 Ah pack."""

    family = "felicity"
    local_name = "F" + SERIAL
    gatt = {SERVICE: {NOTIFY_CHAR: NOTIFY, WRITE_CHAR: WRITE}}
    notify_uuid = NOTIFY_CHAR
    mtu = 38

    def default_model(self) -> BatteryModel:
        return BatteryModel(cells=16, capacity_ah=300.0, soc=0.33, current=-12.0,
                            temperatures=[13.0, 13.5, 14.0, 13.2])

    def on_write(self, char_uuid: str, data: bytes) -> list[bytes]:
        if char_uuid != WRITE_CHAR:
            return []
        if data == b"wifilocalMonitor:get dev real infor":
            self.model.step()
            return [self._real()]
        if data == b"wifilocalMonitor:get dev basice infor":
            return [self._encode({"CommVer": 1, "version": "2.06", "wifiSN": self.local_name,
                                  "DevSN": SERIAL, "Type": 112, "SubType": 7300,
                                  "M1SwVer": 519, "M2SwVer": 16})]
        return []

    def _real(self) -> bytes:
        m = self.model
        cells = [round(v * 1000) for v in m.cell_voltages]
        soc = round(m.soc * 10000)
        probes = [round(t * 10) for t in m.temperatures]
        return self._encode({
            "CommVer": 1, "wifiSN": self.local_name, "modID": 1, "DevSN": SERIAL,
            "Type": 112, "SubType": 7300, "Estate": 960, "Bfault": 0, "Bwarn": 0,
            "Batt": [[round(m.voltage * 1000)], [round(m.current * 10)], [None]],
            "Batsoc": [[soc, round(m.health * 10), round(m.capacity_ah * 1000)]],
            "BatsocList": [[soc, round(m.health * 10), round(m.capacity_ah * 1000)]],
            "BatcelList": [cells + [65535] * (16 - len(cells)), [65535] * 16],
            "BtemList": [probes + [32767] * (8 - len(probes))],
        })

    @staticmethod
    def _encode(obj: dict[str, object]) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode("ascii")

    def corrupt_frame(self, frame: bytes) -> bytes:
        # break the JSON syntax right after the version key
        return frame.replace(b'"CommVer":', b'"CommVer";', 1)
