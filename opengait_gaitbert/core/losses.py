"""Reconstruction loss math, pure torch. The triplet and cross-entropy terms are
OpenGait's own (see ``adapters.loss``); this module holds what OpenGait lacks.

Mask convention: 1 = hidden / predicted, 0 = visible. Targets are clean.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import List, Mapping, Tuple

import torch

from .errors import config_error, config_location, location, reject_unknown_keys

#: ``GaitBERTLoss`` keys that no longer exist, and why
RETIRED_LOSS_KEYS = {
    "feature_weight": "was removed on 2026-12-07: it predicted the clean clip's embeddings from a masked pass "
                      "in the same step, which no longer runs (the masked objective is a pretraining phase, "
                      "model_cfg.pretrain_fraction). Delete the key.",
    "reconstruction": "was removed on 2026-12-07: the reconstruction is always the mean squared error of the "
                      "sigmoid output (l1 and bce were never shipped). Delete the key.",
    "positions": "was removed on 2026-12-07: the loss always covers the hidden positions, as MAE's (seen and "
                 "all were never shipped). Delete the key.",
}
#: OpenGait's own keys of a ``loss_cfg`` entry, read by its LossAggregator
OPENGAIT_LOSS_KEYS = ("type", "log_prefix")


@dataclass
class LossConfig:
    """``GaitBERTLoss``'s ``loss_cfg`` keys and their defaults, the one place they are written.

    Attributes:
        reconstruction_weight: weight of the pretraining steps' loss: the regression on hidden
            pixels, or on the teacher's features at hidden cells (``pretrain_target: latent``).
        triplet_weight: weight of OpenGait's TripletLoss on the embeddings (fine-tuning steps).
        margin: the triplet margin.
        loss_term_weight: OpenGait's weight of the whole term.
    """

    reconstruction_weight: float = 1.0
    triplet_weight: float = 1.0
    margin: float = 0.2
    loss_term_weight: float = 1.0

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, entry: Mapping, where: str) -> "LossConfig":
        """From a ``loss_cfg`` entry (OpenGait's ``type`` and ``log_prefix`` skipped).

        Raises:
            ConfigError: a retired or unknown key, or a bad value, naming ``where`` and the key.
        """
        reject_unknown_keys(where, entry, cls.field_names() + list(OPENGAIT_LOSS_KEYS), retired=RETIRED_LOSS_KEYS)
        with config_location(where):
            return cls(**{k: v for k, v in entry.items() if k not in OPENGAIT_LOSS_KEYS})

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise config_error(location("loss_cfg (GaitBERTLoss)"), f.name, value, "a number >= 0")
            setattr(self, f.name, float(value))


def masked_reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the sigmoid output over the hidden positions (MAE's ``forward_loss``).

    Args:
        logits: reconstruction logits ``[n, s, h, w]`` (a sigmoid maps them to [0, 1]).
        target: clean silhouettes ``[n, s, h, w]`` in [0, 1].
        mask: ``[n, s, h, w]``, 1 where the content was hidden.
    Returns:
        scalar loss, fp32 (OpenGait calls losses outside autocast with fp16 inputs); 0 when
        nothing is hidden.
    """
    logits, target, mask = logits.float(), target.float(), mask.float()
    per_pixel = (torch.sigmoid(logits) - target) ** 2
    return (per_pixel * mask).sum() / mask.sum().clamp_min(1.0)


def masked_latent_loss(prediction: torch.Tensor, target: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Mean squared error per channel between predicted and target bottleneck features, averaged over
    the hidden cells (the latent pretraining target, :mod:`.latent`).

    Args:
        prediction, target: ``[F, c, h', w']``; the target carries no gradient.
        hidden: ``[F, 1, h', w']``, 1 where the cell's input was (partly) hidden.
    Returns:
        scalar, fp32; 0 when nothing is hidden.
    """
    per_cell = (prediction.float() - target.detach().float()).pow(2).mean(dim=1, keepdim=True)
    hidden = hidden.float()
    return (per_cell * hidden).sum() / hidden.sum().clamp_min(1.0)


def psnr_from_mse(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB for signals with peak 1.0."""
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


def hidden_psnr(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of the reconstruction on hidden positions."""
    with torch.no_grad():
        return psnr_from_mse(masked_reconstruction_loss(logits, target, mask))


def nearest_visible_frame_baseline(target: torch.Tensor, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The trivial reconstruction: copy the nearest frame that was not hidden.

    Used to judge whether the model really infers hidden frames. Works on whole
    frames: a frame counts as hidden when any of its pixels is.

    Args:
        target, mask: ``[n, s, h, w]``.
    Returns:
        (copy ``[n, s, h, w]``, its MSE on hidden positions).
    """
    n, s = target.shape[:2]
    hidden = mask.flatten(2).amax(-1) > 0  # [n, s]
    time = torch.arange(s, device=target.device).float()
    # Distance from each frame to every visible frame; hidden frames are infinitely far.
    dist = (time[:, None] - time[None, :]).abs()[None].expand(n, s, s).clone()
    dist.masked_fill_(hidden[:, None, :], float("inf"))
    source = dist.argmin(-1)  # [n, s]
    copy = torch.gather(target, 1, source[:, :, None, None].expand_as(target))
    mse = ((copy - target) ** 2 * mask).sum() / mask.sum().clamp_min(1.0)
    return copy, mse
