"""How an error names a config's relative path: what it was resolved against, and where it exists.

OpenGait reads ``data_cfg.dataset_root`` and ``dataset_partition`` from the folder it
runs in, so ``./data`` means a different folder from one command to the next. Every
message about such a path (``check-data``, the launcher's preflight) says the same thing
with :func:`resolved_against`: which folder the relative path was resolved against, the
path that gave, and a folder where it does exist, if one of the likely ones holds it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable


def resolved_against(value, base: Path, base_name: str, candidates: Iterable[Path] = ()) -> str:
    """The sentence for an error about the config path ``value`` that was not found under ``base``.

    Args:
        value: the path as the config or the command line wrote it.
        base: the folder relative paths were resolved against.
        base_name: what ``base`` is, e.g. ``the current directory``.
        candidates: other folders the path may be relative to (the config's own folder, ...).
    Returns:
        '' for an absolute path; else ``"./data is relative, so it was resolved against the current
        directory, /home/me, giving /home/me/data (it exists relative to /home/me/gaitbert-demo)."``
    """
    path = Path(str(value))
    if path.is_absolute():
        return ""
    base = Path(base).absolute()
    found = next((Path(folder).absolute() for folder in candidates if (Path(folder) / path).exists()), None)
    there = f" (it exists relative to {found})" if found else ""
    return f"{value} is relative, so it was resolved against {base_name}, {base}, giving {base / path}{there}."
