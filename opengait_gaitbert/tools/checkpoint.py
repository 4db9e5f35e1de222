"""Load a trained GaitBERT from OpenGait's YAML config and checkpoint, without OpenGait.

OpenGait's trainer saves ``{'model': state_dict, 'optimizer': ..., 'scheduler': ...,
'iteration': k}`` to ``output/<dataset>/GaitBERT/<save_name>/checkpoints/<save_name>-<k>.pt``.
The state dict belongs to the adapter ``GaitBERT(BaseModel)``, which holds the
core network as ``net``, so keys read ``net.encoder...`` (``module.net...`` when
saved from a DDP wrapper). :func:`load_model` strips both prefixes and loads the
rest into a :class:`~opengait_gaitbert.core.model.GaitBERTNet` built from the
config's ``model_cfg``.

Only the pure core is used: nothing here imports OpenGait. Torch is imported
inside the functions so that ``opengait-gaitbert --help`` stays fast.
"""
from __future__ import annotations

import sys
from dataclasses import fields
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..core.errors import CheckpointError, ConfigError, quote_keys
from .config_from_weights import infer_model_cfg
from .trained_config import PathLike, read_config

# Public here before the split (config reading, input preparation and the tools' options lived here).
from .model_arguments import add_model_arguments
from .network_input import PKL_SIZE, preprocess, read_aligned  # noqa: F401 - PKL_SIZE is outside __all__
from .trained_config import cutting_options, masking_policy


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


def describe_model(net) -> str:
    """One line: the network's size, for logs."""
    params = sum(p.numel() for p in net.parameters())
    c = net.config
    return (f"GaitBERT encoder={c.encoder} channels={c.channels} temporal={c.temporal} embed_dim={c.embed_dim} "
            f"parts={c.parts} ({params / 1e6:.2f}M parameters)")


__all__: List[str] = ["CheckpointError", "add_model_arguments", "cutting_options", "describe_model",
                      "infer_model_cfg", "load_model", "load_weights", "masking_policy",
                      "preprocess", "read_aligned",
                      "read_config"]
