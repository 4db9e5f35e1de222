"""``GaitBERTLoss``: masked reconstruction in pretraining steps, OpenGait's own triplet loss in fine-tuning steps.

Registered into ``modeling.losses``; ``loss_cfg`` entry (``log_prefix: gaitbert``), its keys
and defaults those of :class:`~opengait_gaitbert.core.losses.LossConfig`:

    - type: GaitBERTLoss
      log_prefix: gaitbert
      reconstruction_weight: 1.0   # the regression on hidden positions (pretraining steps)
      triplet_weight: 1.0          # OpenGait's TripletLoss (fine-tuning steps)
      margin: 0.2

Cross-entropy stays OpenGait's ``CrossEntropyLoss`` under ``log_prefix: softmax``. The model
hands this loss what the step's phase produced: a reconstruction, or embeddings.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from modeling.losses.base import BaseLoss  # OpenGait
from modeling.losses.triplet import TripletLoss  # OpenGait: batch-all, all-gathered across ranks

from ..core.losses import LossConfig, masked_latent_loss, masked_reconstruction_loss, psnr_from_mse


class GaitBERTLoss(BaseLoss):
    """Reconstruction on hidden positions, or triplet on the embeddings, each weighted.

    OpenGait passes only the keys ``__init__`` names (``get_valid_args``), so each
    :class:`LossConfig` field is named here; ``None`` takes its default (a test keeps the
    two in step).
    """

    def __init__(self, reconstruction_weight=None, triplet_weight=None, margin=None, loss_term_weight=None):
        given = {k: v for k, v in dict(reconstruction_weight=reconstruction_weight, triplet_weight=triplet_weight,
                                       margin=margin, loss_term_weight=loss_term_weight).items() if v is not None}
        self.config = LossConfig.from_dict(given, "loss_cfg (GaitBERTLoss)")
        super().__init__(self.config.loss_term_weight)
        self.triplet = TripletLoss(margin=self.config.margin)

    def forward(self, embeddings=None, labels=None, reconstruction=None, target=None, mask=None,
                latent_prediction=None, latent_target=None, latent_mask=None):
        """
        Args:
            embeddings: ``[n, c, p]``; labels: ``[n]`` (fine-tuning steps).
            reconstruction: logits ``[n, s, h, w]``; target, mask: ``[n, s, h, w]`` (pretraining steps).
            latent_prediction, latent_target: ``[F, c, h', w']``; latent_mask: ``[F, 1, h', w']``
                (pretraining steps with ``pretrain_target: latent``).
        Returns:
            (scalar loss, info) where info holds the step's term, the triplet's ``loss_num``
            or the PSNR of the hidden positions.
        """
        self.info.clear()  # a phase's terms must not linger in the other phase's log
        if latent_prediction is not None:
            latent = masked_latent_loss(latent_prediction, latent_target, latent_mask)
            logged = global_mean(latent.detach())
            self.info.update({"latent": logged, "hidden_ratio": global_mean(latent_mask.float().mean().detach()),
                              "loss": self.config.reconstruction_weight * logged})
            return self.config.reconstruction_weight * latent, self.info
        if reconstruction is not None:
            recon = masked_reconstruction_loss(reconstruction, target, mask)
            # Logged values describe the global batch: the local reconstruction is averaged
            # over ranks (OpenGait logs rank 0 only).
            logged = global_mean(recon.detach())
            self.info.update({"reconstruction": logged, "hidden_psnr": psnr_from_mse(logged),
                              "hidden_ratio": global_mean(mask.float().mean().detach())})
            self.info["loss"] = self.config.reconstruction_weight * logged
            return self.config.reconstruction_weight * recon, self.info
        # OpenGait's wrapper returns the all-gathered loss times the world size, so that
        # DDP's gradient averaging yields the full-batch gradient; its info is unscaled.
        triplet, triplet_info = self.triplet(embeddings=embeddings, labels=labels)  # [p]
        self.info.update({"triplet": triplet_info["loss"].mean(),
                          "loss_num": triplet_info["loss_num"].detach().clone(),
                          "mean_dist": triplet_info["mean_dist"].detach().clone()})
        self.info["loss"] = self.config.triplet_weight * triplet_info["loss"].mean()
        return self.config.triplet_weight * triplet.mean(), self.info


def global_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a detached scalar over all ranks (itself when not distributed)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= dist.get_world_size()
    return value
