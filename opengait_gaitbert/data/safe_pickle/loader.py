"""Loading and checking one pkl file, with every refusal an error naming it: the fast path for one
array, else the machine; ``trust=True`` is plain :func:`pickle.load`.
"""
from __future__ import annotations

import os
import pickle
import stat
from typing import BinaryIO

from .fast_path import _fast_array
from .machine import _Machine
from .refusals import _Malformed, _Refused, _Unsafe, _refused, _too_large, _unreadable, _unsafe
from .regular_files import _not_regular, open_regular
from .settings import max_bytes
from .source import _Source


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
