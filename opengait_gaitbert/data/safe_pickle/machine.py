"""The stack machine: runs a pickle's opcodes (:mod:`.opcodes`) with plain values and markers, and
rebuilds numpy's arrays, dtypes and scalars from their description; numpy's callables are never called.
"""
from __future__ import annotations

import numpy as np

from .allow_list import _GLOBALS, _Global
from .arrays import _check_shape, _check_spec, _new_array, _plain_dtype
from .opcodes import _HANDLERS, _NOT_WRITTEN, _OPCODE_NAMES, _STOP
from .refusals import _Malformed, _Unsafe, _short
from .source import _Blob, _Source

#: Pickle operations one file may take (a pickled array takes about 45): bounds the work on a hostile file.
MAX_OPERATIONS = 1_000_000
_DTYPE_STATE_TAIL = (None, None, None, -1, -1, 0)  # names, fields, subarray; elsize, alignment, flags


def _is_int(value) -> bool:
    return type(value) is int


def _is_text(value, allowed) -> bool:
    """``value`` is a str or bytes among ``allowed`` (compared only once its type is known)."""
    return type(value) in (str, bytes) and value in allowed


def _is_flag(value) -> bool:
    """False / True as numpy writes them (0 / 1 from old pickles)."""
    return type(value) in (bool, int) and value in (0, 1)


class _DType:
    """``numpy.dtype(spec)``, waiting for its state (BUILD) to say its byte order."""
    __slots__ = ("spec", "dtype")

    def __init__(self, spec):
        self.spec, self.dtype = spec, None

    def __repr__(self):
        return f"dtype({self.spec!r})"


class _Array:
    """``_reconstruct(ndarray, ...)``: an array waiting for its state (BUILD)."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = None


class _Marked(tuple):
    """A tuple holding a marker (a global, a dtype or array waiting for its state, data left in the file):
    fit as arguments or state, made plain (:meth:`_Machine.plain`) before it becomes data."""


_MARKERS = (_Global, _DType, _Array, _Blob, _Marked)
_MAX_MARKED_DEPTH = 64


class _Machine:
    """Runs a pickle's opcodes with plain values and markers; numpy's callables are rebuilt, never called."""

    def __init__(self, source: _Source, read: bool):
        self.source = source
        self.read = read  # False: check only, array data stays unread
        self.stack: list = []
        self.marks: list = []
        self.memo: dict = {}

    # -- stack ---------------------------------------------------------------
    def pop(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise _Malformed("unpickling stack underflow")
        return self.stack.pop()

    def top(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            raise _Malformed("unpickling stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list:
        if not self.marks:
            raise _Malformed("could not find MARK")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def plain(self, value, depth: int = 0):
        """``value`` as data: a built array or dtype for its marker, bytes for data left in the file."""
        if isinstance(value, _Marked):
            if depth > _MAX_MARKED_DEPTH:
                raise _Malformed("tuples nested too deeply")
            return tuple(self.plain(item, depth + 1) for item in value)
        if isinstance(value, _Array):
            if value.value is None:
                raise _Unsafe("it uses an array before its state is set")
            return value.value
        if isinstance(value, _DType):
            if value.dtype is None:
                raise _Unsafe("it uses a dtype before its state is set")
            return value.dtype
        if isinstance(value, _Blob):
            if not self.read:
                return b"" if value.kind is bytes else bytearray()
            data = self.source.read_blob(value)
            return data if value.kind is bytes else bytearray(data)
        if isinstance(value, _Global):
            raise _Unsafe("it uses a numpy class or function as data")
        return value

    def tuple_of(self, items):
        return _Marked(items) if any(isinstance(item, _MARKERS) for item in items) else tuple(items)

    # -- running ---------------------------------------------------------------
    def run(self):
        source, handlers = self.source, _HANDLERS
        for _ in range(MAX_OPERATIONS):
            code = source.take(1)[0]
            handler = handlers.get(code)
            if handler is None:
                name = _OPCODE_NAMES.get(code)
                if name is None:
                    raise _Malformed(f"invalid load key, {chr(code)!r}.")
                if name in _NOT_WRITTEN:
                    raise _Malformed(f"{name}: {_NOT_WRITTEN[name]}")
                raise _Unsafe(f"it uses the pickle opcode {name}, which builds objects by calling a class")
            if handler(self) is _STOP:
                if len(self.stack) != 1 or self.marks:
                    raise _Malformed("STOP with a stack that is not one object")
                return self.plain(self.stack[0])
        raise _Unsafe(f"it takes more than {MAX_OPERATIONS} pickle operations")

    # -- building -----------------------------------------------------------------
    def reduce(self, func, args):
        if not isinstance(func, _Global):
            raise _Unsafe("it calls something that is not a global of the allow-list")
        if type(args) not in (tuple, _Marked):
            raise _Malformed("REDUCE arguments are not a tuple")
        role = func.role
        if role == "reconstruct":  # _reconstruct(ndarray, (0,), b'b'): an empty array to set the state of
            if (len(args) != 3 or args[0] is not _GLOBALS["numpy", "ndarray"] or type(args[1]) is not tuple
                    or not _is_text(args[2], (b"b", "b"))):
                raise _Unsafe(f"_reconstruct with arguments {_short(args)}, not (ndarray, shape, b'b')")
            return _Array()
        if role == "dtype":  # dtype(spec, align=False, copy=True): its state sets the byte order
            if len(args) != 3 or not _is_flag(args[1]) or args[1] or not _is_flag(args[2]):
                raise _Unsafe(f"dtype with arguments {_short(args)}")
            return _DType(_check_spec(args[0]))
        if role == "scalar":  # scalar(dtype, bytes): a numpy scalar
            if len(args) != 2 or not isinstance(args[0], _DType) or type(args[1]) is not bytes:
                raise _Unsafe(f"scalar with arguments {_short(args)}, not (dtype, bytes)")
            dtype = self.plain(args[0])
            if len(args[1]) != dtype.itemsize:
                raise _Unsafe(f"a {dtype.name} scalar of {len(args[1])} bytes")
            return np.frombuffer(args[1], dtype)[0]
        if role == "frombuffer":  # _frombuffer(buffer, dtype, shape, order): protocol 5
            if len(args) != 4 or not isinstance(args[1], _DType) or not _is_text(args[3], ("C", "F")):
                raise _Unsafe(f"_frombuffer with arguments {_short(args)}")
            return self.array(args[2], args[1], args[0], args[3] == "F")
        if role == "encode":  # _codecs.encode(text, 'latin1'): bytes in protocols 0-2
            if len(args) != 2 or type(args[0]) is not str or not _is_text(args[1], ("latin1", "latin-1")):
                raise _Unsafe(f"_codecs.encode with arguments {_short(args)}, not (text, 'latin1')")
            return args[0].encode("latin-1")
        if role == "bytes":  # bytes(): the empty data of an empty array in protocols 0-2
            if args != ():
                raise _Unsafe(f"bytes with arguments {_short(args)}, not ()")
            return b""
        raise _Unsafe("it calls numpy.ndarray directly, which takes strides and offsets from the file")

    def array(self, shape, dtype, raw, fortran):
        if not isinstance(dtype, _DType):
            raise _Unsafe("its array's dtype is not a numpy dtype")
        if isinstance(raw, str):  # numpy reads text data as latin-1 (Python 2 files)
            raw = raw.encode("latin-1")
        return _new_array(self.source if self.read else None, _check_shape(shape), self.plain(dtype), raw, fortran)

    def build(self, target, state):
        if isinstance(target, _DType) and target.dtype is None:
            if (type(state) is not tuple or len(state) != 8 or not _is_int(state[0]) or state[0] != 3
                    or any(a != b or type(a) is not type(b) for a, b in zip(state[2:], _DTYPE_STATE_TAIL))):
                raise _Unsafe(f"its dtype state {_short(state)} carries fields, flags or sizes that a plain numeric "
                              "dtype does not have")
            target.dtype = _plain_dtype(target.spec, state[1])
            return
        if isinstance(target, _Array) and target.value is None:
            if type(state) not in (tuple, _Marked) or len(state) != 5 or not _is_int(state[0]) or state[0] != 1:
                raise _Unsafe(f"its array state {_short(state)} is not (1, shape, dtype, fortran, data)")
            if not _is_flag(state[3]):
                raise _Unsafe(f"its array state's order flag is {_short(state[3])}")
            target.value = self.array(state[1], state[2], state[4], bool(state[3]))
            return
        raise _Unsafe("it sets the state (BUILD) of something that is not a new numpy array or dtype")
