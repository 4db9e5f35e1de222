"""Checkpoints of a days-long run: written atomically with every rank's random states, read once,
restored exactly with ``--iter k``, and a pretrained file checked before OpenGait loads it.

A mixin of :class:`~opengait_gaitbert.adapters.model.GaitBERT`, before OpenGait's ``BaseModel``.
"""
from __future__ import annotations

import os
import os.path as osp

import torch

from ..core.config import config_source
from ..core.errors import CheckpointError, ConfigError, quote_keys
from ..core.finetune import restorable_state
from ..core.training_state import (ALLOW_WORLD_SIZE_CHANGE_ENV, atomic_save, gather_rng_states, load_checkpoint,
                                   rank_rng_state, save_error, set_rng_state)
from .patches import checkpoint_already_read


class CheckpointsMixin:
    """``save_ckpt`` / ``resume_ckpt`` over BaseModel's, for OpenGait's trainer and evaluator."""

    def checkpoint_file(self, iteration: int) -> str:
        save_name = self.engine_cfg["save_name"]
        return osp.join(self.save_path, "checkpoints", f"{save_name}-{iteration:0>5}.pt")

    def save_ckpt(self, iteration):
        """BaseModel's checkpoint, written atomically, with every rank's RNG states and the
        ``model_cfg`` it was trained with (which the tools read back).

        Every rank calls it (OpenGait's run_train does, and BaseModel checks the rank
        inside): the states are gathered first, a collective, then rank 0 writes.
        A failed write (full disk, unwritable folder) stops the run with the file,
        the cause and the intact earlier checkpoint to resume from.
        """
        rng = gather_rng_states()
        if torch.distributed.get_rank() != 0:
            return
        path = self.checkpoint_file(iteration)
        try:
            atomic_save({"model": self.state_dict(), "optimizer": self.optimizer.state_dict(),
                         "scheduler": self.scheduler.state_dict(), "iteration": iteration,
                         "rng": rng, "model_cfg": dict(self.cfgs["model_cfg"])}, path)
        except OSError as err:
            raise save_error(path, err) from err

    def resume_ckpt(self, restore_hint):
        """BaseModel's restore, then this rank's own RNG states, so training continues as if uninterrupted.

        The checkpoint is read first with weights_only, so that a truncated or corrupt
        file, or one saved at another world size, is refused by name before OpenGait
        loads it (see ``core/training_state.py``).
        """
        if isinstance(restore_hint, str):
            return self.restore_from_file(restore_hint)
        if not (self.training and isinstance(restore_hint, int)):
            return super().resume_ckpt(restore_hint)
        path = self.checkpoint_file(restore_hint)
        checkpoint = load_checkpoint(path)  # read once: OpenGait's _load_ckpt is handed this dict
        saved = checkpoint.get("rng")
        rng = None
        if saved is not None:
            allow = os.environ.get(ALLOW_WORLD_SIZE_CHANGE_ENV) == "1"
            rng = rank_rng_state(saved, torch.distributed.get_rank(), torch.distributed.get_world_size(),
                                 path, allow_change=allow)
        self._opengait_restore(restore_hint, path, checkpoint)  # builds the same path and calls _load_ckpt
        world_size = torch.distributed.get_world_size()
        if saved is not None and "ranks" in saved and int(saved["world_size"]) != world_size:
            self.msg_mgr.log_warning(f"{path}: saved by {saved['world_size']} process(es), resumed by "
                                     f"{world_size} (--allow-world-size-change): weights, "
                                     "optimizer and schedule restored, random streams not (approximate resume).")
        if rng is not None:
            set_rng_state(rng)
        elif saved is not None:
            self.msg_mgr.log_warning(f"{path}: no random state for rank {torch.distributed.get_rank()}; it "
                                     "continues from its seed (approximate resume).")

    def restore_from_file(self, path: str):
        """OpenGait's ``restore_hint: <path>``: fine-tuning from a pretrained checkpoint (or
        testing one), checked before OpenGait loads it.

        With ``restore_ckpt_strict: false`` the identity head may be missing from the file
        or sized for other identities: it starts fresh, and the optimizer and schedule
        must then start fresh too. Anything else that does not fit, a missing file, or
        another model's checkpoint stops the run here, before any training step, with
        the file, the tensors and the fix.
        """
        engine = "trainer_cfg" if self.training else "evaluator_cfg"
        source = config_source()
        if not osp.isfile(path):
            raise CheckpointError(f"{source}: {engine}.restore_hint = {path!r} does not exist (relative paths "
                                  f"are read from {os.getcwd()}). Point it at the pretraining run's checkpoint, "
                                  "output/<dataset>/GaitBERT/<save_name>/checkpoints/<save_name>-<iter>.pt.")
        checkpoint = load_checkpoint(path)  # a dict: anything else is refused there
        if not isinstance(checkpoint.get("model"), dict):
            raise CheckpointError(f"{source}: {engine}.restore_hint {path} is not an OpenGait checkpoint "
                                  "(a dict with a `model` state dict).")
        model_state, fresh = restorable_state(self.state_dict(), checkpoint["model"], path, source, ("net.head.",),
                                              strict=self.engine_cfg.get("restore_ckpt_strict", True))
        if fresh and self.training and not (self.engine_cfg.get("optimizer_reset")
                                            and self.engine_cfg.get("scheduler_reset")):
            raise ConfigError(
                f"{source}: fine-tuning from {path} trains a new head ({quote_keys('fresh tensors', fresh)}), "
                "so the checkpoint's optimizer and schedule do not apply; set trainer_cfg.optimizer_reset: "
                "true and trainer_cfg.scheduler_reset: true.")
        if fresh:
            self.msg_mgr.log_info(f"restored {len(model_state)} tensors from {path}; "
                                  f"{quote_keys('start fresh', fresh)}.")
        self._opengait_restore(path, path, {**checkpoint, "model": model_state})

    def _opengait_restore(self, restore_hint, path, checkpoint: dict) -> None:
        """OpenGait's own ``resume_ckpt(restore_hint)``, reading ``checkpoint`` instead of the file ``path``."""
        with checkpoint_already_read(path, checkpoint):  # patch P2
            super().resume_ckpt(restore_hint)
