"""Checksums used by the protocol families."""

from __future__ import annotations

import binascii


def crc16_modbus(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent little-endian."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def crc16_xmodem(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/XMODEM (poly 0x1021, init 0); sent big-endian. The standard library's CRC-CCITT."""
    return binascii.crc_hqx(data, 0)


def sum8(data: bytes | bytearray | memoryview) -> int:
    """Sum of bytes modulo 256."""
    return sum(data) & 0xFF


def sum16(data: bytes | bytearray | memoryview) -> int:
    """Sum of bytes modulo 65536."""
    return sum(data) & 0xFFFF


