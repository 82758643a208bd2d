"""Read a CTranslate2 ``model.bin`` with numpy alone.

The layout is the one ``ctranslate2/specs/model_spec.py`` ``_serialize`` writes::

    uint32 binary version, string spec name, uint32 spec revision
    uint32 n_variables, then per variable: string name, uint8 rank, uint32 dims[rank],
           uint8 dtype id, uint32 byte length, data
    uint32 n_aliases, then per alias: string alias, string variable name

Strings are a uint16 length (counting a trailing NUL) and the bytes. ``read_ct2_index``
reads the table of contents without the tensors; ``Ct2Reader`` maps the file and reads
one variable at a time as float32 (dequantising int8/int16, widening bfloat16).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from runtime.convert.binary import read_exact, read_int
from runtime.errors import UnsupportedInput

CT2_BINARY_VERSIONS = (4, 5, 6)
"""Versions with a dtype id per variable (4+); 6 is current as of CTranslate2 4.x."""

# Order of the DataType enum in CTranslate2's include/ctranslate2/types.h.
_CT2_DTYPES: dict[int, str] = {
    0: "<f4",
    1: "<i1",
    2: "<i2",
    3: "<i4",
    4: "<f2",
    5: "<u2",  # bfloat16: widened to float32 by Ct2Reader.raw
}
_CT2_BFLOAT16 = 5
_WHAT = "CTranslate2 model.bin"


@dataclass(frozen=True)
class Ct2Variable:
    """One variable's place in a CTranslate2 ``model.bin``."""

    name: str
    """Scoped name."""
    shape: tuple[int, ...]
    """Dimensions, outermost first."""
    dtype_id: int
    """CTranslate2 DataType id."""
    offset: int
    """Byte offset of the data in the file."""
    num_bytes: int
    """Byte length of the data."""


@dataclass(frozen=True)
class Ct2Index:
    """The table of contents of a CTranslate2 ``model.bin``."""

    spec: str
    """Spec class name (``WhisperSpec``)."""
    binary_version: int
    """Serialisation version."""
    variables: dict[str, Ct2Variable]
    """Stored variables by name."""
    aliases: dict[str, str]
    """Alias name -> variable name (e.g. the tied output projection)."""


def _read_string(stream: BinaryIO) -> str:
    # uint16 length counting a trailing NUL, then the bytes.
    length = read_int(stream, "<H", _WHAT)
    raw = read_exact(stream, length, _WHAT)
    try:
        return raw.rstrip(b"\0").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsupportedInput("CTranslate2 model.bin has a name that is not UTF-8") from exc


def read_ct2_index(path: Path) -> Ct2Index:
    """Parse the table of contents of ``model.bin`` without loading the tensors."""
    with path.open("rb") as stream:
        version = read_int(stream, "<I", _WHAT)
        if version not in CT2_BINARY_VERSIONS:
            raise UnsupportedInput(
                f"{path}: CTranslate2 binary version {version} is not supported"
                f" (supported: {', '.join(map(str, CT2_BINARY_VERSIONS))})"
            )
        spec = _read_string(stream)
        read_int(stream, "<I", _WHAT)  # spec revision
        variables: dict[str, Ct2Variable] = {}
        for _ in range(read_int(stream, "<I", _WHAT)):
            name = _read_string(stream)
            rank = read_int(stream, "<B", _WHAT)
            shape = struct.unpack(f"<{rank}I", read_exact(stream, 4 * rank, _WHAT))
            dtype_id = read_int(stream, "<B", _WHAT)
            num_bytes = read_int(stream, "<I", _WHAT)
            if dtype_id not in _CT2_DTYPES:
                raise UnsupportedInput(f"{path}: variable {name} has unknown dtype id {dtype_id}")
            offset = stream.tell()
            stream.seek(num_bytes, os.SEEK_CUR)
            variables[name] = Ct2Variable(name, tuple(shape), dtype_id, offset, num_bytes)
        aliases: dict[str, str] = {}
        for _ in range(read_int(stream, "<I", _WHAT)):
            alias = _read_string(stream)
            aliases[alias] = _read_string(stream)
        end = stream.tell()
        stream.seek(0, os.SEEK_END)
        if stream.tell() < end or (variables and _data_end(variables) > stream.tell()):
            raise UnsupportedInput(f"{path}: CTranslate2 model.bin is truncated")
    return Ct2Index(spec=spec, binary_version=version, variables=variables, aliases=aliases)


def _data_end(variables: Mapping[str, Ct2Variable]) -> int:
    return max(v.offset + v.num_bytes for v in variables.values())


class Ct2Reader:
    """Reads variables of a parsed ``model.bin`` as float32 (dequantising int8/int16)."""

    def __init__(self, path: Path, index: Ct2Index) -> None:
        self._index = index
        self._data: npt.NDArray[np.uint8] = np.memmap(path, dtype=np.uint8, mode="r")

    def raw(self, name: str) -> npt.NDArray[np.generic]:
        """The variable (or the one an alias names) as stored; bfloat16 widened to float32."""
        variable = self._index.variables[self._index.aliases.get(name, name)]
        dtype = np.dtype(_CT2_DTYPES[variable.dtype_id])
        count = variable.num_bytes // dtype.itemsize
        if count != int(np.prod(variable.shape, dtype=np.int64)):
            raise UnsupportedInput(
                f"variable {name}: {variable.num_bytes} bytes for {variable.shape}"
            )
        chunk = self._data[variable.offset : variable.offset + variable.num_bytes]
        array = np.frombuffer(chunk, dtype=dtype).reshape(variable.shape)
        if variable.dtype_id == _CT2_BFLOAT16:
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array

    def has(self, name: str) -> bool:
        """Whether the model stores ``name`` (as a variable or an alias)."""
        return name in self._index.variables or name in self._index.aliases

    def scalar(self, name: str) -> int:
        """A one-element variable as an int."""
        self._require(name)
        return int(self.raw(name).reshape(-1)[0])

    def floats(self, name: str) -> npt.NDArray[np.float32] | npt.NDArray[np.float16]:
        """The variable as a float array; quantised weights are scaled back."""
        self._require(name)
        array = self.raw(name)
        if np.issubdtype(array.dtype, np.floating):
            return array  # type: ignore[return-value]
        scale_name = f"{name}_scale"
        if not self.has(scale_name):
            raise UnsupportedInput(f"variable {name} is {array.dtype} without {scale_name}")
        if self.has(f"{name}_zero"):
            raise UnsupportedInput(
                f"variable {name}: zero-point (AWQ) quantisation is not supported"
            )
        # CTranslate2 quantises as round(weight * scale): one scale per output row for
        # int8, one for the whole matrix for int16.
        scale = self.raw(scale_name).astype(np.float32)
        if scale.size == array.shape[0] and scale.size > 1:
            scale = scale.reshape((-1,) + (1,) * (array.ndim - 1))
        return (array.astype(np.float32) / scale).astype(np.float32)

    def close(self) -> None:
        """Let the mapping go (it goes when the last array made from it does)."""
        self._data = np.empty(0, dtype=np.uint8)

    def _require(self, name: str) -> None:
        if not self.has(name):
            spec = self._index.spec or "unnamed"
            raise UnsupportedInput(f"the CTranslate2 model ({spec}) has no variable {name}")
