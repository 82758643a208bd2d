"""WAV files built byte by byte, to say in their headers whatever a test needs."""

from __future__ import annotations

import struct


def wav(
    payload: bytes,
    *,
    rate: int = 16_000,
    tag: int = 1,
    bits: int = 16,
    data_size: int | None = None,
    riff_size: int | None = None,
) -> bytes:
    """A mono WAV whose header says what it is told to, whatever follows it."""
    block = bits // 8
    fmt = struct.pack("<HHIIHH", tag, 1, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    size = len(payload) if data_size is None else data_size
    riff = 36 + len(payload) if riff_size is None else riff_size
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", size)
        + payload
    )
