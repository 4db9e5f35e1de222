"""Load a trained GaitBERT from OpenGait's YAML config and checkpoint, without OpenGait.

OpenGait's trainer saves ``{'model': state_dict, 'optimizer': ..., 'scheduler': ...,
'iteration': k}`` to ``output/<dataset>/GaitBERT/<save_name>/checkpoints/<save_name>-<k>.pt``.
The state dict belongs to the adapter ``GaitBERT(BaseModel)``, which holds the
core network as ``net``, so keys read ``net.encoder...`` (``module.net...`` when
saved from a DDP wrapper). :func:`load_model` strips both prefixes and loads the
rest into a :class:`~opengait_gaitbert.core.model.GaitBERTNet` built from the
config's ``model_cfg``.

:func:`preprocess` turns raw silhouettes into what the network saw at test time:
OpenGait's pretreatment (crop, height-normalise, centre to 64x64) followed by its
``BaseSilCuttingTransform`` (cut the sides to 64x44, scale to [0, 1]; see :mod:`opengait_gaitbert.compat`).

Only the pure core is used: nothing here imports OpenGait. Torch is imported
inside the functions so that ``opengait-gaitbert --help`` stays fast.
"""
from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ..compat import cut_and_scale, read_yaml
from ..core.errors import CheckpointError, ConfigError, DataError, quote_keys

#: Pixel size of OpenGait's pretreated frames (before the side cut).
PKL_SIZE = 64

PathLike = Union[str, Path]




# --------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------

def read_config(cfgs_path: PathLike) -> Dict[str, Any]:
    """Read OpenGait's YAML config as a dict.

    Raises:
        ConfigError: the file is missing, not YAML, or has no GaitBERT ``model_cfg`` mapping.
    """
    path = Path(cfgs_path)
    cfg = read_yaml(path)
    if not isinstance(cfg.get("model_cfg"), dict):
        raise ConfigError(f"{path}: no `model_cfg` section; this is not an OpenGait config for "
                          "GaitBERT (see configs/gaitbert/gaitbert_casiab.yaml).")
    model = cfg["model_cfg"].get("model", "GaitBERT")
    if model != "GaitBERT":
        raise ConfigError(f"{path}: model_cfg.model is {model!r}; these tools run GaitBERT only. "
                          "Pass the GaitBERT config the checkpoint was trained with.")
    return cfg


def masking_policy(cfg: Mapping, cfgs_path: PathLike = "the config", **overrides):
    """The config's ``MaskedFrameSampler`` policy with ``overrides`` (None values ignored).

    Args:
        cfg: the config dict (see :func:`read_config`).
        cfgs_path: the file name, for messages.
        overrides: e.g. ``mode="span"``, ``ratio=0.5``.
    Returns:
        A :class:`~opengait_gaitbert.core.masking.MaskingPolicy`; the core's defaults
        when the config has no sampler.
    """
    from dataclasses import replace

    from ..core.config import SAMPLER_NAME, iter_transforms, masking_policy_from_cfg
    from ..core.masking import MaskingPolicy

    trainer = cfg.get("trainer_cfg") or {}
    entries = [t for t in iter_transforms(trainer.get("transform")) if t.get("type") == SAMPLER_NAME]
    where = f"{cfgs_path}: trainer_cfg.transform ({SAMPLER_NAME})"
    policy = masking_policy_from_cfg(entries[0], where) if entries else MaskingPolicy()
    given = {k: v for k, v in overrides.items() if v is not None}
    if "mode" in given:  # one mode instead of the config's mixture: its weights go, its own ratio stays
        given.setdefault("mode_weights", None)
        if "ratio" not in given and not isinstance(policy.ratio, float):
            given["ratio"] = policy.ratio_of(given["mode"]) if given["mode"] in policy.modes else MaskingPolicy.ratio
    return replace(policy, **given) if given else policy


def cutting_options(cfg: Mapping, phase: str = "test") -> Dict[str, Any]:
    """``divsor`` and ``cutting`` of the transform that fed the network in ``phase``.

    ``test`` reads ``evaluator_cfg.transform`` (``BaseSilCuttingTransform``),
    ``train`` reads the ``MaskedFrameSampler`` of ``trainer_cfg.transform``.
    Missing keys take OpenGait's defaults (255, automatic cut).
    """
    from ..core.config import SAMPLER_NAME, iter_transforms

    section, kind = (("evaluator_cfg", "BaseSilCuttingTransform") if phase == "test"
                     else ("trainer_cfg", SAMPLER_NAME))
    for entry in iter_transforms((cfg.get(section) or {}).get("transform")):
        if entry.get("type") == kind:
            return {"divsor": entry.get("divsor", 255.0), "cutting": entry.get("cutting")}
    return {"divsor": 255.0, "cutting": None}


# --------------------------------------------------------------------------
# Checkpoint
# --------------------------------------------------------------------------

def load_model(cfgs_path: PathLike, ckpt_path: Optional[PathLike] = None,
               device: str = "cpu") -> Tuple[Any, Dict[str, Any]]:
    """Build the network and load an OpenGait checkpoint into it.

    The network is built from the ``model_cfg`` the checkpoint stores (GaitBERT's own, since
    2026-12-06), else from the config's. Where the two differ, the checkpoint's wins, and a note
    on stderr names the keys: the weights were trained with it.

    Args:
        cfgs_path: OpenGait YAML config the checkpoint was trained with (its data and transform
            options; its ``model_cfg`` for checkpoints that store none).
        ckpt_path: OpenGait checkpoint (``.pt``); None gives a randomly initialised
            network (for tests and untrained pictures).
        device: torch device for the weights.
    Returns:
        ``(net, cfg)``: a :class:`GaitBERTNet` in eval mode on ``device`` and the config dict,
        its ``model_cfg`` the one the network was built from.
    Raises:
        ConfigError: bad config (names the file and key).
        CheckpointError: missing/unreadable checkpoint, or weights that do not fit ``model_cfg``.
    """
    from ..core.model import GaitBERTNet, NetworkConfig
    from ..core.training_state import load_checkpoint, network_state_dict

    cfg = read_config(cfgs_path)
    config = NetworkConfig.from_dict(cfg["model_cfg"], where=f"{cfgs_path}: model_cfg")
    data = None if ckpt_path is None else load_checkpoint(ckpt_path, device, fix=CHECKPOINT_FIX)
    stored = data.get("model_cfg") if isinstance(data, Mapping) else None
    if isinstance(stored, Mapping):
        try:
            trained = NetworkConfig.from_dict(stored, where=f"{ckpt_path}: model_cfg")
        except ConfigError as err:  # written by an older version: the config has the last word
            print(f"[opengait-gaitbert] {err} Building the network from {cfgs_path} instead.", file=sys.stderr)
        else:
            differing = [f.name for f in fields(config) if getattr(config, f.name) != getattr(trained, f.name)]
            if differing:
                print(f"[opengait-gaitbert] {ckpt_path}: built from the model_cfg it was trained with; "
                      f"{cfgs_path} differs in {', '.join(differing)}.", file=sys.stderr)
            config, cfg = trained, {**cfg, "model_cfg": dict(stored)}
    net = GaitBERTNet(config)
    if data is not None:
        load_weights(net, network_state_dict(data, ckpt_path), ckpt_path, cfgs_path)
    return net.to(device).eval(), cfg


#: What to do about a checkpoint the tools cannot use (the loader's default fix is a training resume).
CHECKPOINT_FIX = ("Pass a checkpoint saved by OpenGait's trainer: output/<dataset>/<model>/<save_name>/checkpoints/"
                  "<save_name>-<iter>.pt.")


def load_weights(net, state: Mapping, ckpt_path: PathLike, cfgs_path: PathLike) -> None:
    """``net.load_state_dict(state)``, or a :class:`CheckpointError` listing the missing and
    unexpected keys (as ``load_state_dict(strict=False)`` reports them), the shape mismatches,
    and the ``model_cfg`` values the checkpoint's weights reveal. ``net`` is unusable after an error.
    """
    from ..core.finetune import state_dict_misfits

    missing, unexpected, shapes = state_dict_misfits(net.state_dict(), state)
    if not (missing or unexpected or shapes):
        net.load_state_dict(state)
        return
    problems = [quote_keys(title, items) for title, items in (
        ("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)) if items]
    differing = [f"{key}: {found} (config: {getattr(net.config, key, None)})"
                 for key, found in infer_model_cfg(state).items()
                 if hasattr(net.config, key) and found != getattr(net.config, key)]
    hint = (" The checkpoint's weights say " + "; ".join(differing) + "." if differing else "")
    raise CheckpointError(
        f"checkpoint {ckpt_path} does not fit the model built from {cfgs_path} (model_cfg):\n  "
        + "\n  ".join(problems)
        + "\nThe checkpoint was trained with a different model_cfg (e.g. encoder, channels, embed_stride, "
          f"temporal, temporal_dim, temporal_layers, embed_dim, bin_num, part_columns or class_num).{hint} Pass "
          "--cfgs with the config it was trained with.")


def infer_model_cfg(state: Mapping) -> Dict[str, Any]:
    """The ``model_cfg`` values that a core state dict reveals by its keys and shapes.

    Returns a subset of ``encoder``, ``channels``, ``embed_stride``, ``temporal``, ``temporal_dim``,
    ``temporal_layers``, ``embed_dim`` and ``class_num`` (what cannot be read is left out).
    """
    import re

    found: Dict[str, Any] = {}
    stem = state.get("frame_embedding.conv.0.weight")
    if getattr(stem, "dim", lambda: 0)() == 4:
        kernel = int(stem.shape[-1])
        found["embed_stride"] = 1 if kernel == 3 else kernel // 2  # 3x3 at stride 1, else 2s x 2s
    levels = sorted((int(m.group(1)), v.shape[0]) for k, v in state.items()
                    if (m := re.fullmatch(r"encoder\.levels\.(\d+)\.0\.weight", k)) and v.dim() == 4)
    stages = sorted((int(m.group(1)), v.shape[0]) for k, v in state.items()
                    if (m := re.fullmatch(r"encoder\.stages\.(\d+)\.conv1\.weight", k)) and v.dim() == 4)
    if stages:  # encoder: resnet9
        found["encoder"] = "resnet9"
        levels = stages
    elif levels:
        found["encoder"] = "unet"
    if levels:
        found["channels"] = [c for _, c in levels]
    layer_keys = {m.group(1) for k in state
                  if (m := re.match(r"temporal\.(?:encoder\.)?layers\.(\d+)\.", k))}
    if "temporal.proj_in.weight" in state:
        found["temporal"] = "transformer"
        found["temporal_dim"] = int(state["temporal.proj_in.weight"].shape[0])
    elif layer_keys:
        found["temporal"] = "conv"
    elif levels:
        found["temporal"] = "none"
    if layer_keys:
        found["temporal_layers"] = len(layer_keys)
    if getattr(state.get("head.fc"), "dim", lambda: 0)() == 3:
        found["embed_dim"] = int(state["head.fc"].shape[2])
    if getattr(state.get("head.classifier"), "dim", lambda: 0)() == 3:
        found["class_num"] = int(state["head.classifier"].shape[2])
    return found


# --------------------------------------------------------------------------
# Sequences
# --------------------------------------------------------------------------

def read_aligned(path: PathLike) -> np.ndarray:
    """Read a sequence and align it like OpenGait's pretreatment.

    Args:
        path: a folder of PNG/JPG frames, an animated GIF, or an OpenGait ``.pkl``.
    Returns:
        uint8 ``[T, 64, 64]``. A ``.pkl`` of 64x64 frames is OpenGait's own
        pretreated output and is used as it is; everything else is aligned.
    Raises:
        SequenceReadError: unreadable input.
        DataError: no frame holds a silhouette.
    """
    from ..data.alignment import align_sequence
    from ..data.readers import read_sequence

    path = Path(path)
    frames = read_sequence(path)  # [T, H, W] uint8
    pretreated = path.suffix.lower() == ".pkl" and frames.shape[1:] == (PKL_SIZE, PKL_SIZE)
    aligned = frames if pretreated else align_sequence(frames, PKL_SIZE)
    if len(aligned) == 0:
        raise DataError(f"{path}: none of its {len(frames)} frames holds a silhouette (all empty "
                        "after thresholding at 127). Check that the body is white on black.")
    return aligned


def preprocess(frames: Union[np.ndarray, PathLike], divsor: float = 255.0,
               cutting: Optional[int] = None, aligned: bool = False):
    """Silhouettes -> the network's input, as OpenGait's test pipeline makes it.

    Args:
        frames: uint8 ``[T, H, W]`` raw silhouettes, or a path (see :func:`read_aligned`).
        divsor, cutting: ``BaseSilCuttingTransform``'s options (OpenGait's spelling);
            ``cutting=None`` cuts ``int(W // 64) * 10`` columns from each side.
        aligned: ``frames`` are already OpenGait-aligned 64x64 (skip the alignment).
    Returns:
        float32 tensor ``[T', 64, 44]`` in [0, 1] (empty frames dropped).
    Raises:
        DataError: no frame holds a silhouette.
    """
    import torch

    if isinstance(frames, (str, Path)):
        seq = read_aligned(frames)
    else:
        seq = np.asarray(frames)
        if seq.ndim != 3:
            raise DataError(f"preprocess expects silhouettes [T, H, W]; got shape {seq.shape}.")
        if not aligned:
            from ..data.alignment import align_sequence
            seq = align_sequence(seq, PKL_SIZE)
        if len(seq) == 0:
            raise DataError("preprocess: no frame holds a silhouette (all empty after "
                            "thresholding at 127).")
    return torch.from_numpy(cut_and_scale(seq, divsor, cutting))


def describe_model(net) -> str:
    """One line: the network's size, for logs."""
    params = sum(p.numel() for p in net.parameters())
    c = net.config
    return (f"GaitBERT encoder={c.encoder} channels={c.channels} temporal={c.temporal} embed_dim={c.embed_dim} "
            f"parts={c.parts} ({params / 1e6:.2f}M parameters)")


def add_model_arguments(parser) -> None:
    """``--cfgs`` / ``--ckpt`` / ``--device``, shared by every tool."""
    parser.add_argument("--cfgs", required=True, help="OpenGait YAML config the model was trained with")
    parser.add_argument("--ckpt", help="OpenGait checkpoint .pt (output/.../checkpoints/<name>-<iter>.pt); "
                                       "omitted: a randomly initialised model")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")


__all__: List[str] = ["CheckpointError", "add_model_arguments", "cutting_options", "describe_model",
                      "infer_model_cfg", "load_model", "load_weights", "masking_policy",
                      "preprocess", "read_aligned",
                      "read_config"]
