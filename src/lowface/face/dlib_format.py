"""Reading dlib's binary serialisation (``.dat`` network files) in pure Python/NumPy.

dlib writes integers as a control byte (low nibble: number of little-endian magnitude bytes, bit 7: sign)
followed by those bytes, strings as such an integer length plus the characters, and version-2 tensors as
the version, four integer dimensions (num_samples, k, nr, nc) and raw little-endian float32 values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DlibFormatError(ValueError):
    """The file does not follow dlib's serialisation where it was expected to."""


@dataclass
class DlibReader:
    data: bytes
    pos: int = 0

    def read_int(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("unexpected end of file while reading an integer")
        control = self.data[self.pos]
        size = control & 0x0F
        if size > 8:
            raise DlibFormatError(f"bad integer control byte 0x{control:02x} at offset {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def read_string(self) -> str:
        length = self.read_int()
        text = self.data[self.pos : self.pos + length].decode("ascii", errors="replace")
        self.pos += length
        return text

    def read_tensor(self) -> np.ndarray:
        """A version-2 tensor -> float32 array of shape (num_samples, k, nr, nc)."""
        start = self.pos
        version = self.read_int()
        if version != 2:
            raise DlibFormatError(f"unsupported tensor version {version} at offset {start}")
        shape = tuple(self.read_int() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise DlibFormatError(f"tensor of shape {shape} at offset {start} runs past the end of the file")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).reshape(shape)
        self.pos = end
        return values.astype(np.float32)


def find_layers(data: bytes, name: str) -> list[int]:
    """Offsets just past every length-prefixed occurrence of the layer name ``name`` in the file."""
    token = bytes([0x01, len(name)]) + name.encode("ascii")
    offsets, start = [], 0
    while (index := data.find(token, start)) != -1:
        offsets.append(index + len(token))
        start = index + 1
    return offsets
