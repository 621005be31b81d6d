"""The plaintext ESPHome native API on the wire, and advertisements as raw AD structures.

A plaintext frame is ``0x00, varint(len(payload)), varint(message type), payload``;
the payload is one of aioesphomeapi's own protobuf messages, and the type ids are
aioesphomeapi's (``MESSAGE_TYPE_TO_PROTO``), so the node and the client cannot
disagree about them.
"""

from __future__ import annotations

from typing import Any

from aioesphomeapi.core import MESSAGE_TYPE_TO_PROTO
from google.protobuf import message

PROTO_TO_TYPE: dict[type[message.Message], int] = {
    cls: type_id for type_id, cls in MESSAGE_TYPE_TO_PROTO.items()
}
SIG_SUFFIX = "-0000-1000-8000-00805f9b34fb"
RAW_ADV_MAX = 62  # advertisement + scan response, as ESPHome's raw advertisement holds them


class FrameError(Exception):
    """The byte stream is not plaintext native API (e.g. a noise handshake)."""


def varint(value: int) -> bytes:
    """Protobuf-style unsigned varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode(msg: message.Message) -> bytes:
    """One message as a plaintext frame."""
    payload = msg.SerializeToString()
    return b"\x00" + varint(len(payload)) + varint(PROTO_TO_TYPE[type(msg)]) + payload


def _read_varint(data: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None


def decode(buffer: bytearray) -> list[message.Message | tuple[int, bytes]]:
    """Take every whole frame off the front of `buffer`.

    Known types become protobuf messages; an unknown type id comes back as
    ``(type_id, payload)`` (firmware ignores messages it does not know).
    """
    out: list[message.Message | tuple[int, bytes]] = []
    while buffer:
        if buffer[0] != 0x00:
            raise FrameError(f"expected plaintext preamble 0x00, got 0x{buffer[0]:02x}")
        length = _read_varint(buffer, 1)
        if length is None:
            break
        size, pos = length
        kind = _read_varint(buffer, pos)
        if kind is None:
            break
        type_id, pos = kind
        if len(buffer) < pos + size:
            break
        payload = bytes(buffer[pos : pos + size])
        del buffer[: pos + size]
        cls = MESSAGE_TYPE_TO_PROTO.get(type_id)
        if cls is None:
            out.append((type_id, payload))
            continue
        msg = cls()
        msg.ParseFromString(payload)
        out.append(msg)
    return out


def mac_to_int(address: str) -> int:
    """``AA:BB:CC:DD:EE:FF`` as the uint64 the API carries."""
    return int(address.replace(":", ""), 16)


def int_to_mac(value: int) -> str:
    """The uint64 address as ``AA:BB:CC:DD:EE:FF``."""
    raw = f"{value:012X}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def short_uuid(uuid: str) -> int | None:
    """The 16-bit form of a Bluetooth SIG UUID, None for a vendor's 128-bit UUID."""
    uuid = uuid.lower()
    if uuid.endswith(SIG_SUFFIX) and uuid.startswith("0000"):
        return int(uuid[4:8], 16)
    return None


def split_uuid(uuid: str) -> list[int]:
    """A 128-bit UUID as the API's ``[high, low]`` uint64 pair."""
    value = int(uuid.replace("-", ""), 16)
    return [value >> 64, value & 0xFFFFFFFFFFFFFFFF]


def _ad(kind: int, data: bytes) -> bytes:
    return bytes((len(data) + 1, kind)) + data


def advertisement_records(adv: dict[str, Any]) -> list[bytes]:
    """A device's advertisement (SimDevice.advertisement()) as raw AD data.

    One record while everything fits ESPHome's 62 bytes; otherwise the name and
    service data go in a second record, like a scan response heard separately.
    """
    first = _ad(0x01, b"\x06")  # LE general discoverable, BR/EDR not supported
    shorts = [s for u in adv["service_uuids"] if (s := short_uuid(u)) is not None]
    longs = [u for u in adv["service_uuids"] if short_uuid(u) is None]
    if shorts:
        first += _ad(0x03, b"".join(s.to_bytes(2, "little") for s in shorts))
    for uuid in longs:
        first += _ad(0x07, int(uuid.replace("-", ""), 16).to_bytes(16, "little"))
    for company, data in adv["manufacturer_data"].items():
        first += _ad(0xFF, company.to_bytes(2, "little") + bytes(data))
    second = b""
    for uuid, data in adv["service_data"].items():
        if (s := short_uuid(uuid)) is not None:
            second += _ad(0x16, s.to_bytes(2, "little") + bytes(data))
        else:
            second += _ad(0x21, int(uuid.replace("-", ""), 16).to_bytes(16, "little")
                          + bytes(data))
    if adv["local_name"]:
        second += _ad(0x09, adv["local_name"].encode()[:29])
    if len(first) + len(second) <= RAW_ADV_MAX:
        return [first + second]
    return [first[:RAW_ADV_MAX], second[:RAW_ADV_MAX]]
