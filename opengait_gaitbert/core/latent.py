"""The latent pretraining target (``model_cfg.pretrain_target: latent``): predict, at the hidden places,
what a slowly updated copy of the encoder makes of the unmasked clip (data2vec's and I-JEPA's idea).

The teacher is an exponential moving average (EMA) of the student's frame embedding, encoder and
temporal context; it sees the clean clip, the student the masked one. A small predictor maps the
student's bottleneck to the teacher's, layer-normalised over channels per cell (data2vec's target
normalisation), and the loss is the mean squared error over the bottleneck cells whose input the
sampler hid. Nothing is decoded back to pixels, so such a network has no decoder.
"""
from __future__ import annotations

import copy
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

#: the student's parts the teacher copies, input to output
TEACHER_PARTS = ("frame_embedding", "encoder", "temporal")


class LatentTarget(nn.Module):
    """The EMA teacher and the predictor of one :class:`~.model.GaitBERTNet`.

    Args:
        net: the student network (its parts are copied; it must be fully built).
        channels: bottleneck channels.
    """

    def __init__(self, net: nn.Module, channels: int):
        super().__init__()
        self.teacher = nn.ModuleDict({name: copy.deepcopy(getattr(net, name)) for name in TEACHER_PARTS})
        self.teacher.requires_grad_(False)  # moved by update(), never by the optimizer
        self.predictor = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1))

    def forward(self, net: nn.Module, masked: torch.Tensor, clean: torch.Tensor, mask: torch.Tensor,
                seqL=None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Prediction, target and the hidden cells, all at the bottleneck.

        Args:
            net: the student network.
            masked, clean, mask: ``[n, s, h, w]``: the student's input, the teacher's, and 1 where hidden.
        Returns:
            ``prediction [F, c, h', w']``, ``target [F, c, h', w']`` (no gradient, layer-normalised over
            ``c``) and ``hidden [F, 1, h', w']`` (1 where any input pixel under the cell was hidden).
        """
        student = net.forward_encoder(masked, seqL)
        with torch.no_grad():
            teacher = net.forward_encoder(clean, seqL, parts=self.teacher)
            target = F.layer_norm(teacher.bottleneck.permute(0, 2, 3, 1), teacher.bottleneck.shape[1:2])
            hidden = F.max_pool2d(net.pad(student.layout.to_frames(mask))[:, None].float(), net.config.downsampling)
        return self.predictor(student.bottleneck), target.permute(0, 3, 1, 2), hidden

    @torch.no_grad()
    def update(self, net: nn.Module, momentum: float) -> None:
        """teacher <- momentum * teacher + (1 - momentum) * student; buffers (BatchNorm statistics) copied."""
        for name in TEACHER_PARTS:
            mine, theirs = self.teacher[name], getattr(net, name)
            for t, s in zip(mine.parameters(), theirs.parameters()):
                t.lerp_(s.detach(), 1.0 - momentum)
            for t, s in zip(mine.buffers(), theirs.buffers()):
                t.copy_(s)
