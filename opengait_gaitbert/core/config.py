"""Validation of every config key GaitBERT reads, before any data is touched.

OpenGait passes only the keys a class's ``__init__`` names and drops the rest
with an INFO log line, so a typo such as ``ratoi: 0.5`` would silently train
with the default. GaitBERT checks its own sections here instead and raises one
:class:`ConfigError` naming the file, the key, the value and the allowed ones.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterator, List, Mapping, Optional, Tuple

from .errors import ConfigError, close_match_hint, config_location, reject_unknown_keys
from .losses import LossConfig
from .masking import RETIRED_SAMPLER_KEYS, MaskingPolicy
from .model import NetworkConfig

SAMPLER_NAME = "MaskedFrameSampler"
LOSS_NAME = "GaitBERTLoss"
LOSS_PREFIX = "gaitbert"  # training_feat key of the reconstruction + triplet term
SOFTMAX_PREFIX = "softmax"  # OpenGait's CrossEntropyLoss, optional
# Keys of the sampler's entry besides MaskingPolicy's fields: OpenGait's `type`, and the
# BaseSilCuttingTransform options it applies to raw integer frames (see adapters/transform.py).
SAMPLER_CUT_KEYS = ("divsor", "cutting")
SAMPLER_EXTRA_KEYS = ("type",) + SAMPLER_CUT_KEYS
COMPOSE = "Compose"
# OpenGait's samplers that group sequences by identity, and the one that does not (pretraining).
ID_SAMPLERS = ("TripletSampler", "BilateralSampler")
UNLABELLED_SAMPLER = "CommonSampler"
# Steps that cut and/or scale (their output is floating point): after one, the sampler must not cut again.
CUTTING_TRANSFORMS = ("BaseSilCuttingTransform", "BaseSilTransform", "BaseParsingCuttingTransform")


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


Step = Tuple[str, Mapping]  # (where in the config, e.g. ``trainer_cfg.transform[0].trf_cfg[2]``, the entry)


def _chain(trf_cfg, path: str) -> Iterator[Step]:
    """The steps one sequence goes through, in order: a ``Compose`` (nested ones too) unrolled."""
    if isinstance(trf_cfg, Mapping):
        steps = trf_cfg.get("trf_cfg")
        if trf_cfg.get("type") == COMPOSE and isinstance(steps, (list, tuple)):
            for i, step in enumerate(steps):
                yield from _chain(step, f"{path}.trf_cfg[{i}]")
        else:
            yield path, trf_cfg


def sampler_steps(trf_cfg, path: str = "trainer_cfg.transform") -> Iterator[Tuple[Step, List[Step], List[Step]]]:
    """Each ``MaskedFrameSampler`` with the steps that run before and after it on the same sequence.

    A top-level list holds one transform per input feature (OpenGait zips it with
    the features), so only the steps of the same item, i.e. of one ``Compose``
    chain, are its neighbours.
    """
    items = list(enumerate(trf_cfg)) if isinstance(trf_cfg, (list, tuple)) else [(None, trf_cfg)]
    for i, item in items:
        chain = list(_chain(item, path if i is None else f"{path}[{i}]"))
        for j, step in enumerate(chain):
            if step[1].get("type") == SAMPLER_NAME:
                yield step, chain[:j], chain[j + 1:]


def masking_policy_from_cfg(entry: Mapping, where: str) -> MaskingPolicy:
    """Validate one ``MaskedFrameSampler`` transform entry."""
    reject_unknown_keys(where, entry, MaskingPolicy.field_names() + list(SAMPLER_EXTRA_KEYS),
                        retired=RETIRED_SAMPLER_KEYS)
    with config_location(where):  # the policy's errors name the file and entry
        return MaskingPolicy(**{k: v for k, v in entry.items() if k not in SAMPLER_EXTRA_KEYS})


def check_sampler_placement(step: Step, before: List[Step], after: List[Step], source: str) -> None:
    """The sampler must end its chain, and must not cut again what an earlier step cut.

    Raises:
        ConfigError: naming ``source``, the sampler's place and the fix.
    """
    path, entry = step
    if after:
        next_path, next_entry = after[0]
        raise ConfigError(
            f"{source}: {path} ({SAMPLER_NAME}) must be the last step of its Compose, but "
            f"`{next_entry.get('type')}` ({next_path}) follows it and would receive the sampler's "
            f"[s, 3, h, w] output (input, target, mask). Move `{SAMPLER_NAME}` to the end of the trf_cfg list.")
    cutters = [(p, e) for p, e in before if e.get("type") in CUTTING_TRANSFORMS]
    for key in SAMPLER_CUT_KEYS:
        if cutters and entry.get(key) is not None:
            cut_path, cut_entry = cutters[0]
            raise ConfigError(
                f"{source}: {path} ({SAMPLER_NAME}): `{key}` = {entry[key]!r} is set, but "
                f"`{cut_entry.get('type')}` ({cut_path}) before it in the same Compose already cuts and "
                f"scales; the sampler takes those floating-point frames as they are. Remove `{key}` from "
                f"`{SAMPLER_NAME}` (set it on `{cut_entry.get('type')}` instead).")


@dataclass
class GaitBERTConfig:
    """The parsed, validated GaitBERT parts of an OpenGait config."""

    network: NetworkConfig
    masking: Optional[MaskingPolicy]
    loss_prefixes: List[str]
    loss: Optional[LossConfig] = None


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

    samplers = list(sampler_steps(trainer.get("transform")))
    masking = None
    if len(samplers) > 1:
        raise ConfigError(
            f"{source}: trainer_cfg.transform has {len(samplers)} `{SAMPLER_NAME}` entries "
            f"({', '.join(step[0] for step, _, _ in samplers)}); use one, as the last step of the chain.")
    if samplers:
        step, before, after = samplers[0]
        masking = masking_policy_from_cfg(step[1], f"{source}: trainer_cfg.transform ({SAMPLER_NAME})")
        check_sampler_placement(step, before, after, source)
    if training:
        check_sampler_use(network, bool(samplers), source)
        check_training_sampler(trainer, source)

    loss_cfg = cfgs.get("loss_cfg") or []
    loss_cfg = [loss_cfg] if isinstance(loss_cfg, Mapping) else list(loss_cfg)
    prefixes = [entry.get("log_prefix") for entry in loss_cfg]
    loss = None
    for entry in loss_cfg:
        where = f"{source}: loss_cfg (log_prefix {entry.get('log_prefix')!r})"
        if entry.get("type") == LOSS_NAME:
            if entry.get("log_prefix") != LOSS_PREFIX:
                raise ConfigError(f"{where}: `log_prefix` must be `{LOSS_PREFIX}` for {LOSS_NAME}; "
                                  "the model reports its reconstruction and embeddings under that name.")
            loss = LossConfig.from_dict(entry, where)
            if training and not network.pretrains and entry.get("reconstruction_weight", 0) != 0:
                raise ConfigError(
                    f"{where}: `reconstruction_weight` = {entry['reconstruction_weight']!r}, but "
                    "model_cfg.pretrain_fraction is 0: nothing is reconstructed, so the weight would be "
                    "silently ignored. Remove the key, or set pretrain_fraction > 0.")
        elif entry.get("log_prefix") not in (LOSS_PREFIX, SOFTMAX_PREFIX):
            allowed = (LOSS_PREFIX, SOFTMAX_PREFIX)
            raise ConfigError(
                f"{where}: GaitBERT feeds only the losses `{LOSS_PREFIX}` ({LOSS_NAME}) and "
                f"`{SOFTMAX_PREFIX}` (CrossEntropyLoss).{close_match_hint(entry.get('log_prefix'), allowed)}")
    if training and loss is None:
        raise ConfigError(f"{source}: loss_cfg needs an entry `type: {LOSS_NAME}` with "
                          f"`log_prefix: {LOSS_PREFIX}`.")
    if training and network.class_num == 0:
        check_pretraining(trainer, prefixes, source)
    if training and network.class_num:
        check_unused_parameters(network, loss, prefixes, trainer, source)
    return GaitBERTConfig(network, masking, [p for p in prefixes if p], loss)


def check_sampler_use(network: NetworkConfig, has_sampler: bool, source: str) -> None:
    """A masked-frame sampler exactly where something reads its masks: a pretraining phase.

    Raises:
        ConfigError: a pretraining phase without a sampler, or a sampler whose masks nothing
            reads (a dead transform in the hot path), naming ``source`` and the fix.
    """
    if network.pretrains and not has_sampler:
        why = ("model_cfg.class_num is 0 (pretraining)" if network.class_num == 0
               else f"model_cfg.pretrain_fraction is {network.pretrain_fraction} (a masked-frame pretraining phase)")
        raise ConfigError(
            f"{source}: {why}, but trainer_cfg.transform has no `{SAMPLER_NAME}` to hide frames. Use e.g. "
            f"`- type: {SAMPLER_NAME}` with `mode: frame` and `ratio: 0.5` (alone it also cuts and scales like "
            "BaseSilCuttingTransform; inside a Compose, after BaseSilCuttingTransform/RandomRotate/RandomErasing, "
            "put it last).")
    if has_sampler and not network.pretrains:
        raise ConfigError(
            f"{source}: trainer_cfg.transform has a `{SAMPLER_NAME}`, but model_cfg.pretrain_fraction is 0: no "
            "step reconstructs, so its masks would be computed and thrown away. Replace it with "
            "`- type: BaseSilCuttingTransform`, or set pretrain_fraction > 0 (e.g. 0.3).")


def check_training_sampler(trainer: Mapping, source: str) -> None:
    """Ordered clips with the keys OpenGait's CollateFn reads for them.

    Raises:
        ConfigError: naming ``source``, the sampler key and the fix.
    """
    sampler = trainer.get("sampler") or {}
    sample_type = sampler.get("sample_type", "")
    if sample_type.endswith("_unordered"):
        raise ConfigError(
            f"{source}: trainer_cfg.sampler.sample_type = {sample_type!r} shuffles frames, but "
            "GaitBERT infers hidden frames from their neighbours in time; use `fixed_ordered` "
            "(with `frames_skip_num: 0`) or `unfixed_ordered`.")
    if sample_type.split("_")[0] in ("fixed", "unfixed") and sample_type.endswith("_ordered") \
            and "frames_skip_num" not in sampler:
        raise ConfigError(
            f"{source}: trainer_cfg.sampler needs `frames_skip_num` (e.g. 0) with sample_type "
            f"{sample_type!r}; OpenGait's CollateFn reads it for ordered clips.")
    if sample_type.startswith("unfixed_"):
        lo, hi = sampler.get("frames_num_min"), sampler.get("frames_num_max")
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise ConfigError(
                f"{source}: trainer_cfg.sampler with sample_type {sample_type!r} needs integers "
                f"`frames_num_min` <= `frames_num_max` (got {lo!r}, {hi!r}); e.g. 10 and 40, the "
                "range of clip lengths OpenGait's CollateFn draws from.")


def check_unused_parameters(network: NetworkConfig, loss: LossConfig, prefixes: List[str], trainer: Mapping,
                            source: str) -> None:
    """DDP stops on parameters without a gradient unless ``find_unused_parameters`` is set.

    Raises:
        ConfigError: naming ``source``, why some parameters get no gradient, and the fix.
    """
    if trainer.get("find_unused_parameters", False):
        return
    if network.pretrain_fraction > 0:
        why = ("pretraining steps leave the identity head without a gradient and fine-tuning steps the "
               "decoder (model_cfg.pretrain_fraction > 0)")
    elif SOFTMAX_PREFIX not in prefixes or loss.triplet_weight == 0:
        why = f"without the `{SOFTMAX_PREFIX}` loss or with triplet_weight 0, part of the embedding head gets none"
    else:
        return
    raise ConfigError(f"{source}: {why}, and DDP stops on unused parameters; set "
                      "trainer_cfg.find_unused_parameters: true.")


def check_pretraining(trainer: Mapping, prefixes: List[str], source: str) -> None:
    """With ``model_cfg.class_num: 0`` (pretraining on unlabelled silhouettes) nothing may ask for labels.

    Raises:
        ConfigError: naming ``source``, the key that needs identities and the fix.
    """
    why = (f"{source}: model_cfg.class_num is 0 (reconstruction-only pretraining, no identity labels), "
           "but")
    if SOFTMAX_PREFIX in prefixes:
        raise ConfigError(f"{why} loss_cfg has the `{SOFTMAX_PREFIX}` CrossEntropyLoss, which classifies "
                          "identities. Remove that entry, or set class_num to the number of training ids.")
    sampler = (trainer.get("sampler") or {}).get("type")
    if sampler in ID_SAMPLERS:
        raise ConfigError(f"{why} trainer_cfg.sampler.type = {sampler!r} draws P identities x K sequences. Use "
                          f"`type: {UNLABELLED_SAMPLER}` with `batch_size: <sequences>` (an int), which draws "
                          "sequences without looking at identities.")
