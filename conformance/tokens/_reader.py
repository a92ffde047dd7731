"""A bounds-checked little-endian reader for the packed token fields.

Every read names the field it is reading, so a truncated token fails with
``TokenError("truncated: expected 4 bytes for 'issue_ts' at offset 38, 2 left")``
instead of a bare ``struct.error`` or ``IndexError``.
"""

from __future__ import annotations

import struct

from .errors import TokenError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I16 = struct.Struct("<h")


class Reader:
    """Sequential reader over a bytes buffer; raises TokenError on any overrun."""

    __slots__ = ("_buf", "pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self._buf = buf
        self.pos = pos

    @property
    def remaining(self) -> int:
        return len(self._buf) - self.pos

    def _take(self, n: int, field: str) -> bytes:
        end = self.pos + n
        if end > len(self._buf):
            raise TokenError(
                f"truncated: expected {n} bytes for {field!r} at offset {self.pos}, {self.remaining} left"
            )
        chunk = self._buf[self.pos : end]
        self.pos = end
        return chunk

    def u16(self, field: str) -> int:
        value: int = _U16.unpack(self._take(2, field))[0]
        return value

    def u32(self, field: str) -> int:
        value: int = _U32.unpack(self._take(4, field))[0]
        return value

    def i16(self, field: str) -> int:
        value: int = _I16.unpack(self._take(2, field))[0]
        return value

    def raw_string(self, field: str) -> bytes:
        return self._take(self.u16(f"{field} length"), field)

    def string(self, field: str) -> str:
        data = self.raw_string(field)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TokenError(f"field {field!r} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None

    def privileges(self, field: str = "privileges") -> list[tuple[int, int]]:
        count = self.u16(f"{field} count")
        return [(self.u16(f"{field} key"), self.u32(f"{field} value")) for _ in range(count)]


def pack_u16(value: int) -> bytes:
    return _U16.pack(value)


def pack_u32(value: int) -> bytes:
    return _U32.pack(value)


def pack_string(data: bytes) -> bytes:
    return _U16.pack(len(data)) + data
