"""The pickle's bytes, read through a window from a file descriptor or a stream; a large argument
is left in the file (:class:`_Blob`) and read later, straight into the array that needs it.
"""
from __future__ import annotations

import os
from typing import BinaryIO, Optional

import numpy as np

from .refusals import _Malformed


class _Blob:
    """A large byte argument left in the file: ``length`` bytes at ``offset``, read only into an array."""
    __slots__ = ("offset", "length", "kind")

    def __init__(self, offset: int, length: int, kind: type):
        self.offset, self.length, self.kind = offset, length, kind


class _Source:
    """The pickle's bytes, read through a window; large arguments are skipped and read later, straight
    into the array that needs them (one copy, as plain pickle makes).

    Reads go to the file descriptor ``fd`` at absolute offsets (``base`` is where the pickle starts),
    or to ``stream`` (seek and read) for a file object without one.
    """

    WINDOW = 4096

    def __init__(self, size: int, fd: Optional[int] = None, stream: Optional[BinaryIO] = None, base: int = 0):
        self.size, self.fd, self.stream, self.base = size, fd, stream, base
        self.window, self.start, self.pos = b"", 0, 0  # window[0] is the pickle's byte `start`

    def read_at(self, offset: int, n: int) -> bytes:
        if self.fd is not None:
            return os.pread(self.fd, n, self.base + offset)
        self.stream.seek(self.base + offset)
        return self.stream.read(n)

    def refill(self, need: int, want: int = WINDOW) -> None:
        """Read ``want`` bytes (at least ``need``) from the current position on."""
        offset = self.start + self.pos
        self.window = self.read_at(offset, max(need, want))
        self.start, self.pos = offset, 0
        if len(self.window) < need:
            raise _Malformed("pickle data was truncated")

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.window):
            self.refill(n)
            end = n
        data = self.window[self.pos:end]
        self.pos = end
        return data

    def line(self) -> bytes:
        """Up to the next newline (protocol 0's text arguments), without it."""
        while True:
            end = self.window.find(b"\n", self.pos)
            if end >= 0:
                data = self.window[self.pos:end]
                self.pos = end + 1
                return data
            have = len(self.window) - self.pos
            if self.start + len(self.window) >= self.size:
                raise _Malformed("pickle data was truncated (a text argument without its newline)")
            self.refill(have, 2 * have + self.WINDOW)

    def skip(self, n: int, kind: type) -> _Blob:
        offset = self.start + self.pos
        if offset + n > self.size:
            raise _Malformed("pickle data was truncated")
        self.pos += n
        return _Blob(offset, n, kind)

    def read_blob(self, blob: _Blob) -> bytes:
        data = self.read_at(blob.offset, blob.length)
        if len(data) != blob.length:
            raise _Malformed("the file changed while it was read")
        return data

    def fill(self, array: np.ndarray, blob: _Blob) -> None:
        """Read ``blob`` into the (new, contiguous) ``array``: one ``preadv`` where there is one."""
        done = 0
        if self.fd is not None and _PREADV:
            done = os.preadv(self.fd, [array], self.base + blob.offset)
        view = memoryview(array.reshape(-1).view(np.uint8))
        while done < blob.length:  # a short read, or no preadv
            data = self.read_at(blob.offset + done, blob.length - done)
            if not data:
                raise _Malformed("the file changed while it was read")
            view[done:done + len(data)] = data
            done += len(data)


_PREADV = hasattr(os, "preadv")
