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

from .errors import ConfigError, close_match_hint, config_error, config_location, reject_unknown_keys
from .losses import check_reconstruction_options
from .masking import MaskingPolicy
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
LOSS_KEYS = ("type", "log_prefix", "loss_term_weight", "reconstruction_weight", "triplet_weight",
             "margin", "reconstruction", "positions", "feature_weight")


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
    reject_unknown_keys(where, entry, MaskingPolicy.field_names() + list(SAMPLER_EXTRA_KEYS))
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
    #: the loss predicts the clean clip's embeddings from the masked one's (``feature_weight`` > 0)
    predict_features: bool = False


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
    elif training:
        raise ConfigError(
            f"{source}: trainer_cfg.transform has no `{SAMPLER_NAME}`. GaitBERT learns from hidden "
            f"frames, so the training transform must be e.g. `- type: {SAMPLER_NAME}` with "
            "`mode: frame` and `ratio: 0.3` (alone it also cuts and scales like BaseSilCuttingTransform; "
            "inside a Compose, e.g. after BaseSilCuttingTransform/RandomRotate/RandomErasing, put it last).")
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
        if sample_type.startswith("unfixed_"):
            sampler = trainer.get("sampler") or {}
            lo, hi = sampler.get("frames_num_min"), sampler.get("frames_num_max")
            if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
                raise ConfigError(
                    f"{source}: trainer_cfg.sampler with sample_type {sample_type!r} needs integers "
                    f"`frames_num_min` <= `frames_num_max` (got {lo!r}, {hi!r}); e.g. 10 and 40, the "
                    "range of clip lengths OpenGait's CollateFn draws from.")

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
    if training and ours:
        check_masked_objectives(network, ours, source)
    if training and network.class_num == 0:
        check_pretraining(trainer, ours, prefixes, source)
    heads_unused = SOFTMAX_PREFIX not in prefixes or ours.get("triplet_weight", 1.0) == 0
    if training and network.class_num and heads_unused and not trainer.get("find_unused_parameters", False):
        raise ConfigError(
            f"{source}: without the `{SOFTMAX_PREFIX}` loss or with triplet_weight 0, part of the "
            "embedding head gets no gradient and DDP stops on unused parameters; set "
            "trainer_cfg.find_unused_parameters: true.")
    # feature_weight is validated in training only, where it is read
    return GaitBERTConfig(network, masking, [p for p in prefixes if p],
                          predict_features=training and ours.get("feature_weight", 0.0) > 0)


def check_masked_objectives(network: NetworkConfig, ours: Mapping, source: str) -> None:
    """The loss's masked-clip terms need a masked pass, and feature prediction needs a clean view.

    Raises:
        ConfigError: naming ``source``, the key and the fix, where a weight would be ignored.
    """
    where = f"{source}: loss_cfg ({LOSS_NAME})"
    feature = ours.get("feature_weight", 0.0)
    if isinstance(feature, bool) or not isinstance(feature, (int, float)) or feature < 0:
        raise config_error(where, "feature_weight", feature, "a number >= 0 (0 = off)")
    if network.reconstruct_fraction == 0:  # a weight set > 0 would be ignored; left out, it applies to nothing
        for key in ("reconstruction_weight", "feature_weight"):
            if ours.get(key, 0) != 0:
                raise ConfigError(
                    f"{where}: `{key}` = {ours[key]!r}, but model_cfg.reconstruct_fraction is 0: "
                    "no clip is masked, so the term would be silently ignored. Set "
                    f"`{key}: 0` (the ablation without the masked objective), or reconstruct_fraction > 0.")
    if feature > 0 and network.identity_view != "clean":
        raise ConfigError(f"{where}: `feature_weight` > 0 predicts the clean clip's embeddings from the "
                          f"masked clip's, which needs model_cfg.identity_view: clean "
                          f"(it is {network.identity_view!r}).")


def check_pretraining(trainer: Mapping, ours: Mapping, prefixes: List[str], source: str) -> None:
    """With ``model_cfg.class_num: 0`` (pretraining on unlabelled silhouettes) nothing may ask for labels.

    Raises:
        ConfigError: naming ``source``, the key that needs identities and the fix.
    """
    why = (f"{source}: model_cfg.class_num is 0 (reconstruction-only pretraining, no identity labels), "
           "but")
    if SOFTMAX_PREFIX in prefixes:
        raise ConfigError(f"{why} loss_cfg has the `{SOFTMAX_PREFIX}` CrossEntropyLoss, which classifies "
                          "identities. Remove that entry, or set class_num to the number of training ids.")
    if ours.get("triplet_weight", 1.0) != 0:
        raise ConfigError(f"{why} loss_cfg ({LOSS_NAME}) has triplet_weight = {ours.get('triplet_weight', 1.0)!r}, "
                          "and a triplet needs identities. Set `triplet_weight: 0`.")
    sampler = (trainer.get("sampler") or {}).get("type")
    if sampler in ID_SAMPLERS:
        raise ConfigError(f"{why} trainer_cfg.sampler.type = {sampler!r} draws P identities x K sequences. Use "
                          f"`type: {UNLABELLED_SAMPLER}` with `batch_size: <sequences>` (an int), which draws "
                          "sequences without looking at identities.")
