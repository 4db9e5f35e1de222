"""Pkl files whose unpickling would run code: each creates a marker file if it is ever loaded.

The attack of a tampered dataset download: the file is a valid pickle whose
``__reduce__`` names a function that runs a command. Tests write one where a
sequence belongs and assert that the marker never appears.
"""
import builtins
import os
import pickle
from pathlib import Path

import numpy as np


class ShellTouch:
    """Unpickles as ``os.system("touch MARKER")``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class ExecTouch:
    """Unpickles as ``exec(...)``, which writes the marker from Python."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').close()",)


def silhouettes(frames: int = 10, size: int = 64) -> np.ndarray:
    """A plausible [frames, size, size] uint8 silhouette sequence (a bar of foreground)."""
    seq = np.zeros((frames, size, size), np.uint8)
    seq[:, size // 8:-size // 8, size // 3:-size // 3] = 255
    return seq


def write_malicious_pkl(path: Path, marker: Path, payload=ShellTouch, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    """Write at ``path`` a pickle that runs ``payload`` and then also holds a real-looking array.

    The array rides along in a tuple, so a loader that runs the payload still gets data
    and nothing but the marker shows that code ran.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        pickle.dump((payload(marker), silhouettes()), stream, protocol=protocol)
    return path


# -- pickles that name only numpy's own globals, yet make numpy crash, run code or claim memory ----
# Each passes an allow-list of global names; only rebuilding arrays without numpy's unpickling stops them.

def _text(value: str) -> bytes:
    """BINUNICODE: a str argument (protocol 2)."""
    return b"X" + len(value.encode()).to_bytes(4, "little") + value.encode()


# numpy.dtype(spec, False, True) with the state numpy writes for a plain dtype, flags last.
def _dtype(spec: str, order: str = "|", flags: int = 0) -> bytes:
    return (b"cnumpy\ndtype\n" + _text(spec) + b"\x89\x88\x87R(K\x03" + _text(order)
            + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff" + b"J" + flags.to_bytes(4, "little", signed=True) + b"tb")


def object_pointer_pkl(address: int = 0x41414141) -> bytes:
    """``numpy.core.multiarray.scalar(dtype('O8'), 8 bytes)``: numpy takes the bytes as a PyObject
    pointer. At an unmapped address it crashes (SIGSEGV); at a known one it runs code."""
    return (b"\x80\x02cnumpy.core.multiarray\nscalar\n" + _dtype("O8") + b"C\x08" + address.to_bytes(8, "little")
            + b"\x86R.")


def flagged_dtype_pkl() -> bytes:
    """A uint8 array whose dtype state sets numpy's object flags (63): the state restore trusts them."""
    return (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
            b"(K\x01K\x02K\x02K\x02\x87" + _dtype("u1", flags=63) + b"\x89C\x08" + bytes(8) + b"tb.")


def zero_stride_pkl(frames: int = 2 ** 30, size: int = 64) -> bytes:
    """``numpy.ndarray((frames, size, size), 'u1', b'\\0', 0, (0, 0, 0))``: 51 bytes that claim
    ``frames * size * size`` bytes of frames over one byte of data."""
    return (b"\x80\x02cnumpy\nndarray\n(J" + frames.to_bytes(4, "little") + b"K" + bytes([size]) + b"K"
            + bytes([size]) + b"\x87" + _text("u1") + b"C\x01\x00K\x00K\x00K\x00K\x00\x87tR.")


def claimed_frames_pkl(frames: int = 2 ** 30) -> bytes:
    """A real pickled [1, 64, 64] uint8 array whose shape was edited to claim ``frames`` frames."""
    real = pickle.dumps(silhouettes(1), protocol=4)
    assert real.count(b"K\x01K@K@\x87") == 1
    return real.replace(b"K\x01K@K@\x87", b"J" + frames.to_bytes(4, "little") + b"K@K@\x87")


#: name -> (pkl bytes, the refusal's quoted reason), for the tests of every entry point.
HOSTILE_NUMPY = {
    "object pointers": (object_pointer_pkl, "its array has dtype 'O8'"),
    "dtype flags": (flagged_dtype_pkl, "its dtype state (3, '|', None, None, None, -1, -1, 63) carries fields, flags"),
    "zero strides": (zero_stride_pkl, "it calls numpy.ndarray directly"),
    "claimed frames": (claimed_frames_pkl, "its array claims shape (1073741824, 64, 64) of uint8"),
}
