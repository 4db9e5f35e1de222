"""``GaitBERTLoss``: masked reconstruction plus OpenGait's own triplet loss.

Registered into ``modeling.losses``; ``loss_cfg`` entry (``log_prefix: gaitbert``):

    - type: GaitBERTLoss
      log_prefix: gaitbert
      reconstruction_weight: 1.0   # weight of the hidden-position regression
      triplet_weight: 1.0          # 0 turns the triplet term off (self-supervised pretraining)
      margin: 0.2                  # OpenGait TripletLoss margin
      reconstruction: mse          # mse | l1 | bce
      positions: hidden            # hidden | seen (hidden but shown by some frame) | all
      feature_weight: 0.0          # masked clip's embeddings -> the clean clip's (stop-gradient)

Cross-entropy stays OpenGait's ``CrossEntropyLoss`` under ``log_prefix: softmax``.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from modeling.losses.base import BaseLoss  # OpenGait
from modeling.losses.triplet import TripletLoss  # OpenGait: batch-all, all-gathered across ranks

from ..core.losses import (check_reconstruction_options, feature_prediction_loss, masked_reconstruction_loss,
                           psnr_from_mse)


class GaitBERTLoss(BaseLoss):
    """Reconstruction on hidden positions + triplet on the embeddings, each weighted."""

    def __init__(self, reconstruction_weight=1.0, triplet_weight=1.0, margin=0.2,
                 reconstruction="mse", positions="hidden", loss_term_weight=1.0, feature_weight=0.0):
        super().__init__(loss_term_weight)
        check_reconstruction_options(reconstruction, positions, "loss_cfg (GaitBERTLoss)")
        self.reconstruction_weight = float(reconstruction_weight)
        self.triplet_weight = float(triplet_weight)
        self.feature_weight = float(feature_weight)
        self.kind, self.positions = reconstruction, positions
        self.triplet = TripletLoss(margin=margin)

    def forward(self, embeddings, labels, reconstruction=None, target=None, mask=None,
                masked_embeddings=None, clean_embeddings=None):
        """
        Args:
            embeddings: ``[n, c, p]``; labels: ``[n]``.
            reconstruction: logits ``[n', s, h, w]``; target, mask: ``[n', s, h, w]``; all None
                when the model has no masked pass (``reconstruct_fraction: 0``).
            masked_embeddings, clean_embeddings: ``[n', c, p]``, given with ``feature_weight`` > 0.
        Returns:
            (scalar loss, info) where info holds each term, the triplet's ``loss_num``
            and the PSNR of the hidden positions.
        """
        loss = embeddings.new_zeros((), dtype=torch.float32)
        logged = loss.detach()
        if reconstruction is not None:
            recon = masked_reconstruction_loss(reconstruction, target, mask, self.kind, self.positions)
            loss = loss + self.reconstruction_weight * recon
            # Logged values describe the global batch: the local reconstruction terms are
            # averaged over ranks (OpenGait logs rank 0 only), the triplet term is all-gathered.
            logged_recon = global_mean(recon.detach())
            recon_mse = logged_recon if (self.kind, self.positions) == ("mse", "hidden") else global_mean(
                masked_reconstruction_loss(reconstruction, target, mask, "mse").detach())
            logged = logged + self.reconstruction_weight * logged_recon
            self.info.update({"reconstruction": logged_recon,
                              "hidden_psnr": psnr_from_mse(recon_mse),
                              "hidden_ratio": global_mean(mask.float().mean().detach())})
        if self.feature_weight > 0 and masked_embeddings is not None:
            feature = feature_prediction_loss(masked_embeddings, clean_embeddings)
            loss = loss + self.feature_weight * feature
            logged_feature = global_mean(feature.detach())
            logged = logged + self.feature_weight * logged_feature
            self.info["feature"] = logged_feature
        if self.triplet_weight > 0:
            # OpenGait's wrapper returns the all-gathered loss times the world size, so that
            # DDP's gradient averaging yields the full-batch gradient; its info is unscaled.
            triplet, triplet_info = self.triplet(embeddings=embeddings, labels=labels)  # [p]
            loss = loss + self.triplet_weight * triplet.mean()
            logged = logged + self.triplet_weight * triplet_info["loss"].mean()
            self.info.update({"triplet": triplet_info["loss"].mean(),
                              "loss_num": triplet_info["loss_num"].detach().clone(),
                              "mean_dist": triplet_info["mean_dist"].detach().clone()})
        self.info["loss"] = logged
        return loss, self.info


def global_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a detached scalar over all ranks (itself when not distributed)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= dist.get_world_size()
    return value
