"""Reading little-endian binary model files: exact reads that name what is truncated."""

from __future__ import annotations

import struct
from typing import BinaryIO

from runtime.errors import UnsupportedInput


def read_exact(stream: BinaryIO, size: int, what: str) -> bytes:
    """``size`` bytes, or UnsupportedInput saying ``what`` is truncated."""
    data = stream.read(size)
    if len(data) != size:
        raise UnsupportedInput(f"{what} is truncated")
    return data


def read_int(stream: BinaryIO, fmt: str, what: str) -> int:
    """One integer packed as ``fmt`` (``"<I"``, ``"<H"``...)."""
    (value,) = struct.unpack(fmt, read_exact(stream, struct.calcsize(fmt), what))
    return int(value)
