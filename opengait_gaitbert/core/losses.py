"""Reconstruction loss math, pure torch. The triplet and cross-entropy terms are
OpenGait's own (see ``adapters.loss``); this module holds what OpenGait lacks.

Mask convention: 1 = hidden / predicted, 0 = visible. Targets are clean.
"""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

from .errors import close_match_hint, config_error

RECONSTRUCTION_KINDS = ("mse", "l1", "bce")
POSITION_CHOICES = ("hidden", "seen", "all")


def check_reconstruction_options(kind: str, positions: str, where: str) -> None:
    if kind not in RECONSTRUCTION_KINDS:
        raise config_error(where, "reconstruction", kind, ", ".join(RECONSTRUCTION_KINDS),
                           close_match_hint(kind, RECONSTRUCTION_KINDS))
    if positions not in POSITION_CHOICES:
        raise config_error(where, "positions", positions, ", ".join(POSITION_CHOICES),
                           close_match_hint(positions, POSITION_CHOICES))


def masked_reconstruction_loss(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                               kind: str = "mse", positions: str = "hidden") -> torch.Tensor:
    """Per-pixel regression averaged over the hidden positions (MAE's ``forward_loss``).

    Args:
        logits: reconstruction logits ``[n, s, h, w]`` (a sigmoid maps them to [0, 1]).
        target: clean silhouettes ``[n, s, h, w]`` in [0, 1].
        mask: ``[n, s, h, w]``, 1 where the content was hidden.
        kind: ``mse`` | ``l1`` on the sigmoid output, or ``bce`` on the logits.
        positions: ``hidden`` (default); ``seen``: hidden pixels that at least one frame of the
            same clip shows, so a static occluder over the whole clip (a place no frame shows)
            trains the identity losses without asking the decoder to invent what it hides;
            or ``all`` pixels, including visible ones.
    Returns:
        scalar loss, fp32 (OpenGait calls losses outside autocast with fp16 inputs).
    """
    logits, target, mask = logits.float(), target.float(), mask.float()
    if kind == "bce":
        per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    elif kind == "l1":
        per_pixel = (torch.sigmoid(logits) - target).abs()
    else:
        per_pixel = (torch.sigmoid(logits) - target) ** 2
    weight = torch.ones_like(mask) if positions == "all" else mask
    if positions == "seen":  # [n, 1, h, w]: places visible in some frame of the clip
        weight = weight * (mask < 1).any(dim=1, keepdim=True).to(weight.dtype)
    return (per_pixel * weight).sum() / weight.sum().clamp_min(1.0)


def feature_prediction_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Masked-to-clean embedding prediction: ``1 - cos`` per part, averaged (data2vec's idea,
    with the clean pass of the same network as a stop-gradient teacher).

    Args:
        predicted: embeddings of the masked clips ``[b, e, p]``.
        target: embeddings of the same clips unmasked ``[b, e, p]``; no gradient flows into
            them, so only the masked view moves: the identity losses anchor the clean one
            (a term that moved both views let them drift together and collapse).
    Returns:
        scalar in [0, 2], fp32. Cosine, not a distance: it ignores the embeddings' scale,
        which a distance between raw embeddings blew up within a few SGD steps.
    """
    cos = F.cosine_similarity(predicted.float(), target.detach().float(), dim=1)  # [b, p]
    return (1.0 - cos).mean()


def psnr_from_mse(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB for signals with peak 1.0."""
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


def hidden_psnr(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of the reconstruction on hidden positions."""
    with torch.no_grad():
        return psnr_from_mse(masked_reconstruction_loss(logits, target, mask, "mse"))


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
