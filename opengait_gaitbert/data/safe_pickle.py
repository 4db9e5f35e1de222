"""Loading OpenGait's pkl files without letting them run code, crash or claim memory they do not hold.

OpenGait's datasets are Python pickles, downloaded from drives and mirrors.
Plain :func:`pickle.load` calls whatever callable a file names (``os.system``
included). An allow-list of global names is not enough either: numpy's own
``dtype`` and ``ndarray`` state restoring reads flags, strides and bytes from
the file, so a file naming only numpy's globals can make numpy take raw bytes
as object pointers (a crash, or code run at a known address), or build a
zero-stride array that claims terabytes over one byte. So nothing of numpy's
unpickling runs here:

* the pickle's opcodes are read by a small stack machine of our own
  (:class:`_Machine`), which knows the few callables a pickled numpy array
  names (:data:`ALLOWED_GLOBALS`) and calls none of them;
* an array is rebuilt from its description (shape, dtype string, byte order,
  data bytes): the dtype must be one of :data:`PLAIN_DTYPES` (bool, integers,
  floats; no object, void, structured or flag-carrying dtype), the element count
  must equal the bytes the file holds, and the result is a new C-contiguous array
  that owns its memory (``np.empty`` filled with the file's bytes, native byte order);
* one file may hold at most :func:`max_bytes` bytes (:data:`MAX_BYTES_ENV`);
* only regular files are opened: FIFOs, devices and folders named ``*.pkl`` are
  refused from their ``stat``, unopened, and a symbolic link must resolve inside
  the dataset root where one is given.

Lists, tuples, dicts, sets, strings, bytes and numbers need no global, so
OpenGait's multi-modal files (lists of point-cloud arrays, dicts) load as before.
The common case, one array as ``pickle.dump`` writes it with protocol 3 or 4, is
recognised by a byte pattern (:func:`_fast_array`) that feeds the same array
builder, so it costs no more than plain pickle. :func:`check_pickle` runs the
whole check without reading the array bytes (the launcher's preflight, and
OpenGait's DataSet before its first step).

``trust=True`` (the launcher's ``--trust-data``, or :data:`TRUST_ENV` = 1) is plain
:func:`pickle.load`, for files whose source the user knows.

Pure Python and numpy: nothing here imports OpenGait, torch or OpenCV.
"""
from __future__ import annotations

import codecs
import math
import os
import pickle
import pickletools
import re
import stat
import struct
from typing import BinaryIO, FrozenSet, Optional, Tuple

import numpy as np

from ..core.errors import ConfigError, SequenceReadError, UnsafePickleError

#: Set to 1 (or pass ``--trust-data``) to load pkl files with plain pickle; unset or 0 is the safe loader.
TRUST_ENV = "OPENGAIT_GAITBERT_TRUST_DATA"
#: The most bytes one pkl file may hold, to raise the default :data:`DEFAULT_MAX_BYTES`.
MAX_BYTES_ENV = "OPENGAIT_GAITBERT_MAX_PKL_BYTES"
#: 1 GiB: a uint8 [T, 64, 64] sequence of 262144 frames; OpenGait's largest modalities hold a few MB.
DEFAULT_MAX_BYTES = 1 << 30
#: Pickle operations one file may take (a pickled array takes about 45): bounds the work on a hostile file.
MAX_OPERATIONS = 1_000_000

_NUMPY_ARRAY_GLOBALS = (
    ("multiarray", "_reconstruct"),  # ndarray.__reduce__ (protocols 0-4)
    ("multiarray", "scalar"),        # numpy scalars (np.uint8(3) in a list)
    ("numeric", "_frombuffer"),      # ndarray.__reduce_ex__(5)
)
#: (module, name) pairs a silhouette pkl may name: numpy 2 writes ``numpy._core``,
#: numpy 1 ``numpy.core``; ``_codecs.encode`` is how protocols 0-2 store bytes, and ``bytes()``
#: (spelt ``__builtin__.bytes`` there) the empty data of an empty array.
#: None of them is ever imported or called: each names a step the machine rebuilds.
ALLOWED_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset(
    [(f"numpy.{core}.{module}", name) for core in ("core", "_core") for module, name in _NUMPY_ARRAY_GLOBALS]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("__builtin__", "bytes"),
       ("builtins", "bytes")])
#: dtype strings an array or numpy scalar may have: bool, unsigned and signed integers, floats.
PLAIN_DTYPES: FrozenSet[str] = frozenset(["b1", "u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f2", "f4", "f8"])
_MAX_NDIM = 32  # numpy 1's limit (numpy 2 allows 64)
_MAX_DIM = 2 ** 31 - 1  # one dimension of an array (a larger one is only possible next to a 0)
_MAX_LONG_BYTES = 64  # a pickled int wider than this is no array dimension or count

#: The fix quoted when a file is refused.
REFUSED_FIX = ("A silhouette pkl holds only numpy arrays (and lists, tuples or dicts of them), so this file "
               "is not one OpenGait's pretreatment wrote. Re-create it from "
               "the source frames (`opengait-gaitbert pretreat`, or OpenGait's datasets/pretreatment.py); "
               "list every such file with `opengait-gaitbert check-data`. Only if you know where the file "
               "comes from and trust it: `opengait-gaitbert train|test --trust-data`.")


# --------------------------------------------------------------------------
# Settings: trust and the size limit
# --------------------------------------------------------------------------

def trust_setting(environ=None) -> bool:
    """Whether :data:`TRUST_ENV` asks for plain pickle: ``1`` yes; unset, empty or ``0`` no.

    Raises:
        ConfigError: any other value (``true``, ``false``, ``yes``...), naming the variable
            and the values it takes, so that a value meant as "off" never turns trust on.
    """
    value = (os.environ if environ is None else environ).get(TRUST_ENV, "")
    if value in ("", "0", "1"):
        return value == "1"
    raise ConfigError(f"{TRUST_ENV}={value!r} is invalid; allowed: 1 (load pkl files with plain pickle, which "
                      "runs any code a file carries) or 0 / unset (the safe loader, the default). For one "
                      "launcher run, pass --trust-data instead.")


def trusted() -> bool:
    """:func:`trust_setting` of this process's environment."""
    return trust_setting()


def trust_decision(flag: bool = False) -> Tuple[bool, str]:
    """``(trusted, a line saying what was decided and why)``: ``--trust-data`` is ``flag``, and
    :data:`TRUST_ENV` is read from this process's environment (:func:`trust_setting`)."""
    from_env = trust_setting()  # checked even with the flag: the environment must say one thing
    if flag or from_env:
        why = "--trust-data" if flag else f"{TRUST_ENV}=1 in the environment"
        return True, (f"pkl files are loaded with plain pickle ({why}), which runs any code a file carries; "
                      "use it only for data whose source you know")
    setting = f"{TRUST_ENV}=0" if os.environ.get(TRUST_ENV) == "0" else f"{TRUST_ENV} unset"
    return False, (f"pkl files are loaded safely (no --trust-data, {setting}): numpy arrays are rebuilt from "
                   "their description and nothing in a file runs")


def max_bytes() -> int:
    """The most bytes one pkl may hold: :data:`MAX_BYTES_ENV`, else :data:`DEFAULT_MAX_BYTES`.

    Raises:
        ConfigError: the variable is not a positive whole number of bytes.
    """
    value = os.environ.get(MAX_BYTES_ENV)
    if not value:
        return DEFAULT_MAX_BYTES
    value = value.strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ConfigError(f"{MAX_BYTES_ENV}={value!r} is invalid; allowed: a positive number of bytes "
                      f"(default {DEFAULT_MAX_BYTES}, 1 GiB).")


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class _Refused(Exception):
    """Inside the machine: the file names a global outside the allow-list."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class _Unsafe(Exception):
    """Inside the machine: an array description no plain numeric array has."""


class _Malformed(Exception):
    """Inside the machine: not a complete, well-formed pickle."""


def _refused(path, global_name: str) -> UnsafePickleError:
    return UnsafePickleError(
        f"{path}: refused to unpickle: it names the global `{global_name}`, and loading it could run code. "
        f"{REFUSED_FIX}", path=str(path), global_name=global_name)


def _unsafe(path, reason: str) -> UnsafePickleError:
    return UnsafePickleError(
        f"{path}: refused to unpickle: {reason}; numpy's own unpickling of such a description can crash or "
        f"run code, so it is never used. {REFUSED_FIX}", path=str(path))


def _unreadable(path, why) -> SequenceReadError:
    """Its ``reason`` attribute is ``why`` alone (check-data lists it)."""
    error = SequenceReadError(
        f"{path}: not a readable pickle ({why}): the file is truncated, damaged or not a pickle at all. "
        "Copy it again from its source, or re-create it with `opengait-gaitbert pretreat`.")
    error.reason = str(why)
    return error


def _too_large(path, size: int, limit: int) -> SequenceReadError:
    return SequenceReadError(
        f"{path}: {size} bytes, over the {limit}-byte limit for one pkl file ({MAX_BYTES_ENV}); a silhouette "
        f"sequence holds a few hundred kB. If the file is yours and really that large, raise the limit, e.g. "
        f"{MAX_BYTES_ENV}={2 ** math.ceil(math.log2(size + 1))}.")


# --------------------------------------------------------------------------
# Only regular files
# --------------------------------------------------------------------------

_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _not_regular(path, mode: int) -> SequenceReadError:
    return SequenceReadError(
        f"{path}: is {_kind(mode)}, not a regular file; refused without opening it (reading one can block "
        "forever or have side effects). A pkl sequence is a regular file: remove or replace it.")


def regular_file(path, root=None) -> str:
    """The path to open for ``path``, checked from its ``stat`` without opening it.

    A symbolic link is followed. With ``root`` (a dataset root), the file's real path,
    through every link on the way, must lie inside the root's. FIFOs, devices, sockets
    and folders are refused by what they are.

    Raises:
        SequenceReadError: missing, a broken link or loop, a path leaving ``root``, or not a regular file.
    """
    target = os.fspath(path)
    try:
        mode = os.lstat(target).st_mode
        if root is not None or stat.S_ISLNK(mode):
            target = os.path.realpath(target)
            mode = os.stat(target).st_mode  # a broken link or a loop raises here
    except OSError as err:
        raise SequenceReadError(f"{path}: cannot be opened ({err.strerror or err}).") from err
    if root is not None:
        base = os.path.realpath(root)
        if not target.startswith(base.rstrip(os.sep) + os.sep):
            raise SequenceReadError(
                f"{path}: resolves to {target}, outside the dataset root {base} (a symbolic link leads out); "
                "refused. Copy the file into the dataset, or point the link inside it.")
    if not stat.S_ISREG(mode):
        raise _not_regular(path, mode)
    return target


def open_regular(path, root=None) -> Tuple[int, int]:
    """``(file descriptor, size)`` of the regular file ``path`` (see :func:`regular_file`); the caller closes it.

    Opened non-blocking and checked again from the open descriptor, so that a file swapped
    for a FIFO between the check and the open is refused instead of blocking.
    """
    target = regular_file(path, root)
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise SequenceReadError(f"{path}: cannot be opened ({err.strerror or err}).") from err
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise _not_regular(path, info.st_mode)
    return fd, info.st_size


# --------------------------------------------------------------------------
# Rebuilding arrays
# --------------------------------------------------------------------------

_DTYPE_STATE_TAIL = (None, None, None, -1, -1, 0)  # names, fields, subarray; elsize, alignment, flags
_BYTE_ORDERS = {"<": "<", ">": ">", "=": "=", "|": "|"}


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


def _is_int(value) -> bool:
    return type(value) is int


def _is_text(value, allowed) -> bool:
    """``value`` is a str or bytes among ``allowed`` (compared only once its type is known)."""
    return type(value) in (str, bytes) and value in allowed


def _is_flag(value) -> bool:
    """False / True as numpy writes them (0 / 1 from old pickles)."""
    return type(value) in (bool, int) and value in (0, 1)


def _check_shape(shape) -> Tuple[int, ...]:
    """``shape`` if it is a tuple of whole numbers (the machine's values can be anything)."""
    if type(shape) is not tuple or not all(type(n) is int for n in shape):
        raise _Unsafe(f"its array shape {_short(shape)} is not a tuple of whole numbers")
    return shape


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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


# --------------------------------------------------------------------------
# The stack machine
# --------------------------------------------------------------------------

class _Global:
    """A global the file names, as a marker: never imported, never called."""
    __slots__ = ("role",)

    def __init__(self, role: str):
        self.role = role


_ROLES = {"_reconstruct": "reconstruct", "scalar": "scalar", "_frombuffer": "frombuffer", "ndarray": "ndarray",
          "dtype": "dtype", "encode": "encode", "bytes": "bytes"}
_GLOBALS = {(module, name): _Global(_ROLES[name]) for module, name in ALLOWED_GLOBALS}


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


_STOP = object()


def _int(data: bytes, signed: bool = False) -> int:
    return int.from_bytes(data, "little", signed=signed)


def _text_int(line: bytes):
    if line in (b"00", b"01"):  # protocol 0's False / True
        return line == b"01"
    if len(line) > 2 * _MAX_LONG_BYTES:
        raise _Unsafe("it holds a number too long for an array")
    try:
        return int(line.rstrip(b"L"))
    except ValueError as err:
        raise _Malformed(f"invalid number {line[:40]!r}") from err


def _text_float(line: bytes):
    if len(line) > 64:
        raise _Malformed("a float argument too long")
    try:
        return float(line)
    except ValueError as err:
        raise _Malformed(f"invalid float {line[:40]!r}") from err


def _quoted(line: bytes) -> str:
    """Protocol 0's STRING argument: a quoted Python 2 string literal, decoded as ASCII."""
    if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
        raise _Malformed("the STRING opcode argument must be quoted")
    try:
        return _ascii(codecs.escape_decode(line[1:-1])[0])
    except ValueError as err:
        raise _Malformed(f"bad STRING argument ({err})") from err


def _ascii(data: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as err:
        raise _Malformed("a Python 2 string that is not ASCII") from err


def _raw_unicode(data: bytes) -> str:
    try:
        return data.decode("raw-unicode-escape")
    except UnicodeDecodeError as err:
        raise _Malformed(f"bad UNICODE argument ({err.reason})") from err


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as err:
        raise _Malformed(f"a string that is not UTF-8 ({err.reason})") from err


def _global(machine: _Machine, module, name):
    if not isinstance(module, str) or not isinstance(name, str):
        raise _Malformed("STACK_GLOBAL requires str")
    found = _GLOBALS.get((module, name))
    if found is None:
        raise _Refused(f"{module}.{name}")
    machine.stack.append(found)


def _sized(width: int, signed: bool = False, big: bool = False):
    """A reader of an argument whose length is stored in ``width`` bytes; ``big`` arguments (bytes)
    longer than the source's window are left in the file as a :class:`_Blob`."""
    def read(machine: _Machine, kind):
        n = _int(machine.source.take(width), signed)
        if n < 0:
            raise _Malformed("a negative byte count")
        if big and n > _Source.WINDOW:
            return machine.source.skip(n, kind)
        if n > machine.source.size:
            raise _Malformed("pickle data was truncated")
        data = machine.source.take(n)
        return data if kind is bytes else (_utf8(data) if kind is str else bytearray(data))
    return read


_LEN1, _LEN4, _LEN8 = _sized(1), _sized(4), _sized(8)
_BLOB1, _BLOB4, _BLOB8 = _sized(1, big=True), _sized(4, big=True), _sized(8, big=True)
_SLEN4 = _sized(4, signed=True)


def _push(value):
    return lambda m: m.stack.append(value)


def _add_to(m: _Machine, kind: type, items, opcode: str) -> None:
    """Add ``items`` (made plain) to the list or set on top of the stack."""
    values = [m.plain(item) for item in items]
    target = m.top()
    if type(target) is not kind:
        raise _Unsafe(f"{opcode} to something that is not a {kind.__name__}")
    if kind is list:
        target.extend(values)
    else:
        target.update(values)


def _setitems(m: _Machine, items):
    if len(items) % 2:
        raise _Malformed("odd number of items for SETITEMS")
    target = m.top()
    if type(target) is not dict:
        raise _Unsafe("SETITEM on something that is not a dict")
    for i in range(0, len(items), 2):
        target[m.plain(items[i])] = m.plain(items[i + 1])


def _dict_of(m: _Machine):
    items = m.pop_mark()
    m.stack.append({})
    _setitems(m, items)


def _tuple_n(n: int):
    def op(m: _Machine):
        items = [m.pop() for _ in range(n)][::-1]
        m.stack.append(m.tuple_of(items))
    return op


def _put(m: _Machine, index):
    if index < 0:
        raise _Malformed("negative PUT argument")
    m.memo[index] = m.top()


def _get(m: _Machine, index):
    try:
        m.stack.append(m.memo[index])
    except KeyError:
        raise _Malformed(f"Memo value not found at index {index}") from None


def _reduce(m: _Machine):
    args = m.pop()
    func = m.pop()
    m.stack.append(m.reduce(func, args))


def _build(m: _Machine):
    state = m.pop()
    m.build(m.top(), state)


def _frame(m: _Machine):
    if _int(m.source.take(8)) > m.source.size:
        raise _Malformed("pickle data was truncated")  # a frame longer than the file


def _proto(m: _Machine):
    if m.source.take(1)[0] > pickle.HIGHEST_PROTOCOL:
        raise _Malformed("unsupported pickle protocol")


def _long_bytes(m: _Machine, width: int):
    n = _int(m.source.take(width), signed=width == 4)
    if n < 0:
        raise _Malformed("LONG pickle has negative byte count")
    if n > _MAX_LONG_BYTES:
        raise _Unsafe(f"it holds a {n}-byte number, too long for an array")
    m.stack.append(_int(m.source.take(n), signed=True))


def _extension(m: _Machine, width: int):
    raise _Refused(f"<extension {_int(m.source.take(width))}>")


def _pop(m: _Machine):
    if len(m.stack) > (m.marks[-1] if m.marks else 0) or not m.marks:
        m.pop()
    else:  # as pickle does: POP on an empty top of the stack drops the MARK
        m.marks.pop()


def _inst(m: _Machine):
    module, name = _utf8(m.source.line()), _utf8(m.source.line())
    if (module, name) not in _GLOBALS:
        raise _Refused(f"{module}.{name}")
    raise _Unsafe(f"it builds an object of {module}.{name} with INST")


def _pop_mark(m: _Machine):
    m.pop_mark()


def _mark(m: _Machine):
    m.marks.append(len(m.stack))


def _frozenset(m: _Machine):
    m.stack.append(frozenset(m.plain(item) for item in m.pop_mark()))


def _text_global(m: _Machine):
    module, name = _utf8(m.source.line()), _utf8(m.source.line())
    _global(m, module, name)


def _stack_global(m: _Machine):
    name = m.pop()
    module = m.pop()
    _global(m, module, name)


def _setitem(m: _Machine):
    value = m.pop()
    key = m.pop()
    _setitems(m, [key, value])


_HANDLERS = {
    0x80: _proto, 0x95: _frame, ord("."): lambda m: _STOP,
    ord("("): _mark, ord("0"): _pop, ord("i"): _inst, ord("1"): _pop_mark, ord("2"): lambda m: m.stack.append(m.top()),
    ord("N"): _push(None), 0x88: _push(True), 0x89: _push(False),
    ord("I"): lambda m: m.stack.append(_text_int(m.source.line())),
    ord("L"): lambda m: m.stack.append(_text_int(m.source.line())),
    ord("J"): lambda m: m.stack.append(_int(m.source.take(4), signed=True)),
    ord("K"): lambda m: m.stack.append(m.source.take(1)[0]),
    ord("M"): lambda m: m.stack.append(_int(m.source.take(2))),
    0x8a: lambda m: _long_bytes(m, 1), 0x8b: lambda m: _long_bytes(m, 4),
    ord("F"): lambda m: m.stack.append(_text_float(m.source.line())),
    ord("G"): lambda m: m.stack.append(struct.unpack(">d", m.source.take(8))[0]),
    ord("S"): lambda m: m.stack.append(_quoted(m.source.line())),
    ord("T"): lambda m: m.stack.append(_ascii(_SLEN4(m, bytes))),
    ord("U"): lambda m: m.stack.append(_ascii(_LEN1(m, bytes))),
    ord("V"): lambda m: m.stack.append(_raw_unicode(m.source.line())),
    ord("X"): lambda m: m.stack.append(_LEN4(m, str)),
    0x8c: lambda m: m.stack.append(_LEN1(m, str)),
    0x8d: lambda m: m.stack.append(_LEN8(m, str)),
    ord("C"): lambda m: m.stack.append(_BLOB1(m, bytes)),
    ord("B"): lambda m: m.stack.append(_BLOB4(m, bytes)),
    0x8e: lambda m: m.stack.append(_BLOB8(m, bytes)),
    0x96: lambda m: m.stack.append(_BLOB8(m, bytearray)),
    ord("]"): lambda m: m.stack.append([]), ord("a"): lambda m: _add_to(m, list, [m.pop()], "APPEND"),
    ord("e"): lambda m: _add_to(m, list, m.pop_mark(), "APPENDS"),
    ord("l"): lambda m: m.stack.append([m.plain(item) for item in m.pop_mark()]),
    ord(")"): _push(()), ord("t"): lambda m: m.stack.append(m.tuple_of(m.pop_mark())),
    0x85: _tuple_n(1), 0x86: _tuple_n(2), 0x87: _tuple_n(3),
    ord("}"): lambda m: m.stack.append({}), ord("d"): _dict_of, ord("s"): _setitem,
    ord("u"): lambda m: _setitems(m, m.pop_mark()),
    0x8f: lambda m: m.stack.append(set()), 0x90: lambda m: _add_to(m, set, m.pop_mark(), "ADDITEMS"),
    0x91: _frozenset,
    ord("c"): _text_global, 0x93: _stack_global,
    ord("R"): _reduce, ord("b"): _build,
    ord("p"): lambda m: _put(m, _text_int(m.source.line())),
    ord("q"): lambda m: _put(m, m.source.take(1)[0]),
    ord("r"): lambda m: _put(m, _int(m.source.take(4))),
    0x94: lambda m: _put(m, len(m.memo)),
    ord("g"): lambda m: _get(m, _text_int(m.source.line())),
    ord("h"): lambda m: _get(m, m.source.take(1)[0]),
    ord("j"): lambda m: _get(m, _int(m.source.take(4))),
    0x82: lambda m: _extension(m, 1), 0x83: lambda m: _extension(m, 2), 0x84: lambda m: _extension(m, 4),
}
# Opcodes without a handler: those that build objects by calling a class (OBJ, NEWOBJ, ...) are refused
# as unsafe; those pickle.dump never writes to a file make it unreadable.
_OPCODE_NAMES = {ord(op.code): op.name for op in pickletools.opcodes}
_NOT_WRITTEN = {"PERSID": "a persistent id, which pickle.dump never writes",
                "BINPERSID": "a persistent id, which pickle.dump never writes",
                "NEXT_BUFFER": "an out-of-band buffer, which a file cannot carry",
                "READONLY_BUFFER": "an out-of-band buffer, which a file cannot carry"}


# --------------------------------------------------------------------------
# The common case: one array as pickle.dump writes it (protocols 3 and 4)
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

def _run(source: _Source, path, read: bool, fast: bool = True):
    """The object in ``source`` (``read``), or :data:`_CHECKED` after checking it (not ``read``),
    with every refusal an error naming ``path``."""
    limit = max_bytes()
    if source.size > limit:
        raise _too_large(path, source.size, limit)
    try:
        found = _fast_array(source, read) if fast else None
        if found is not None:
            return found
        return _Machine(source, read).run()
    except _Refused as err:
        raise _refused(path, err.name) from None
    except _Unsafe as err:
        raise _unsafe(path, str(err)) from None
    except _Malformed as err:
        raise _unreadable(path, f"UnpicklingError: {err}") from None
    except (OSError, MemoryError, RecursionError, TypeError, ValueError, OverflowError) as err:
        # OSError: the file went away mid-read; TypeError: an unhashable dict key or set item;
        # ValueError / OverflowError: numbers and sizes out of range. Each is the file's fault.
        raise _unreadable(path, f"{type(err).__name__}: {err}") from err


def _stream_source(stream: BinaryIO, path) -> _Source:
    """A source over an open binary file (its descriptor when it has one), from its position on."""
    base = stream.tell()
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.BytesIO and other file-likes
        size = stream.seek(0, os.SEEK_END)
        stream.seek(base)
        return _Source(size - base, stream=stream, base=base)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(path, info.st_mode)
    return _Source(info.st_size - base, fd=fd, base=base)


def load_stream(stream: BinaryIO, path, trust: bool = False, fast: bool = True):
    """The object pickled in ``stream`` (an open binary file, read from its position); ``path``
    names it in errors. ``fast=False`` skips the pattern for one array (tests compare the two).

    Raises:
        UnsafePickleError: the file names a global outside :data:`ALLOWED_GLOBALS`, or an array
            description no plain numeric array has.
        SequenceReadError: not a regular file, over the size limit, or not a complete pickle.
    """
    if trust:
        try:
            return pickle.load(stream)
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises is the file's fault
            raise _unreadable(path, f"{type(exc).__name__}: {exc}") from exc
    return _run(_stream_source(stream, path), path, read=True, fast=fast)


def load_pickle(path, trust: bool = False, root=None):
    """The object in the pkl file ``path``, rebuilt by the safe machine unless ``trust``.

    For a silhouette pkl that is a uint8 array ``[T, H, W]``; for OpenGait's
    multi-modal files also ``[T, C, H, W]`` arrays or lists of ``[N, 3]`` arrays.
    ``root``: the dataset root, inside which a symbolic link must resolve.

    Raises:
        UnsafePickleError: a global a pickled array never needs, or an unsafe array description.
        SequenceReadError: not a regular file, over the size limit, or not a complete pickle.
    """
    fd, size = open_regular(path, root)
    if trust:
        with os.fdopen(fd, "rb") as stream:
            return load_stream(stream, path, trust=True)
    try:
        return _run(_Source(size, fd=fd), path, read=True)
    finally:
        os.close(fd)


def check_pickle(path, root=None) -> None:
    """Everything :func:`load_pickle` checks, without reading the array data (a few kB per file).

    Raises:
        UnsafePickleError / SequenceReadError: as :func:`load_pickle` would.
    """
    fd, size = open_regular(path, root)
    try:
        _run(_Source(size, fd=fd), path, read=False)
    finally:
        os.close(fd)


__all__ = ["ALLOWED_GLOBALS", "DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "MAX_OPERATIONS", "PLAIN_DTYPES", "TRUST_ENV",
           "check_pickle", "load_pickle", "load_stream", "max_bytes", "open_regular", "regular_file",
           "trust_decision", "trust_setting", "trusted"]
