"""Read what the tools need from the OpenGait YAML config a GaitBERT was trained with: the config
itself (:func:`read_config`), its masking policy and the cutting options of its transforms.

Nothing here imports OpenGait; the core's config helpers are imported inside the functions.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Union

from ..compat import read_yaml
from ..core.errors import ConfigError

PathLike = Union[str, Path]


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
        overrides: e.g. ``mode="band"``, ``ratio=0.5``.
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
