"""Checkpoint safety and exact resumption, pure torch.

- :func:`atomic_save` writes to a temporary file in the same folder, flushes it
  to disk and renames it over the target: a kill mid-save leaves the previous
  checkpoint intact (a rename within one file system is atomic on POSIX).
- :func:`rng_state` / :func:`set_rng_state` capture Python's, numpy's and torch's
  global generators as plain tensors and numbers, so a checkpoint still loads
  with ``torch.load(weights_only=True)`` (the default since torch 2.6).
"""
from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Dict

import numpy as np
import torch


def atomic_save(obj, path) -> Path:
    """``torch.save`` that never leaves a half-written file at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(obj, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def rng_state() -> Dict:
    """The global RNG states, made of tensors, ints and floats only."""
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": np_kind, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": py_gauss},
    }


def set_rng_state(state: Dict) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(int(v) for v in py_state["state"]), py_state["gauss"]))
