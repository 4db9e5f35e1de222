"""Guess a checkpoint's ``model_cfg`` from its weights: the values a core state dict reveals by its
keys and shapes (:func:`infer_model_cfg`), which the loader quotes when a checkpoint does not fit.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping


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
