"""Progress on stderr that suits both a terminal and a saved log.

On a terminal, a tqdm bar redraws one line in place with carriage returns. Redirected
to a file or a pipe (``2> run.log``, a CI log, ``nohup``), those redraws would pile up
into one long line, so there the same loop prints a plain line at each tenth of the
work instead (every :data:`LINE_EVERY` items when the total is unknown), plus the last.
"""
from __future__ import annotations

import sys
from typing import Iterable, Iterator, Optional, TextIO, TypeVar

T = TypeVar("T")

#: Items between plain lines when the total is unknown (e.g. a video without a frame count).
LINE_EVERY = 500
#: Plain lines per run when the total is known (one per tenth, the last included).
LINES_PER_RUN = 10


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (a stream without ``isatty`` is not)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress(items: Iterable[T], desc: str, unit: str = "it", total: Optional[int] = None,
             enabled: bool = True, stream: Optional[TextIO] = None) -> Iterator[T]:
    """Yield ``items`` while reporting progress on ``stream`` (stderr by default).

    Args:
        desc: what is being done, e.g. ``embedding gallery/``.
        unit: what one item is (``frame``, ``seq``).
        total: the number of items; ``len(items)`` when it has one.
        enabled: False yields the items silently.
        stream: where progress goes; a terminal gets a tqdm bar, anything else plain lines.
    """
    stream = sys.stderr if stream is None else stream
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if not enabled:
        yield from items
    elif is_terminal(stream):
        from tqdm import tqdm

        yield from tqdm(items, desc=desc, unit=unit, total=total, file=stream)
    else:
        yield from _plain_lines(items, desc, unit, total, stream)


def _plain_lines(items: Iterable[T], desc: str, unit: str, total: Optional[int], stream: TextIO) -> Iterator[T]:
    """``desc: 40/100 seq`` lines, at most :data:`LINES_PER_RUN` when ``total`` is known."""
    done, shown = 0, 0
    for item in items:
        yield item
        done += 1
        due = done * LINES_PER_RUN // total > (done - 1) * LINES_PER_RUN // total if total else done % LINE_EVERY == 0
        if due:
            print(f"{desc}: {done}/{total if total else '?'} {unit}", file=stream, flush=True)
            shown = done
    if done != shown:  # the end, when it fell between two lines (or the total was wrong)
        print(f"{desc}: {done}/{total if total else done} {unit}", file=stream, flush=True)
