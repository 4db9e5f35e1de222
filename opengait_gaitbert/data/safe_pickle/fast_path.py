"""The common case, one array as ``pickle.dump`` writes it with protocol 3 or 4, recognised by a byte
pattern that feeds the machine's array builder, so that it costs no more than plain pickle.
"""
from __future__ import annotations

import re

from .arrays import PLAIN_DTYPES, _new_array, _plain_dtype
from .opcodes import _int
from .source import _Blob, _Source

_TUPLE_SIZES = {None: 0, b"\x85": 1, b"\x86": 2, b"\x87": 3, b"t": None}
_FAST = {
    4: re.compile(
        rb"\x80\x04\x95.{8}\x8c(?:\x16numpy\._core|\x15numpy\.core)\.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94"
        rb"\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94\(K\x01"
        rb"(?P<mark>\(?)(?P<dims>(?:K.|M..|J....)*)(?:(?P<close>[\x85\x86\x87t])\x94|\))"
        rb"h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02(?P<spec>[bui]1|[uif][248])\x94\x89\x88\x87\x94R\x94"
        rb"\(K\x03\x8c\x01(?P<order>[<>|])\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89",
        re.DOTALL),
    3: re.compile(
        rb"\x80\x03c(?:numpy\._core|numpy\.core)\.multiarray\n_reconstruct\nq.cnumpy\nndarray\nq.K\x00\x85q.C\x01bq."
        rb"\x87q.Rq.\(K\x01(?P<mark>\(?)(?P<dims>(?:K.|M..|J....)*)(?:(?P<close>[\x85\x86\x87t])q.|\))"
        rb"cnumpy\ndtype\nq.X\x02\x00\x00\x00(?P<spec>[bui]1|[uif][248])q.\x89\x88\x87q.Rq."
        rb"\(K\x03X\x01\x00\x00\x00(?P<order>[<>|])q.NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq.b\x89",
        re.DOTALL),
}
_FAST_TAIL = {4: re.compile(rb"(?:\x95\x05\x00{7})?\x94t\x94b\.", re.DOTALL), 3: re.compile(rb"q.tq.b\.", re.DOTALL)}
_DATA_LENGTH = {ord("C"): 1, ord("B"): 4, 0x8e: 8}
_INT_WIDTH = {ord("K"): 1, ord("M"): 2, ord("J"): 4}


def _fast_shape(mark: bytes, text: bytes, close: bytes):
    """The dimensions of the shape tuple the fast pattern matched, or None when it is not the form
    pickle writes (the machine then decides)."""
    if len(text) % 2 == 0 and text[::2] == b"K" * (len(text) // 2):  # every dimension below 256
        dims = tuple(text[1::2])
    else:
        found, i = [], 0
        while i < len(text):
            width = _INT_WIDTH[text[i]]
            found.append(_int(text[i + 1:i + 1 + width], signed=width == 4))
            i += 1 + width
        dims = tuple(found)
    size = _TUPLE_SIZES[close]
    if (size is None) != bool(mark) or (size is not None and size != len(dims)):
        return None
    return dims


_FAST_DTYPES = {(spec.encode(), order.encode()): _plain_dtype(spec, order)
                for spec in PLAIN_DTYPES for order in "<>|" if (order == "|") == (spec[1] == "1")}
_HEAD = 1024  # bytes read first from a large file: the description takes about 150
_WHOLE = 1 << 16  # a file up to this size is read whole at once


def _fast_array(source: _Source, read: bool):
    """The array of a file that is exactly one pickled array (protocol 3 or 4), else None.

    Only the description's variable parts (shape, dtype string, byte order, data length)
    are taken from the file; they go through the machine's own checks (:func:`_new_array`).
    """
    size = source.size
    head = source.window = source.read_at(0, size if size <= _WHOLE else _HEAD)
    protocol = head[1] if len(head) > 2 and head[0] == 0x80 else None
    found = _FAST[protocol].match(head) if protocol in _FAST else None
    if found is None:
        return None
    mark, dims, close, spec, order = found.groups()
    shape = _fast_shape(mark, dims, close)
    dtype = _FAST_DTYPES.get((spec, order))
    end = found.end()
    width = _DATA_LENGTH.get(head[end]) if end < len(head) else None
    if shape is None or dtype is None or width is None or end + 1 + width > len(head):
        return None
    data_at = end + 1 + width
    tail_at = data_at + _int(head[end + 1:data_at])
    whole = len(head) == size
    tail = head[tail_at:] if whole else source.read_at(tail_at, 16)
    if tail_at > size or not _FAST_TAIL[protocol].fullmatch(tail):
        return None
    raw = memoryview(head)[data_at:tail_at] if whole else _Blob(data_at, tail_at - data_at, bytes)
    return _new_array(source if read else None, shape, dtype, raw, False)
