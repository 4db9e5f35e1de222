"""Validation of every config key GaitBERT reads, before any data is touched.

OpenGait passes only the keys a class's ``__init__`` names and drops the rest
with an INFO log line, so a typo such as ``ratoi: 0.5`` would silently train
with the default. GaitBERT checks its own sections here instead and raises one
:class:`ConfigError` naming the file, the key, the value and the allowed ones.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterator, List, Mapping, Optional

from .errors import ConfigError, close_match_hint, reject_unknown_keys
from .losses import check_reconstruction_options
from .masking import MaskingPolicy
from .model import NetworkConfig

SAMPLER_NAME = "MaskedFrameSampler"
LOSS_NAME = "GaitBERTLoss"
LOSS_PREFIX = "gaitbert"  # training_feat key of the reconstruction + triplet term
SOFTMAX_PREFIX = "softmax"  # OpenGait's CrossEntropyLoss, optional
SAMPLER_EXTRA_KEYS = ("type", "divsor", "cutting")
LOSS_KEYS = ("type", "log_prefix", "loss_term_weight", "reconstruction_weight", "triplet_weight",
             "margin", "reconstruction", "positions")


def config_source(default: str = "the config") -> str:
    """The YAML file being run: OpenGait's ``--cfgs`` argument when present."""
    argv = sys.argv
    for i, arg in enumerate(argv):
        if arg == "--cfgs" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--cfgs="):
            return arg.split("=", 1)[1]
    return default


def iter_transforms(trf_cfg) -> Iterator[Mapping]:
    """Every transform dict in a ``transform`` section, inside ``Compose`` too."""
    if isinstance(trf_cfg, Mapping):
        yield trf_cfg
        yield from iter_transforms(trf_cfg.get("trf_cfg"))
    elif isinstance(trf_cfg, (list, tuple)):
        for item in trf_cfg:
            yield from iter_transforms(item)


def masking_policy_from_cfg(entry: Mapping, where: str) -> MaskingPolicy:
    """Validate one ``MaskedFrameSampler`` transform entry."""
    reject_unknown_keys(where, entry, MaskingPolicy.field_names() + list(SAMPLER_EXTRA_KEYS))
    return MaskingPolicy(**{k: v for k, v in entry.items() if k not in SAMPLER_EXTRA_KEYS})


@dataclass
class GaitBERTConfig:
    """The parsed, validated GaitBERT parts of an OpenGait config."""

    network: NetworkConfig
    masking: Optional[MaskingPolicy]
    loss_prefixes: List[str]


def validate_cfgs(cfgs: Mapping, training: bool, source: Optional[str] = None) -> GaitBERTConfig:
    """Check ``model_cfg``, the masked-frame sampler and the loss entries.

    Args:
        cfgs: OpenGait's merged config dict.
        training: whether the train phase runs (the sampler and losses are needed then).
        source: the YAML file name for messages (default: ``--cfgs`` from argv).
    Raises:
        ConfigError: naming ``source``, the section and the key.
    """
    source = source or config_source()
    network = NetworkConfig.from_dict(cfgs.get("model_cfg") or {}, where=f"{source}: model_cfg")
    trainer = cfgs.get("trainer_cfg") or {}

    samplers = [t for t in iter_transforms(trainer.get("transform")) if t.get("type") == SAMPLER_NAME]
    masking = None
    if samplers:
        masking = masking_policy_from_cfg(samplers[0], f"{source}: trainer_cfg.transform ({SAMPLER_NAME})")
    elif training:
        raise ConfigError(
            f"{source}: trainer_cfg.transform has no `{SAMPLER_NAME}`. GaitBERT learns from hidden "
            f"frames, so the training transform must be e.g. `- type: {SAMPLER_NAME}` with "
            "`mode: frame` and `ratio: 0.3` (it also cuts and scales like BaseSilCuttingTransform).")
    if training:
        sample_type = (trainer.get("sampler") or {}).get("sample_type", "")
        if sample_type.endswith("_unordered"):
            raise ConfigError(
                f"{source}: trainer_cfg.sampler.sample_type = {sample_type!r} shuffles frames, but "
                "GaitBERT infers hidden frames from their neighbours in time; use `fixed_ordered` "
                "(with `frames_skip_num: 0`) or `unfixed_ordered`.")
        if sample_type.split("_")[0] in ("fixed", "unfixed") and sample_type.endswith("_ordered") \
                and "frames_skip_num" not in (trainer.get("sampler") or {}):
            raise ConfigError(
                f"{source}: trainer_cfg.sampler needs `frames_skip_num` (e.g. 0) with sample_type "
                f"{sample_type!r}; OpenGait's CollateFn reads it for ordered clips.")

    loss_cfg = cfgs.get("loss_cfg") or []
    loss_cfg = [loss_cfg] if isinstance(loss_cfg, Mapping) else list(loss_cfg)
    prefixes = [entry.get("log_prefix") for entry in loss_cfg]
    for entry in loss_cfg:
        where = f"{source}: loss_cfg (log_prefix {entry.get('log_prefix')!r})"
        if entry.get("type") == LOSS_NAME:
            reject_unknown_keys(where, entry, LOSS_KEYS)
            if entry.get("log_prefix") != LOSS_PREFIX:
                raise ConfigError(f"{where}: `log_prefix` must be `{LOSS_PREFIX}` for {LOSS_NAME}; "
                                  "the model reports its reconstruction and embeddings under that name.")
            check_reconstruction_options(entry.get("reconstruction", "mse"), entry.get("positions", "hidden"), where)
        elif entry.get("log_prefix") not in (LOSS_PREFIX, SOFTMAX_PREFIX):
            allowed = (LOSS_PREFIX, SOFTMAX_PREFIX)
            raise ConfigError(
                f"{where}: GaitBERT feeds only the losses `{LOSS_PREFIX}` ({LOSS_NAME}) and "
                f"`{SOFTMAX_PREFIX}` (CrossEntropyLoss).{close_match_hint(entry.get('log_prefix'), allowed)}")
    if training and LOSS_PREFIX not in prefixes:
        raise ConfigError(f"{source}: loss_cfg needs an entry `type: {LOSS_NAME}` with "
                          f"`log_prefix: {LOSS_PREFIX}`.")
    ours = next((e for e in loss_cfg if e.get("log_prefix") == LOSS_PREFIX), {})
    heads_unused = SOFTMAX_PREFIX not in prefixes or ours.get("triplet_weight", 1.0) == 0
    if training and heads_unused and not trainer.get("find_unused_parameters", False):
        raise ConfigError(
            f"{source}: without the `{SOFTMAX_PREFIX}` loss or with triplet_weight 0, part of the "
            "embedding head gets no gradient and DDP stops on unused parameters; set "
            "trainer_cfg.find_unused_parameters: true.")
    return GaitBERTConfig(network, masking, [p for p in prefixes if p])
