"""Why a file is refused: the exceptions raised inside the machine, and the errors naming the file
and the fix that the loader turns them into.
"""
from __future__ import annotations

import math

from ...core.errors import SequenceReadError, UnsafePickleError
from .settings import MAX_BYTES_ENV

#: The fix quoted when a file is refused.
REFUSED_FIX = ("A silhouette pkl holds only numpy arrays (and lists, tuples or dicts of them), so this file "
               "is not one OpenGait's pretreatment wrote. Re-create it from "
               "the source frames (`opengait-gaitbert pretreat`, or OpenGait's datasets/pretreatment.py); "
               "list every such file with `opengait-gaitbert check-data`. Only if you know where the file "
               "comes from and trust it: `opengait-gaitbert train|test --trust-data`.")


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


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
