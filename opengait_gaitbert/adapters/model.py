"""``GaitBERT(BaseModel)``: the thin adapter between OpenGait's trainer and the core network."""
from __future__ import annotations

import torch
from einops import rearrange
from modeling.base_model import BaseModel  # OpenGait

from ..core.config import LOSS_PREFIX, SOFTMAX_PREFIX, validate_cfgs
from ..core.model import GaitBERTNet
from ..core.render import reconstruction_grid
from .transform import INPUT, MASK, TARGET

SUMMARY_FRAMES = 8  # frames of the first clip shown in TensorBoard


class GaitBERT(BaseModel):
    """GaitBERT for OpenGait: masked-frame reconstruction + identity embedding.

    Training input is the masked-frame sampler's ``[n, s, 3, h, w]`` (input, target,
    mask; see ``adapters/transform.py``); test input is plain ``[n, s, h, w]``.
    """

    def build_network(self, model_cfg):
        training = "trainer_cfg" in self.cfgs and self.engine_cfg is self.cfgs["trainer_cfg"]
        self.gaitbert_cfg = validate_cfgs(self.cfgs, training)
        self.net = GaitBERTNet(self.gaitbert_cfg.network)

    def forward(self, inputs):
        ipts, labs, _, _, seqL = inputs
        sils = ipts[0]  # train: [n, s, 3, h, w]; test: [n, s, h, w]
        masked = sils[:, :, INPUT] if sils.dim() == 5 else sils  # [n, s, h, w]
        reconstruct = self.training and sils.dim() == 5
        out = self.net(masked, seqL, reconstruct=reconstruct)
        embed, logits = out["embeddings"], out["logits"]  # [n, c, p], [n, classes, p]

        training_feat, visual_summary = {}, {}
        if reconstruct:
            target, mask = sils[:, :, TARGET], sils[:, :, MASK]  # [n, s, h, w]
            training_feat[LOSS_PREFIX] = {"embeddings": embed, "labels": labs,
                                          "reconstruction": out["reconstruction"],
                                          "target": target, "mask": mask}
            visual_summary = self.summary_images(masked, out["reconstruction"], target, mask)
        if SOFTMAX_PREFIX in self.gaitbert_cfg.loss_prefixes:
            training_feat[SOFTMAX_PREFIX] = {"logits": logits, "labels": labs}
        return {
            "training_feat": training_feat,
            "visual_summary": visual_summary,
            "inference_feat": {"embeddings": embed},
        }

    @staticmethod
    def summary_images(masked, recon_logits, target, mask):
        """TensorBoard picture of the first clip, drawn by the CLI's renderer."""
        k = min(SUMMARY_FRAMES, masked.shape[1])
        with torch.no_grad():
            grid = reconstruction_grid(masked[0, :k], torch.sigmoid(recon_logits[0, :k].float()),
                                       target[0, :k], mask[0, :k])  # [H, W, 3] uint8
        return {"image/reconstruction": rearrange(torch.from_numpy(grid), "h w c -> 1 c h w").float() / 255}
