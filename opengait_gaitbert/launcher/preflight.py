"""Checks that fail in a second what OpenGait would fail after minutes (or never explain)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping

from ..core.config import validate_cfgs
from ..core.errors import ConfigError
from ..core.training_state import errno_name, load_checkpoint, rank_rng_state


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


def check_checkpoint(path: Path, training: bool, world_size: int, allow_world_size_change: bool) -> None:
    """Load ``path`` as the workers will (weights_only): a corrupt file or another world size fails now."""
    state = load_checkpoint(path)  # CheckpointError naming the file and the previous checkpoint
    if training and isinstance(state, Mapping) and isinstance(state.get("rng"), Mapping):
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
                raise ConfigError(f"{source}: data_cfg.{key} = {data.get(key)!r} does not exist "
                                  f"(relative paths are read from {workdir}). Point it at your "
                                  "pretreated pkl folder / partition JSON, or make one with "
                                  "`opengait-gaitbert synth`.")
    testing = not training or trainer.get("with_test", False)
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
