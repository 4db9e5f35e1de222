"""Errors raised by GaitBERT, and the close-match helper that makes them useful.

Every error a user can cause names where it came from (a config file and key,
a data file) and how to fix it, so that a typo costs seconds, not a training run.

Every such error is a :class:`GaitBERTError`. The command line reports one as
``opengait-gaitbert COMMAND: error: ...`` and exits with :data:`EXIT_USER_ERROR`
(2, argparse's status for a usage error); anything else is a bug or a failed run
and ends with a traceback and status 1 (:data:`EXIT_INTERNAL_ERROR`, Python's own).
"""
from __future__ import annotations

import contextvars
import difflib
from contextlib import contextmanager
from types import MappingProxyType
from typing import Iterable, Iterator, Mapping, Sequence


class GaitBERTError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(GaitBERTError, ValueError):
    """A config key is unknown, has the wrong type or an impossible value."""


class DataError(GaitBERTError, ValueError):
    """Input data (a sequence, a batch, a file) does not fit the model."""


class SequenceReadError(DataError):
    """A frame or sequence file cannot be read; the message names the path."""


class UnsafePickleError(SequenceReadError):
    """A pkl file names a global (a function or class) that a silhouette sequence never needs.

    Attributes:
        path: the file.
        global_name: the first refused ``module.name``.
    """

    def __init__(self, message: str, path: str = "", global_name: str = ""):
        super().__init__(message)
        self.path, self.global_name = path, global_name

    def __reduce__(self):  # rebuilt with its attributes when re-raised from a DataLoader worker
        return type(self), (str(self), self.path, self.global_name)


class CheckpointError(GaitBERTError, RuntimeError):
    """A checkpoint is missing, cannot be written or read back, or does not fit this run or config."""


#: Keys (or files) quoted per kind of problem in one message; the rest are counted.
SHOW_KEYS = 4

#: Exit status for an error the user can fix: usage, config or data (argparse's convention).
EXIT_USER_ERROR = 2
#: Exit status for an internal error or a failed run (Python's own for an uncaught exception).
EXIT_INTERNAL_ERROR = 1


def close_match_hint(name: str, allowed: Iterable[str]) -> str:
    """' Did you mean `x`?' for a likely typo, else ''."""
    match = difflib.get_close_matches(str(name), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" Did you mean `{match[0]}`?" if match else ""


def quote_keys(title: str, items: Sequence[str]) -> str:
    """``"3 missing keys: a; b; c"``, quoting at most :data:`SHOW_KEYS` of ``items``."""
    more = f" (+{len(items) - SHOW_KEYS} more)" if len(items) > SHOW_KEYS else ""
    return f"{len(items)} {title}: {'; '.join(items[:SHOW_KEYS])}{more}"


_LOCATION: contextvars.ContextVar = contextvars.ContextVar("config_location", default=None)


@contextmanager
def config_location(where: str) -> Iterator[None]:
    """Inside, a config dataclass validated on construction (``NetworkConfig``, ``MaskingPolicy``)
    names ``where`` (a file and section) in its errors instead of its generic section name."""
    token = _LOCATION.set(where)
    try:
        yield
    finally:
        _LOCATION.reset(token)


def location(default: str) -> str:
    """The location :func:`config_location` set, else ``default``."""
    return _LOCATION.get() or default


def config_error(where: str, key: str, value, allowed: str, fix: str = "") -> ConfigError:
    """Build a ConfigError that names the source, the key, the bad value and what is allowed:
    the one form of every such message.

    Args:
        where: the config file and section, e.g. ``gaitbert_casiab.yaml: model_cfg``.
        key: the offending key.
        value: the value found.
        allowed: a description of the allowed values.
        fix: an optional extra sentence on how to fix it.
    """
    msg = f"{where}: `{key}` = {value!r} is invalid; allowed: {allowed}."
    if fix:
        msg += " " + fix.lstrip()
    return ConfigError(msg)


def reject_retired_values(where: str, key: str, value, retired: Mapping[str, str]) -> None:
    """Raise ConfigError when ``value`` of ``key`` (or an entry of it, for a list) is retired,
    saying what became of it (``retired``: value -> the rest of the sentence)."""
    for entry in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(entry, str) and entry in retired:
            raise ConfigError(f"{where}: `{key}: {entry}` {retired[entry]}")


def reject_unknown_keys(where: str, given: Iterable[str], known: Iterable[str],
                        retired: Mapping[str, str] = MappingProxyType({})) -> None:
    """Raise ConfigError for the first key of `given` that is retired (saying what became of it,
    from ``retired``: key -> the rest of the sentence) or not in `known` (with a suggestion)."""
    given = list(given)
    named = sorted(set(given) & retired.keys())
    if named:  # say what became of it, not just "unknown"
        raise ConfigError(f"{where}: `{named[0]}` {retired[named[0]]}")
    known = list(known)
    unknown = [k for k in given if k not in known]
    if unknown:
        key = unknown[0]
        raise ConfigError(
            f"{where}: unknown key `{key}`.{close_match_hint(key, known)} "
            f"Known keys: {', '.join(sorted(known))}."
        )
