"""Checks that fail in a second what OpenGait would fail after minutes (or never explain)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import List, Mapping

from ..core.config import validate_cfgs
from ..core.errors import ConfigError, SequenceReadError
from ..core.training_state import errno_name, load_checkpoint, rank_rng_state
from ..data.layouts import LAYOUTS, layout_for_dataset
from ..data.safe_pickle import regular_file
from .paths import resolved_against

SHOW_IDS = 5  # missing ids quoted in a message; the rest are counted


def checkpoint_path(cfgs: Mapping, engine: str, iteration: int, workdir: Path) -> Path:
    """Where OpenGait's ``save_ckpt`` writes iteration ``iteration`` of ``engine``'s save_name."""
    data = cfgs["data_cfg"]
    dataset = "_".join(d["dataset_name"] for d in data) if isinstance(data, list) else data["dataset_name"]
    save_name = cfgs[engine]["save_name"]
    return (workdir / "output" / dataset / cfgs["model_cfg"]["model"] / save_name / "checkpoints"
            / f"{save_name}-{iteration:0>5}.pt")


def check_writable(folder: Path, what: str) -> None:
    """Create ``folder`` and a file in it, or raise ConfigError naming it and the cause."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{what} {folder}: is a file, not a folder; checkpoints and logs go there. "
                          "Move the file away, or run with --workdir elsewhere.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        cause = errno_name(err)
        raise ConfigError(f"{what} {folder}: not writable ({err.strerror or err}{', ' + cause if cause else ''}); "
                          "checkpoints and logs go there. Fix its permissions or free space, or run with "
                          "--workdir on a writable disk.") from err


def read_partition(path: Path, source: str, key: str = "data_cfg.dataset_partition") -> dict:
    """The partition JSON at ``path``, or ConfigError naming it (unreadable, not an object)."""
    try:
        split = json.loads(Path(regular_file(path)).read_text())  # a FIFO is refused, not waited on
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SequenceReadError) as err:
        raise ConfigError(f"{source}: {key} = {path} cannot be read as JSON ({err}).") from err
    if not isinstance(split, dict):
        raise ConfigError(f"{source}: {key} = {path} holds a {type(split).__name__}, not "
                          '{"TRAIN_SET": [...], "TEST_SET": [...]}.')
    return split


def partition_ids(split: Mapping, key: str, path: Path, source: str) -> List[str]:
    """``split[key]`` as a list of id strings, or ConfigError naming the file and the key."""
    ids = split.get(key)
    if not isinstance(ids, list):
        found = "missing" if key not in split else f"a {type(ids).__name__}"
        raise ConfigError(f"{source}: data_cfg.dataset_partition = {path} has no {key} list ({found}).")
    return [str(i) for i in ids]


def _quote(ids: List[str]) -> str:
    more = f" and {len(ids) - SHOW_IDS} more" if len(ids) > SHOW_IDS else ""
    return ", ".join(ids[:SHOW_IDS]) + more


def check_partition_matches_root(data: Mapping, split: Mapping, workdir: Path, sets: List[str],
                                 source: str) -> None:
    """Every id of the partition's ``sets`` has a folder in the dataset root.

    OpenGait drops partition ids without a folder silently (``data/dataset.py``), so a
    wrong root or partition trains or tests on a part of the data, or on nothing.
    """
    root, path = workdir / str(data["dataset_root"]), workdir / str(data["dataset_partition"])
    if not root.is_dir():
        raise ConfigError(f"{source}: data_cfg.dataset_root = {root} is a file, not the folder of "
                          "<id>/<type>/<view>/*.pkl.")
    present = set(os.listdir(root))
    for key in sets:
        ids = partition_ids(split, key, path, source)
        missing = [i for i in ids if i not in present]
        if missing:
            raise ConfigError(
                f"{source}: data_cfg.dataset_root does not match data_cfg.dataset_partition: {len(missing)} of "
                f"the {len(ids)} {key} ids of {path} have no folder in {root} (missing: {_quote(missing)}); "
                f"the root holds {len(present)} entries{' (e.g. ' + _quote(sorted(present)) + ')' if present else ''}. "
                f"{_nearby_root(root, missing[0])}Point dataset_root at the pkl folder of this partition's "
                "dataset, or dataset_partition at the partition of this data (`opengait-gaitbert check-data "
                "--cfgs <config>` lists every problem).")


def _nearby_root(root: Path, missing_id: str) -> str:
    """'Did you mean X?' when the missing id sits one folder below or above ``root``."""
    candidates = [d for d in sorted(root.iterdir())[:100] if d.is_dir() and (d / missing_id).is_dir()]
    candidates += [root.parent] if (root.parent / missing_id).is_dir() else []
    return f"Did you mean dataset_root: {candidates[0]}? " if candidates else ""


def check_evaluator_data(cfgs: Mapping, data: Mapping, split: Mapping, workdir: Path, source: str) -> None:
    """What OpenGait's evaluator for this dataset needs beyond the partition: enough test ids
    for its top-k ranks, and the partition it reads from the working directory (Gait3D).
    """
    eval_func = (cfgs.get("evaluator_cfg") or {}).get("eval_func")
    path = workdir / str(data["dataset_partition"])
    test_ids = partition_ids(split, "TEST_SET", path, source)
    layout = layout_for_dataset(str(data.get("test_dataset_name", data.get("dataset_name"))))
    if layout is not None:
        needed, why = layout.min_test_ids(eval_func)
        walkers = [i for i in test_ids if i not in layout.unlabelled_ids]
        if len(walkers) < needed:
            raise ConfigError(f"{source}: data_cfg.dataset_partition = {path} has {len(walkers)} test ids, but "
                              f"evaluator_cfg.eval_func = {eval_func} needs at least {needed} ({why}). "
                              "Add test ids to the partition.")
    for fixed in LAYOUTS.values():
        if fixed.evaluator_partition and eval_func in fixed.evaluators:
            _check_evaluator_partition(workdir / fixed.evaluator_partition, set(test_ids), eval_func, path, source)


def _check_evaluator_partition(fixed: Path, test_ids: set, eval_func: str, ours: Path, source: str) -> None:
    """``eval_func`` reads its PROBE_SET (``id-type-view``) from ``fixed``, whatever the config says."""
    why = (f"OpenGait's {eval_func} reads its PROBE_SET from ./{fixed.parent.parent.name}/{fixed.parent.name}/"
           f"{fixed.name} in the working directory ({fixed.parent.parent.parent}), not from "
           f"data_cfg.dataset_partition ({ours})")
    fix = (f"Copy {ours} to {fixed}, or run with --workdir pointing at a folder that holds it "
           "(the OpenGait clone, for the real dataset).")
    if not fixed.is_file():
        raise ConfigError(f"{source}: evaluator_cfg.eval_func = {eval_func}: {fixed} does not exist; {why}. {fix}")
    probes = read_partition(fixed, source, key=f"{eval_func}'s partition").get("PROBE_SET")
    if not isinstance(probes, list) or not probes:
        raise ConfigError(f"{source}: evaluator_cfg.eval_func = {eval_func}: {fixed} has no PROBE_SET; {why}. {fix}")
    stray = [str(p) for p in probes if str(p).split("-")[0] not in test_ids]
    if stray:
        raise ConfigError(f"{source}: evaluator_cfg.eval_func = {eval_func}: {len(stray)} of the {len(probes)} "
                          f"PROBE_SET sequences of {fixed} are not of a TEST_SET id of {ours} (e.g. "
                          f"{_quote(stray)}); {why}. {fix}")


def check_checkpoint(path: Path, training: bool, world_size: int, allow_world_size_change: bool) -> None:
    """Load ``path`` as the workers will (weights_only): a corrupt file or another world size fails now."""
    state = load_checkpoint(path)  # CheckpointError naming the file and the previous checkpoint
    if training and isinstance(state.get("rng"), Mapping):
        rank_rng_state(state["rng"], 0, world_size, path, allow_change=allow_world_size_change)


def preflight(cfgs: Mapping, source: str, phase: str, device: str, world_size: int,
              workdir: Path, iteration: int = 0, allow_world_size_change: bool = False) -> None:
    """Raise ConfigError (naming ``source`` and the key, with the fix) before any process starts."""
    training = phase == "train"
    trainer, evaluator = cfgs.get("trainer_cfg", {}), cfgs.get("evaluator_cfg", {})
    data_cfgs = cfgs["data_cfg"] if isinstance(cfgs["data_cfg"], list) else [cfgs["data_cfg"]]
    for data in data_cfgs:
        for key in ("dataset_root", "dataset_partition"):
            path = Path(str(data.get(key, "")))
            if not (workdir / path).exists():
                note = resolved_against(data.get(key), workdir, "the run's working directory (--workdir; by default the "
                                        "OpenGait clone)", [Path.cwd(), Path(source).parent])
                fix = (f"Give an absolute path (--set data_cfg.{key}=/absolute/path), or run with --workdir set to "
                       "the folder it is relative to. " if note else "")
                raise ConfigError(f"{source}: data_cfg.{key} = {data.get(key)!r} does not exist. {note + ' ' if note else ''}"
                                  f"{fix}Point it at your pretreated pkl folder / partition JSON, or make one with "
                                  "`opengait-gaitbert synth`.")
    testing = not training or trainer.get("with_test", False)
    for data in data_cfgs:
        split = read_partition(workdir / str(data["dataset_partition"]), source)
        check_partition_matches_root(data, split, workdir, ["TRAIN_SET"] * training + ["TEST_SET"] * testing, source)
        if testing:
            check_evaluator_data(cfgs, data, split, workdir, source)
    batch = (evaluator.get("sampler") or {}).get("batch_size")
    if testing and batch != world_size:
        raise ConfigError(f"{source}: evaluator_cfg.sampler.batch_size = {batch!r} but the run has "
                          f"{world_size} process(es); OpenGait's run_test needs them equal. "
                          f"Set batch_size: {world_size} or run with --nproc {batch}.")
    if training:
        p_k = (trainer.get("sampler") or {}).get("batch_size", [1, 1])
        if isinstance(p_k, list) and len(p_k) == 2 and (p_k[0] * p_k[1]) % world_size:
            raise ConfigError(f"{source}: trainer_cfg.sampler.batch_size = {p_k} gives {p_k[0] * p_k[1]} "
                              f"sequences, not divisible by {world_size} process(es). Change P or K.")
    if device == "cpu":
        switches = [("trainer_cfg", "sync_BN", training), ("trainer_cfg", "enable_float16", training),
                    ("evaluator_cfg", "enable_float16", testing)]
        for section, key, needed in switches:
            if needed and cfgs.get(section, {}).get(key):
                raise ConfigError(f"{source}: {section}.{key} = true needs CUDA "
                                  f"({'SyncBatchNorm' if key == 'sync_BN' else 'fp16 autocast'}); "
                                  f"set `{key}: false` for a CPU run (CPU runs are fp32), "
                                  f"e.g. --set {section}.{key}=false.")
    if cfgs.get("model_cfg", {}).get("model") == "GaitBERT":
        validate_cfgs(cfgs, training, source)
    engine = "trainer_cfg" if training else "evaluator_cfg"
    restore = iteration or cfgs.get(engine, {}).get("restore_hint", 0)
    if isinstance(restore, int) and restore > 0:
        ckpt = checkpoint_path(cfgs, engine, restore, workdir)
        if not ckpt.is_file():
            flag = "--iter" if iteration else f"{engine}.restore_hint"
            raise ConfigError(f"{source}: {flag} = {restore} but {ckpt} does not exist. Train first, "
                              "or restore an iteration that was saved (save_iter divides it).")
        check_checkpoint(ckpt, training, world_size, allow_world_size_change)
