"""Training faults named instead of wasting GPU days: a non-finite loss stops the run with its
iteration, terms and batch; fp16 overflow skips are counted and logged.

A mixin of :class:`~opengait_gaitbert.adapters.model.GaitBERT`, before OpenGait's ``BaseModel``.
"""
from __future__ import annotations

import torch

from ..core.errors import GaitBERTError


class NonFiniteLossError(GaitBERTError, FloatingPointError):
    """The loss became NaN or infinite: training stops instead of wasting GPU days."""


class TrainingFaultsMixin:
    """``train_step`` over BaseModel's; reads ``last_batch``, which the model's forward sets."""

    fp16_skipped_steps = 0
    last_batch = None

    def train_step(self, loss_sum) -> bool:
        if not torch.isfinite(torch.as_tensor(loss_sum)).all():
            raise NonFiniteLossError(
                f"iteration {self.iteration + 1}: the loss is {float(loss_sum)}; terms: {self._loss_terms()}; "
                f"batch: {self._batch_description()}. Lower optimizer_cfg.lr or check the data "
                "(`opengait-gaitbert check-data`); restore the last checkpoint with --iter.")
        stepped = super().train_step(loss_sum)
        if not stepped:  # BaseModel returns False when GradScaler skipped an fp16 overflow
            self.fp16_skipped_steps += 1
            self.msg_mgr.log_warning(f"fp16 overflow at iteration {self.iteration + 1}: step skipped "
                                     f"({self.fp16_skipped_steps} skipped so far).")
        return stepped

    def _loss_terms(self) -> dict:
        terms = {}
        for prefix, loss in self.loss_aggregator.losses.items():
            for name, value in getattr(loss, "info", {}).items():
                terms[f"{prefix}_{name}"] = round(float(torch.as_tensor(value).float().mean()), 6)
        return terms

    def _batch_description(self) -> str:
        if self.last_batch is None:
            return "unknown"
        labs, typs, vies = self.last_batch
        label_set = self.train_loader.dataset.label_set
        ids = [label_set[int(i)] for i in torch.as_tensor(labs).tolist()]
        return ", ".join(f"{i}/{t}/{v}" for i, t, v in zip(ids, typs, vies))
