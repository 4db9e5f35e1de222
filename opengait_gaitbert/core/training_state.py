"""Checkpoint safety and exact resumption, pure torch.

- :func:`atomic_save` writes to a temporary file in the same folder, flushes it
  to disk and renames it over the target: a kill mid-save leaves the previous
  checkpoint intact (a rename within one file system is atomic on POSIX).
- :func:`rng_state` / :func:`set_rng_state` capture Python's, numpy's, torch's CPU
  and (where present) CUDA generators as plain tensors and numbers, so a
  checkpoint still loads with ``torch.load(weights_only=True)`` (the default
  since torch 2.6).
- :func:`gather_rng_states` collects every rank's states on every rank (a
  collective: all ranks call it); :func:`rank_rng_state` picks one rank's back
  out of a checkpoint and refuses a different world size, naming the file.
- :func:`load_checkpoint` is the one weights-only loader (training, tools,
  preflight): a missing, truncated, corrupt or foreign file is a
  :class:`CheckpointError` that names it and the way back (by default the
  previous usable checkpoint of the run).
"""
from __future__ import annotations

import errno
import glob
import os
import pickle
import random
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present
from torch.serialization import get_unsafe_globals_in_checkpoint

from .errors import SHOW_KEYS, CheckpointError

# Set (to 1) by the launcher's --allow-world-size-change: resume at another world size, approximately.
ALLOW_WORLD_SIZE_CHANGE_ENV = "GAITBERT_ALLOW_WORLD_SIZE_CHANGE"


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
    """The global RNG states, made of tensors, ints and floats only.

    ``cuda`` (one state per visible device) is there only when CUDA is available.
    """
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": np_kind, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: Dict) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(int(v) for v in py_state["state"]), py_state["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        # Devices beyond those saved (or saved beyond those visible) keep their seeded state.
        for device, cuda_state in enumerate(state["cuda"][:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)


def gather_rng_states() -> Dict:
    """Every rank's :func:`rng_state`, as ``{"world_size": n, "ranks": [state of rank 0, ...]}``.

    A collective when torch.distributed is initialised: every rank must call it
    (``all_gather_object`` works on gloo and on nccl, where the current CUDA device
    carries it). Without a process group it is this process's state alone.
    """
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return {"world_size": 1, "ranks": [rng_state()]}
    states: List[Optional[Dict]] = [None] * dist.get_world_size()
    dist.all_gather_object(states, rng_state())
    return {"world_size": len(states), "ranks": states}


def rank_rng_state(saved: Dict, rank: int, world_size: int, path, allow_change: bool = False) -> Optional[Dict]:
    """The state ``rank`` saved in checkpoint ``path``'s ``rng`` entry, or None if it has none.

    A different world size is refused (CheckpointError naming the file, both sizes
    and the two ways on) unless ``allow_change``: then ranks the checkpoint knows
    get their own state back, the others keep their seeded state, and the run
    continues approximately. An old checkpoint with rank 0's state alone gives it
    to rank 0 only.
    """
    if "ranks" not in saved:  # written before per-rank states: rank 0's alone
        return saved if rank == 0 else None
    saved_size = int(saved["world_size"])
    if saved_size != world_size and not allow_change:
        raise CheckpointError(
            f"{path}: saved by {saved_size} process(es), this run has {world_size}. Each process's random "
            f"state was saved, so only the same world size continues exactly: run with --nproc {saved_size} "
            f"(times the node count), or pass --allow-world-size-change to continue with the weights, "
            "optimizer and schedule but another random stream (approximate resume).")
    return saved["ranks"][rank] if rank < saved_size else None


def checkpoint_iteration(path) -> Optional[int]:
    """The iteration in OpenGait's ``<save_name>-<iteration:05>.pt`` file name, or None."""
    match = re.fullmatch(r".*-(\d+)\.pt", Path(path).name)
    return int(match.group(1)) if match else None


def saved_checkpoints(path) -> List[Path]:
    """The checkpoints on disk of the same save_name as ``path`` (which need not exist), newest first."""
    path = Path(path)
    if checkpoint_iteration(path) is None or not path.parent.is_dir():
        return []
    prefix = path.name[:path.name.rfind("-") + 1]
    found = [(checkpoint_iteration(p), p) for p in path.parent.glob(f"{glob.escape(prefix)}*.pt")]
    return [p for i, p in sorted(found, reverse=True) if i is not None]


def previous_checkpoints(path) -> List[Path]:
    """Checkpoints of the same save_name as ``path`` with a lower iteration, newest first."""
    iteration = checkpoint_iteration(path)
    return [p for p in saved_checkpoints(path) if checkpoint_iteration(p) < iteration]


def errno_name(err: OSError) -> str:
    """``err``'s errno as a name ("ENOSPC", "EACCES"), or "" when it has none."""
    return errno.errorcode.get(err.errno, "") if err.errno else ""


def load_checkpoint(path, map_location="cpu", fix: Optional[str] = None) -> Dict:
    """``torch.load(weights_only=True)`` of an OpenGait checkpoint dict: the package's one loader.

    Nothing in the file runs. A missing, truncated, corrupt or foreign file (one that
    holds Python objects, or is not a dict) is a :class:`CheckpointError` naming the
    file, what is wrong with it, and ``fix``. The default fix suits a training run:
    the newest earlier checkpoint of the run and the ``--iter`` that resumes from it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found. {fix or _way_back(path)}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
        damage = _changed_record(path)
    except Exception as err:  # noqa: BLE001 - weights_only runs nothing from the file, so whatever it raises
        # is the file's damage: truncation gives RuntimeError (zip central directory), garbage any of
        # UnpicklingError, EOFError, KeyError, IndexError, UnicodeDecodeError, ...
        raise CheckpointError(f"{path}: cannot be read with weights_only=True ({_load_reason(path, err)}); the "
                              "file is truncated or corrupt, or holds more than the tensors, numbers, lists and "
                              f"dicts that OpenGait's trainer saves. {fix or _way_back(path)}") from err
    if damage:
        raise CheckpointError(f"{path}: cannot be read with weights_only=True ({damage}); the file is corrupt: "
                              f"bytes changed after it was saved. {fix or _way_back(path)}")
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: holds a {type(data).__name__}, not OpenGait's {{'model': state_dict, "
                              f"...}} dict. {fix or _way_back(path)}")
    return data


def _changed_record(path: Path) -> Optional[str]:
    """Which record of a zip checkpoint (torch's format since 1.6) fails its CRC-32, if any.

    ``torch.load`` does not check the CRCs, so bytes changed inside a tensor's data load
    silently as wrong weights. Checking them costs one more read of the file. A legacy
    (non-zip) checkpoint has no checksums, and a record saved under
    ``torch.serialization.set_crc32_options(False)`` has none either (its CRC field is 0).
    """
    if not zipfile.is_zipfile(path):
        return None
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.CRC == 0:
                continue
            try:
                with archive.open(info) as record:  # compares the CRC-32 when it reaches the end
                    while record.read(1 << 24):
                        pass
            except zipfile.BadZipFile as err:
                return (f"the record {info.filename} fails its CRC-32 check" if "CRC" in str(err)
                        else f"the record {info.filename} is damaged: {err}")
            except (EOFError, ValueError, OSError) as err:
                return f"the record {info.filename} is damaged: {type(err).__name__}: {err}"
    return None


def _load_reason(path: Path, err: Exception) -> str:
    """Why ``torch.load`` refused ``path``: the Python objects it holds, as torch lists them
    (``get_unsafe_globals_in_checkpoint``), else the kind of damage."""
    try:
        unsafe = get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - not even a readable torch archive: no globals to name
        unsafe = []
    if unsafe:
        return f"it holds Python objects: {', '.join(unsafe)}"
    if isinstance(err, pickle.UnpicklingError):  # torch's text would advise weights_only=False
        return "UnpicklingError: not a torch checkpoint, or a damaged one"
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0] or 'the file ends early'}"


def _way_back(path: Path) -> str:
    earlier = previous_checkpoints(path)
    if not earlier:
        return "No earlier checkpoint of this run exists: train from the start (--iter 0)."
    return (f"Resume from the previous one with --iter {checkpoint_iteration(earlier[0])} ({earlier[0]}), "
            f"and move the damaged file away.")


def save_error(path, err: OSError) -> CheckpointError:
    """A CheckpointError for a failed checkpoint write: the file, the cause and what is left intact."""
    path = Path(path)
    cause = errno_name(err)
    reason = f"{err.strerror or err} ({cause})" if cause else str(err)
    intact = ([p for p in [path] if p.is_file()] + previous_checkpoints(path))[:1]
    kept = (f"The newest earlier checkpoint, {intact[0]}, is intact: resume from it with "
            f"--iter {checkpoint_iteration(intact[0])}.") if intact else "No earlier checkpoint exists."
    fix = ("Free disk space" if err.errno in (errno.ENOSPC, errno.EDQUOT)
           else "Make the output folder writable (or run with --workdir on a writable disk)")
    return CheckpointError(f"{path}: cannot write the checkpoint: {reason}. Nothing half-written was left. "
                           f"{kept} {fix}, then resume.")


#: prefixes of an OpenGait checkpoint's keys before the core network's: DDP's, then the adapter's attribute
STRIP_PREFIXES = ("module.", "net.")


def network_state_dict(data: Mapping, ckpt_path="the checkpoint") -> Dict[str, Any]:
    """The core network's weights from an OpenGait checkpoint (or a bare state dict).

    Strips ``module.`` (DDP) and ``net.`` (the adapter's attribute) from every key, with
    torch's ``consume_prefix_in_state_dict_if_present``.
    """
    state = data.get("model", data)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{ckpt_path}: no state dict under 'model' (found keys: "
                              f"{', '.join(map(str, list(data)[:SHOW_KEYS]))}).")
    state = dict(state)
    for prefix in STRIP_PREFIXES:
        consume_prefix_in_state_dict_if_present(state, prefix)
    return state
