"""Pkl files whose unpickling would run code: each creates a marker file if it is ever loaded.

The attack of a tampered dataset download: the file is a valid pickle whose
``__reduce__`` names a function that runs a command. Tests write one where a
sequence belongs and assert that the marker never appears.
"""
import builtins
import os
import pickle
from pathlib import Path

import numpy as np


class ShellTouch:
    """Unpickles as ``os.system("touch MARKER")``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


class ExecTouch:
    """Unpickles as ``exec(...)``, which writes the marker from Python."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').close()",)


def silhouettes(frames: int = 10, size: int = 64) -> np.ndarray:
    """A plausible [frames, size, size] uint8 silhouette sequence (a bar of foreground)."""
    seq = np.zeros((frames, size, size), np.uint8)
    seq[:, size // 8:-size // 8, size // 3:-size // 3] = 255
    return seq


def write_malicious_pkl(path: Path, marker: Path, payload=ShellTouch, protocol: int = pickle.DEFAULT_PROTOCOL) -> Path:
    """Write at ``path`` a pickle that runs ``payload`` and then also holds a real-looking array.

    The array rides along in a tuple, so a loader that runs the payload still gets data
    and nothing but the marker shows that code ran.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        pickle.dump((payload(marker), silhouettes()), stream, protocol=protocol)
    return path
