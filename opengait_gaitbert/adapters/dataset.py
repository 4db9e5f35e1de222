"""What OpenGait's ``data.dataset`` loads its pkl files through (patch P5 of :mod:`.patches`).

``DataSet.__loader__`` calls ``open(pth, 'rb')`` and ``pickle.load(f)`` on each
sequence file, with ``open`` and ``pickle`` looked up in the module globals of
``data/dataset.py``. P5 sets both there: ``pickle`` is :class:`SafePickle`, whose
``load`` is :func:`..data.safe_pickle.load_stream` (arrays rebuilt from their
description, nothing in a file runs), and ``open`` is :func:`open_regular_file`,
which refuses a FIFO, device or folder by its ``stat`` instead of blocking on it.
It also wraps ``DataSet.__init__``:

* after OpenGait has listed the sequences, every listed file is checked as the
  safe loader reads it, without its frames (:func:`..data.safe_pickle.check_pickle`,
  symbolic links kept inside ``data_cfg.dataset_root``), and a refused file stops
  the run there, before the first step, as an UnsafePickleError or SequenceReadError;
* a listing that fails (a symbolic link loop, an unreadable folder) or a
  malformed partition JSON becomes a DataError naming the path and the fix,
  instead of an OSError from inside OpenGait.

Nothing of OpenGait is edited on disk. It is applied by the launcher's worker
(through :func:`..registry.register`) and, for users who run OpenGait's own
``main.py``, by the startup hook when ``data.dataset`` is imported.
``OPENGAIT_GAITBERT_TRUST_DATA=1`` (``--trust-data``) loads with plain pickle; any value
but 1, 0 or unset is refused, naming the variable.
"""
from __future__ import annotations

import builtins
import os
import pickle
import types

from ..core.errors import SequenceReadError, UnsafePickleError
from ..data.safe_pickle import check_pickle, load_stream, regular_file, trusted

#: Refused or unreadable files quoted in one error; the rest are counted.
SHOW_FILES = 3
#: Set (to 1) by the launcher, which has said the trust decision itself: the workers do not repeat it.
TRUST_SAID_ENV = "GAITBERT_TRUST_SAID"


class SafePickle(types.ModuleType):
    """``pickle`` as ``data/dataset.py`` sees it: ``load`` is the safe loader (unless trusted),
    everything else is the real module."""

    def __init__(self):
        super().__init__("pickle", "The pickle module with an allow-list load (opengait_gaitbert).")

    @staticmethod
    def load(file, *args, **kwargs):
        return load_stream(file, getattr(file, "name", "<a pkl file>"), trust=trusted())

    def __getattr__(self, name):
        return getattr(pickle, name)


def open_regular_file(file, mode="r", *args, **kwargs):
    """``open`` as ``data/dataset.py`` sees it: a path to read that exists but is a FIFO, a device
    or a folder is refused (SequenceReadError naming it) instead of blocking the loader forever."""
    if "r" in mode and isinstance(file, (str, os.PathLike)) and os.path.lexists(file):
        regular_file(file)
    return builtins.open(file, mode, *args, **kwargs)


def log(message: str, warning: bool = False) -> None:
    """Through OpenGait's logger (rank 0 only) where main.py set it up, else on stderr."""
    import sys

    import torch
    if torch.distributed.is_initialized():
        from utils import get_msg_mgr  # OpenGait
        manager = get_msg_mgr()
        if getattr(manager, "logger", None) is not None:  # set up by main.py (rank > 0: a no-op)
            (manager.log_warning if warning else manager.log_info)(f"[opengait-gaitbert] {message}")
            return
    print(f"[opengait-gaitbert] {message}", file=sys.stderr, flush=True)


def check_listed_files(seqs_info, root=None) -> int:
    """Refuse, before loading any, the files of OpenGait's ``seqs_info`` that the safe loader
    would refuse (a global a pickled array never needs, an unsafe array description, no complete
    pickle, over the size limit, no regular file, a link out of ``root``); returns the files checked.

    Raises:
        UnsafePickleError: naming the first refused file, its global and the count.
        SequenceReadError: naming the first unreadable file and the count.
    """
    refused, unreadable, checked = [], [], 0
    for *_, paths in seqs_info:
        for path in paths:
            if not str(path).endswith(".pkl"):
                continue  # OpenGait's own loader refuses those with its message
            checked += 1
            try:
                check_pickle(path, root=root)
            except UnsafePickleError as err:
                refused.append(err)
            except SequenceReadError as err:
                unreadable.append(err)
    for errors in (refused, unreadable):
        if errors:
            first = errors[0]
            if len(errors) > 1:
                others = [str(err).split(": ", 1)[0] for err in errors[1:SHOW_FILES]]
                first.args = (f"{first} ({len(errors)} such files in all; also {'; '.join(others)}"
                              f"{'; ...' if len(errors) > SHOW_FILES else ''})",)
            raise first
    return checked
