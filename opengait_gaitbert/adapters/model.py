"""``GaitBERT(BaseModel)``: the thin adapter between OpenGait's trainer and the core network.

Besides ``build_network`` and ``forward``, it hardens three of BaseModel's steps
for days-long runs: bad sequences are named (``inputs_pretreament``), a
non-finite loss stops the run with its context and fp16 overflow skips are
counted (``train_step``), and checkpoints are written atomically with the RNG
states that make ``--iter k`` continue exactly (``save_ckpt`` / ``resume_ckpt``).
"""
from __future__ import annotations

import os
import os.path as osp

import numpy as np
import torch
from einops import rearrange
from modeling.base_model import BaseModel  # OpenGait
from torch import optim
from utils import get_attr_from, get_valid_args  # OpenGait

from ..core.config import LOSS_PREFIX, SOFTMAX_PREFIX, config_source, validate_cfgs
from ..core.errors import CheckpointError, ConfigError, DataError, GaitBERTError, quote_keys
from ..core.finetune import part_param_groups, restorable_state
from ..core.frames import check_input_frames
from ..core.model import PRETRAIN, GaitBERTNet, training_phase
from ..core.render import reconstruction_grid
from ..core.sequences import per_sequence, split_packed
from ..core.training_state import (ALLOW_WORLD_SIZE_CHANGE_ENV, atomic_save, gather_rng_states, load_checkpoint,
                                   rank_rng_state, save_error, set_rng_state)
from .patches import checkpoint_already_read
from .transform import INPUT, MASK, TARGET, set_masking

SUMMARY_FRAMES = 8  # frames of the first clip shown in TensorBoard


class NonFiniteLossError(GaitBERTError, FloatingPointError):
    """The loss became NaN or infinite: training stops instead of wasting GPU days."""


class GaitBERT(BaseModel):
    """GaitBERT for OpenGait: masked-frame pretraining, then identity fine-tuning, in one run.

    Pretraining input is the masked-frame sampler's ``[n, s, 3, h, w]`` (input, target,
    mask; see ``adapters/transform.py``); fine-tuning and test input is plain ``[n, s, h, w]``.
    """

    def build_network(self, model_cfg):
        training = self.engine_cfg is self.cfgs.get("trainer_cfg")
        self.gaitbert_cfg = validate_cfgs(self.cfgs, training)
        self.net = GaitBERTNet(self.gaitbert_cfg.network)
        if training:  # fine-tuning: parts at learning rate 0 are frozen (see get_optimizer)
            self.net.freeze([part for part, lr in self.gaitbert_cfg.network.part_lr.items() if lr == 0])
        self.fp16_skipped_steps = 0
        self.last_batch = None
        self.phase = None  # the training phase of the last step (training_phase)

    def forward(self, inputs):
        ipts, labs, typs, vies, seqL = inputs
        self.last_batch = (labs, typs, vies)
        sils = ipts[0]  # pretraining: [n, s, 3, h, w]; fine-tuning and test: [n, s, h, w]
        if self.training and sils.dim() == 5:  # a pretraining step: no labels are read
            masked, target, mask = sils[:, :, INPUT], sils[:, :, TARGET], sils[:, :, MASK]  # [n, s, h, w] each
            reconstruction = self.net(masked, seqL, reconstruct=True)["reconstruction"]
            visual_summary = {"scalar/pretraining": 1.0}
            # OpenGait writes the summary every log_iter iterations only; draw it only then.
            if (self.iteration + 1) % self.engine_cfg["log_iter"] == 0:
                visual_summary.update(self.summary_images(masked, reconstruction, target, mask))
            return {"training_feat": {LOSS_PREFIX: {"reconstruction": reconstruction, "target": target, "mask": mask}},
                    "visual_summary": visual_summary, "inference_feat": {}}
        out = self.net(sils, seqL)
        embed, logits = out["embeddings"], out["logits"]  # [n, c, p], [n, classes, p]
        training_feat = {}
        if self.training:
            training_feat[LOSS_PREFIX] = {"embeddings": embed, "labels": labs}
            if SOFTMAX_PREFIX in self.gaitbert_cfg.loss_prefixes:  # never without identities (validate_cfgs)
                training_feat[SOFTMAX_PREFIX] = {"logits": logits, "labels": labs}
        return {
            "training_feat": training_feat,
            "visual_summary": {"scalar/pretraining": 0.0} if self.training else {},
            # float32 whatever autocast did: OpenGait's evaluator (cuda_dist) computes squared
            # distances in the features' own dtype, and with enable_float16 they overflowed fp16
            # (|x|^2 over 256 dims of ~50 > 65504): rank-1 fell from 60 to 11 % on CUDA.
            "inference_feat": {"embeddings": embed.float()},
        }

    @staticmethod
    def summary_images(masked, recon_logits, target, mask):
        """TensorBoard picture of the first clip, drawn by the CLI's renderer."""
        k = min(SUMMARY_FRAMES, masked.shape[1])
        with torch.no_grad():
            grid = reconstruction_grid(masked[0, :k], torch.sigmoid(recon_logits[0, :k].float()),
                                       target[0, :k], mask[0, :k])  # [H, W, 3] uint8
        return {"image/reconstruction": rearrange(torch.from_numpy(grid), "h w c -> 1 c h w").float() / 255}

    # -- data ----------------------------------------------------------------------------
    def get_loader(self, data_cfg, train=True):
        loader = super().get_loader(data_cfg, train)
        # The loader's own generator draws its per-iterator base seed, which would otherwise
        # consume the global torch RNG when the iterator starts and shift every batch of a
        # resumed run away from the uninterrupted one.
        loader.generator = torch.Generator().manual_seed(torch.distributed.get_rank())
        ids, class_num = len(loader.dataset.label_set), self.gaitbert_cfg.network.class_num
        if train and class_num and ids != class_num:  # 0: pretraining, the folders are not identities
            raise ConfigError(f"{config_source()}: model_cfg.class_num = {class_num} but the training set "
                              f"has {ids} ids ({data_cfg.get('dataset_partition')}); set class_num: {ids}.")
        return loader

    def inputs_pretreament(self, inputs):
        seqL = inputs[4]
        trfs = self.trainer_trfs if self.training else self.evaluator_trfs
        if self.training:
            self.enter_phase(training_phase(self.gaitbert_cfg.network, self.iteration, self.engine_cfg["total_iter"]))
        check_input_frames(inputs[0], self.gaitbert_cfg.network.frame_size, config_source())  # before any transform
        try:
            # Packed batches (unfixed_ordered training, all_ordered testing) reach the
            # transform as ONE concatenated array; the masked-frame sampler must see each
            # sequence on its own, or a hidden span could straddle two clips.
            with per_sequence(trfs, seqL):
                return super().inputs_pretreament(inputs)
        except DataError as err:
            raise DataError(f"{err} Sequence: {self._find_bad_sequence(inputs)}. List every bad file with "
                            "`opengait-gaitbert check-data --cfgs <config>`.") from err

    def enter_phase(self, phase: str) -> None:
        """Masking on in pretraining steps, off in fine-tuning steps; the log says when the phase changes."""
        set_masking(self.trainer_trfs, phase == PRETRAIN)
        if phase != self.phase:
            network, total = self.gaitbert_cfg.network, self.engine_cfg["total_iter"]
            boundary = network.pretrain_iterations(total)
            self.msg_mgr.log_info(
                f"[GaitBERT] iteration {self.iteration + 1}: "
                + (f"masked-frame pretraining without labels, iterations 1-{boundary} of {total}" if phase == PRETRAIN
                   else f"fine-tuning on identities, iterations {boundary + 1}-{total}"
                   + (f" (after {boundary} of masked-frame pretraining)" if boundary else "")))
            self.phase = phase

    def _find_bad_sequence(self, inputs) -> str:
        seqs, labs, typs, vies, seqL = inputs
        transforms = self.trainer_trfs if self.training else self.evaluator_trfs
        dataset = (self.train_loader if self.training else self.test_loader).dataset
        sequences = seqs[0]  # [n] clips, or one packed array to cut by seqL
        if seqL is not None:
            sequences = split_packed(np.asarray(seqs[0][0]), seqL)
        for i, seq in enumerate(sequences):
            try:
                transforms[0](seq)
            except DataError:
                label = labs[i]
                label = dataset.label_set[label] if isinstance(label, int) and self.training else label
                return f"id {label}, type {typs[i]}, view {vies[i]}"
        return "one of " + ", ".join(f"{t}/{v}" for t, v in zip(typs, vies))

    # -- training faults -----------------------------------------------------------------
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

    def get_optimizer(self, optimizer_cfg):
        """OpenGait's optimizer, with one parameter group per part when ``model_cfg.part_lr``
        sets learning rates per part (fine-tuning, as GaitSSB's ``backbone_lr``)."""
        part_lr = self.gaitbert_cfg.network.part_lr
        if not part_lr:
            return super().get_optimizer(optimizer_cfg)
        self.msg_mgr.log_info(optimizer_cfg)
        solver = get_attr_from([optim], optimizer_cfg["solver"])
        groups = part_param_groups(self.net.part_parameters(), part_lr, optimizer_cfg["lr"])
        self.msg_mgr.log_info("learning rate per part: " + ", ".join(f"{g['name']} {g['lr']}" for g in groups)
                              + "".join(f", {part} frozen" for part in self.net.frozen))
        return solver(groups, **get_valid_args(solver, optimizer_cfg, ["solver"]))

    # -- checkpoints ---------------------------------------------------------------------
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
