"""Checksums of the simulated protocols, written independently of the protocol library.

The simulator must not share code with the drivers it tests: a checksum bug in
a driver would otherwise be mirrored by the simulated device and go unnoticed.
"""

from __future__ import annotations


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS: reflected polynomial 0xA001, initial value 0xFFFF."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
    return crc


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM: polynomial 0x1021, initial value 0."""
    crc = 0
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 15) ^ (byte >> bit) & 1
            crc = (crc << 1) & 0xFFFF
            if top:
                crc ^= 0x1021
    return crc


def sum8(data: bytes) -> int:
    """Sum of the bytes modulo 256."""
    return sum(data) % 256


def sum16(data: bytes) -> int:
    """Sum of the bytes modulo 65536."""
    return sum(data) % 65536


def u(value: float, size: int, order: str = "big", *, signed: bool = False) -> bytes:
    """A rounded integer of `size` bytes, clamped to the range it can hold."""
    bits = 8 * size
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return max(low, min(high, round(value))).to_bytes(size, order, signed=signed)  # type: ignore[arg-type]
