"""Loading OpenGait's pkl files without letting them run code.

OpenGait's datasets are Python pickles, downloaded from drives and mirrors.
Plain :func:`pickle.load` calls whatever callable a file names (``os.system``
included), so this module is the one place this package unpickles data:

* :func:`load_pickle` unpickles with :class:`SafeUnpickler`, whose ``find_class``
  admits only :data:`ALLOWED_GLOBALS`: what a pickled numpy array needs (numpy 1
  and numpy 2 module names, protocols 0 to 5). Plain containers (list, tuple,
  dict, str, bytes, numbers) need no global, so OpenGait's multi-modal files load
  as well. Anything else is refused with :class:`UnsafePickleError` before it is
  imported, let alone called.
* :func:`scan_globals` lists the globals a file names by walking its opcodes,
  running nothing and seeking over the large byte strings (the frames), so a
  whole dataset can be checked in a few hundred bytes read per file before any
  of it is loaded.

``trust=True`` (the launcher's ``--trust-data``, or :data:`TRUST_ENV`) is plain
:func:`pickle.load`, for files whose source the user knows.

Pure Python and numpy: nothing here imports OpenGait, torch or OpenCV.
"""
from __future__ import annotations

import io
import os
import pickle
import pickletools
from typing import BinaryIO, FrozenSet, List, Tuple

from ..core.errors import SequenceReadError, UnsafePickleError

#: Set to 1 (the launcher does, for ``--trust-data``) to load pkl files with plain pickle.
TRUST_ENV = "OPENGAIT_GAITBERT_TRUST_DATA"

_NUMPY_ARRAY_GLOBALS = (
    ("multiarray", "_reconstruct"),  # ndarray.__reduce__ (protocols 0-4)
    ("multiarray", "scalar"),        # numpy scalars (np.uint8(3) in a list)
    ("numeric", "_frombuffer"),      # ndarray.__reduce_ex__(5)
)
#: (module, name) pairs a silhouette pkl may name: numpy 2 writes ``numpy._core``,
#: numpy 1 ``numpy.core``; ``_codecs.encode`` is how protocol 2 stores bytes.
ALLOWED_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset(
    [(f"numpy.{core}.{module}", name) for core in ("core", "_core") for module, name in _NUMPY_ARRAY_GLOBALS]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")])

#: The fix quoted when a file is refused.
REFUSED_FIX = ("A silhouette pkl holds only numpy arrays (and lists, tuples or dicts of them), so this file "
               "is not one OpenGait's pretreatment wrote. Re-create it from "
               "the source frames (`opengait-gaitbert pretreat`, or OpenGait's datasets/pretreatment.py); "
               "list every such file with `opengait-gaitbert check-data`. Only if you know where the file "
               "comes from and trust it: `opengait-gaitbert train|test --trust-data`.")


class _Refused(pickle.UnpicklingError):
    """Raised inside the unpickler; :func:`load_pickle` turns it into an UnsafePickleError naming the file."""

    def __init__(self, module: str, name: str):
        super().__init__(f"{module}.{name}")
        self.module, self.name = module, name


_RESOLVED: dict = {}  # (module, name) -> the allowed object, filled on first use


class SafeUnpickler(pickle.Unpickler):
    """The C unpickler with an allow-list of globals; containers and numbers need none.

    Only ``find_class`` is Python, called once per global the file names (three
    or four for an array), so loading runs at the plain unpickler's speed.
    """

    def find_class(self, module: str, name: str):
        found = _RESOLVED.get((module, name))
        if found is None:
            if (module, name) not in ALLOWED_GLOBALS:
                raise _Refused(module, name)
            # Resolved once per process: pickle's own find_class audits and imports on every call,
            # which is most of the fixed cost per file.
            found = _RESOLVED[module, name] = super().find_class(module, name)
        return found

    def persistent_load(self, pid):
        # Persistent ids point outside the file; pickle.dump never writes them, so a file
        # with one is not a pickled sequence (a PNG's header reads as one, for instance).
        raise pickle.UnpicklingError(f"a persistent id ({repr(pid)[:40]}), which pickle.dump never writes")


def _refused(path, global_name: str) -> UnsafePickleError:
    return UnsafePickleError(
        f"{path}: refused to unpickle: it names the global `{global_name}`, and loading it could run code. "
        f"{REFUSED_FIX}", path=str(path), global_name=global_name)


def _unreadable(path, why) -> SequenceReadError:
    return SequenceReadError(
        f"{path}: not a readable pickle ({why}): the file is truncated, damaged or not a pickle at all. "
        "Copy it again from its source, or re-create it with `opengait-gaitbert pretreat`.")


def trusted() -> bool:
    """Whether :data:`TRUST_ENV` asks for plain pickle."""
    return os.environ.get(TRUST_ENV, "").strip() not in ("", "0")


def load_stream(stream: BinaryIO, path, trust: bool = False):
    """The object pickled in ``stream`` (an open binary file); ``path`` names it in errors.

    Unpickling a damaged file can raise anything (``UnpicklingError``, ``EOFError``,
    ``TypeError``, ``MemoryError``, ...): each is the file's fault and becomes a
    SequenceReadError naming it.

    Raises:
        UnsafePickleError: the file names a global outside :data:`ALLOWED_GLOBALS`.
        SequenceReadError: the file is not a complete pickle.
    """
    try:
        return pickle.load(stream) if trust else SafeUnpickler(stream).load()
    except _Refused as err:
        raise _refused(path, f"{err.module}.{err.name}") from None
    except Exception as exc:  # noqa: BLE001 - see the docstring: any exception is the file's
        raise _unreadable(path, f"{type(exc).__name__}: {exc}") from exc


def load_pickle(path, trust: bool = False):
    """The object in the pkl file ``path``, loaded with :class:`SafeUnpickler` unless ``trust``.

    For a silhouette pkl that is a uint8 array ``[T, H, W]``; for OpenGait's
    multi-modal files also ``[T, C, H, W]`` arrays or lists of ``[N, 3]`` arrays.

    Raises:
        UnsafePickleError: the file names a global a pickled array never needs.
        SequenceReadError: the file cannot be opened, or is not a complete pickle.
    """
    try:
        stream = open(path, "rb")
    except OSError as err:
        raise SequenceReadError(f"{path}: cannot be opened ({err.strerror or err}).") from err
    with stream:
        return load_stream(stream, path, trust)


# --------------------------------------------------------------------------
# Checking before loading: the globals a file names, from its opcodes
# --------------------------------------------------------------------------

_MARK = object()      # a MARK on the modelled stack
_UNKNOWN = object()   # a value the scan does not track (only strings are tracked)
#: Byte and string arguments longer than this are skipped with a seek, unread.
_SKIP_OVER = 256
_LENGTH_BYTES = {pickletools.TAKEN_FROM_ARGUMENT1: (1, "little"), pickletools.TAKEN_FROM_ARGUMENT4: (4, "little"),
                 pickletools.TAKEN_FROM_ARGUMENT4U: (4, "little"), pickletools.TAKEN_FROM_ARGUMENT8U: (8, "little")}
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING",
               "STRING"}
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}
_MEMO_GETS = {"GET", "BINGET", "LONG_BINGET"}


def _read_arg(stream: BinaryIO, op, size: int):
    """The argument of ``op`` at the stream's position; a long byte or string argument is
    skipped (seek) and returned as _UNKNOWN, since only short strings can name a global."""
    arg = op.arg
    if arg is None:
        return None
    if arg.n in _LENGTH_BYTES:
        width, order = _LENGTH_BYTES[arg.n]
        raw = stream.read(width)
        if len(raw) < width:
            raise ValueError("truncated")
        length = int.from_bytes(raw, order, signed=arg.n == pickletools.TAKEN_FROM_ARGUMENT4)
        if length < 0:
            raise ValueError("negative length")
        if length > _SKIP_OVER:
            end = stream.tell() + length
            if end > size:
                raise ValueError("truncated")
            stream.seek(end)
            return _UNKNOWN
        data = stream.read(length)
        if len(data) < length:
            raise ValueError("truncated")
        return data.decode("utf-8", "surrogatepass") if "UNICODE" in op.name else data
    return arg.reader(stream)


def scan_stream(stream: BinaryIO) -> List[str]:
    """``module.name`` of every global the pickle in ``stream`` names, in order; runs nothing.

    An extension code (a global registered outside the file) is listed as
    ``<extension N>``, a global whose name the scan cannot follow as ``<computed>``:
    both are outside :data:`ALLOWED_GLOBALS`.

    Raises:
        ValueError: the stream is not a complete, well-formed pickle (truncated, an
            unknown opcode, a stack that does not add up, a persistent id).
    """
    here = stream.tell()
    size = stream.seek(0, io.SEEK_END)
    stream.seek(here)
    stack: list = []
    memo: dict = {}
    found: List[str] = []
    while True:
        code = stream.read(1)
        if not code:
            raise ValueError("ends before its STOP opcode (truncated)")
        op = pickletools.code2op.get(code.decode("latin-1"))
        if op is None:
            raise ValueError(f"unknown opcode {code!r} at byte {stream.tell() - 1}")
        arg = _read_arg(stream, op, size)
        name = op.name
        if name == "STOP":
            return found
        if name in ("GLOBAL", "INST"):
            found.append(".".join(arg.split(" ", 1)))
        elif name == "STACK_GLOBAL":
            if len(stack) < 2:
                raise ValueError("STACK_GLOBAL on a short stack")
            module, attr = stack[-2], stack[-1]
            found.append(f"{module}.{attr}" if isinstance(module, str) and isinstance(attr, str) else "<computed>")
        elif name in ("PERSID", "BINPERSID"):
            raise ValueError(f"a persistent id at byte {stream.tell()}, which pickle.dump never writes")
        elif name.startswith("EXT"):
            found.append(f"<extension {arg}>")
        if name in _MEMO_PUTS or name == "MEMOIZE":
            if not stack:
                raise ValueError(f"{name} on an empty stack")
            memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1]
            continue
        if name in _MEMO_GETS:
            stack.append(memo.get(arg, _UNKNOWN))
            continue
        if name == "DUP":
            stack.append(stack[-1] if stack else _UNKNOWN)
            continue
        # Everything else moves the stack as pickletools describes it: pop what it takes
        # (down to the MARK for the markobject ones), push what it leaves.
        before = op.stack_before
        if pickletools.markobject in before:
            while stack and stack[-1] is not _MARK:
                stack.pop()
            if not stack:
                raise ValueError(f"{name} without a MARK")
            stack.pop()
            taken = before.index(pickletools.markobject)  # the items below the MARK it takes too
        else:
            taken = len(before)
        if len(stack) < taken:
            raise ValueError(f"{name} on a short stack")
        del stack[len(stack) - taken:]
        if name == "MARK":
            stack.append(_MARK)
        elif name in _STRING_OPS and isinstance(arg, str):
            stack.append(arg)
        else:
            stack.extend([_UNKNOWN] * len(op.stack_after))


def scan_globals(path) -> List[str]:
    """The globals the pkl file ``path`` names (see :func:`scan_stream`), reading only its opcodes.

    Raises:
        SequenceReadError: the file cannot be opened or is not a complete pickle.
    """
    try:
        stream = open(path, "rb")
    except OSError as err:
        raise SequenceReadError(f"{path}: cannot be opened ({err.strerror or err}).") from err
    with stream:
        try:
            return scan_stream(stream)
        except (ValueError, OSError, UnicodeDecodeError) as err:
            raise _unreadable(path, err) from err


def refused_globals(path) -> List[str]:
    """The globals of ``path`` that :class:`SafeUnpickler` would refuse, without loading it."""
    return [name for name in scan_globals(path) if tuple(name.rsplit(".", 1)) not in ALLOWED_GLOBALS]


def check_globals(path) -> None:
    """Refuse ``path`` before loading it if it names a global outside :data:`ALLOWED_GLOBALS`.

    Raises:
        UnsafePickleError: naming the file and the first refused global.
        SequenceReadError: the file cannot be opened or is not a complete pickle.
    """
    refused = refused_globals(path)
    if refused:
        raise _refused(path, refused[0])


__all__ = ["ALLOWED_GLOBALS", "TRUST_ENV", "SafeUnpickler", "check_globals", "load_pickle", "load_stream",
           "refused_globals", "scan_globals", "scan_stream", "trusted"]
