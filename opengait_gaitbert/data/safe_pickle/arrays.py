"""Rebuilding an array from its description (shape, dtype string, byte order, data bytes): the dtype
must be one of :data:`PLAIN_DTYPES`, the element count must equal the bytes the file holds, and the
result is a new C-contiguous array in native byte order that owns its memory.
"""
from __future__ import annotations

import math
from typing import FrozenSet, Optional, Tuple

import numpy as np

from .refusals import _Unsafe, _short
from .source import _Blob, _Source

#: dtype strings an array or numpy scalar may have: bool, unsigned and signed integers, floats.
PLAIN_DTYPES: FrozenSet[str] = frozenset(["b1", "u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f2", "f4", "f8"])
_MAX_NDIM = 32  # numpy 1's limit (numpy 2 allows 64)
_MAX_DIM = 2 ** 31 - 1  # one dimension of an array (a larger one is only possible next to a 0)
_BYTE_ORDERS = ("<", ">", "=", "|")  # little, big, native, not applicable (one-byte types)


def _check_spec(spec) -> str:
    if not isinstance(spec, str) or spec not in PLAIN_DTYPES:
        raise _Unsafe(f"its array has dtype {_short(spec)}, not one of the plain numeric dtypes "
                      f"({', '.join(sorted(PLAIN_DTYPES))}): object, string, void and structured arrays are refused")
    return spec


def _plain_dtype(spec, order) -> np.dtype:
    """The numpy dtype of dtype string ``spec`` (one of :data:`PLAIN_DTYPES`) in byte order ``order``."""
    _check_spec(spec)
    if not isinstance(order, str) or order not in _BYTE_ORDERS or (order == "|" and spec[1] != "1"):
        raise _Unsafe(f"its dtype {spec!r} has byte order {_short(order)}")
    return np.dtype(spec if order == "|" else order + spec)


def _check_shape(shape) -> Tuple[int, ...]:
    """``shape`` if it is a tuple of whole numbers (the machine's values can be anything)."""
    if type(shape) is not tuple or not all(type(n) is int for n in shape):
        raise _Unsafe(f"its array shape {_short(shape)} is not a tuple of whole numbers")
    return shape


def _new_array(source: Optional[_Source], shape, dtype: np.dtype, raw, fortran: bool):
    """The array ``shape`` x ``dtype`` of the bytes ``raw`` (bytes, bytearray or a :class:`_Blob`), in
    Fortran order if ``fortran``: new, C-contiguous, native byte order, owning its memory.
    With ``source`` None (checking only) the description is checked and nothing is read."""
    if len(shape) > _MAX_NDIM:
        raise _Unsafe(f"its array has {len(shape)} dimensions (at most {_MAX_NDIM})")
    if shape and (min(shape) < 0 or max(shape) > _MAX_DIM):
        raise _Unsafe(f"its array shape {_short(shape)} has a dimension below 0 or above {_MAX_DIM}")
    if not isinstance(raw, (bytes, bytearray, memoryview, _Blob)):
        raise _Unsafe(f"its array data is a {type(raw).__name__}, not bytes")
    length = raw.length if isinstance(raw, _Blob) else len(raw)
    needed = math.prod(shape) * dtype.itemsize
    if needed != length:
        raise _Unsafe(f"its array claims shape {_short(shape)} of {dtype.name} ({needed} bytes), but holds "
                      f"{length} bytes of data")
    if source is None:
        return _CHECKED
    order = shape[::-1] if fortran and len(shape) > 1 else shape
    if isinstance(raw, _Blob):
        array = np.empty(order, dtype)
        source.fill(array, raw)
    elif length:
        array = np.frombuffer(raw, dtype).reshape(order).copy()
    else:
        array = np.empty(order, dtype)
    if order is not shape:
        array = np.ascontiguousarray(array.T)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    return array


class _Checked:
    """What an array stands for when a file is only checked (nothing read)."""

    def __repr__(self):
        return "<array, checked>"


_CHECKED = _Checked()
