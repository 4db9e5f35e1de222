"""Only regular files are opened: FIFOs, devices, sockets and folders named ``*.pkl`` are refused
from their ``stat``, unopened, and a symbolic link must resolve inside the dataset root where one is given.
"""
from __future__ import annotations

import os
import stat
from typing import Tuple

from ...core.errors import SequenceReadError

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
