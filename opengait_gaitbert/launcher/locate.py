"""Finding OpenGait: ``--opengait``, then ``OPENGAIT_ROOT``, then the current directory."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..core.errors import GaitBERTError

# Files that make a folder an OpenGait clone (the root holds configs/ and opengait/).
MARKERS = ("opengait/main.py", "opengait/modeling/base_model.py", "opengait/data/transform.py",
           "opengait/utils/common.py", "configs/default.yaml")
CLONE_HINT = ("Clone it (git clone https://github.com/ShiqiYu/OpenGait) and pass --opengait PATH "
              "or set OPENGAIT_ROOT=PATH.")


class OpenGaitNotFound(GaitBERTError, FileNotFoundError):
    """No OpenGait clone where we looked, or the folder is not OpenGait."""


def check_clone(path: Path, origin: str) -> Path:
    """Return the clone root of ``path`` (the clone itself or its ``opengait/`` folder)."""
    path = Path(path).expanduser().resolve()
    if path.name == "opengait" and (path / "main.py").is_file():
        path = path.parent
    missing = [m for m in MARKERS if not (path / m).is_file()]
    if missing:
        raise OpenGaitNotFound(f"{origin} = {path} is not an OpenGait clone: missing {', '.join(missing)}. "
                               + CLONE_HINT)
    return path


def locate_opengait(explicit: Optional[str] = None) -> Path:
    """The OpenGait clone root, from ``--opengait``, ``OPENGAIT_ROOT`` or the current directory."""
    if explicit:
        return check_clone(Path(explicit), "--opengait")
    env = os.environ.get("OPENGAIT_ROOT")
    if env:
        return check_clone(Path(env), "OPENGAIT_ROOT")
    try:
        return check_clone(Path.cwd(), "the current directory")
    except OpenGaitNotFound:
        raise OpenGaitNotFound("OpenGait not found: no --opengait, no OPENGAIT_ROOT, and the current "
                               f"directory ({Path.cwd()}) is not a clone. " + CLONE_HINT) from None
