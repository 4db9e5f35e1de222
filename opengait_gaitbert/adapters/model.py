"""``GaitBERT(BaseModel)``: the thin adapter between OpenGait's trainer and the core network.

``build_network`` and ``forward`` (each step's phase: masked-frame pretraining or fine-tuning),
the per-sequence transform (``inputs_pretreament``, which names a bad sequence) and the
optimizer's groups per part. Two of BaseModel's steps are hardened for days-long runs by mixins:
``adapters/faults.py`` (``train_step``: a non-finite loss, fp16 overflow) and
``adapters/checkpoints.py`` (``save_ckpt`` / ``resume_ckpt``: atomic files, exact resume).
"""
from __future__ import annotations

import numpy as np
import torch
from einops import rearrange
from modeling.base_model import BaseModel  # OpenGait
from torch import optim
from utils import get_attr_from, get_valid_args  # OpenGait

from ..core.config import LOSS_PREFIX, SOFTMAX_PREFIX, config_source, validate_cfgs
from ..core.errors import ConfigError, DataError
from ..core.finetune import part_param_groups
from ..core.frames import check_input_frames
from ..core.completion import complete, load_completer
from ..core.model import PRETRAIN, GaitBERTNet, training_phase
from ..core.render import reconstruction_grid
from ..core.sequences import per_sequence, split_packed
from .checkpoints import CheckpointsMixin
from .faults import TrainingFaultsMixin
from .transform import INPUT, MASK, TARGET, set_masking

SUMMARY_FRAMES = 8  # frames of the first clip shown in TensorBoard


class GaitBERT(CheckpointsMixin, TrainingFaultsMixin, BaseModel):
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
        completion = self.gaitbert_cfg.network.test_completion
        # Held outside the module tree: not a part of this model's checkpoint, nor of its optimizer.
        self._completer = [] if training or not completion else [load_completer(completion)]
        if self._completer:
            self.msg_mgr.log_info(f"[GaitBERT] test-time completion: probes are completed by the network of "
                                  f"{completion} before they are embedded")
        self.fp16_skipped_steps = 0
        self.last_batch = None
        self.phase = None  # the training phase of the last step (training_phase)

    def forward(self, inputs):
        ipts, labs, typs, vies, seqL = inputs
        self.last_batch = (labs, typs, vies)
        sils = ipts[0]  # pretraining: [n, s, 3, h, w]; fine-tuning and test: [n, s, h, w]
        if self.training and sils.dim() == 5:  # a pretraining step: no labels are read
            masked, target, mask = sils[:, :, INPUT], sils[:, :, TARGET], sils[:, :, MASK]  # [n, s, h, w] each
            if self.net.config.has_teacher:  # the EMA teacher's features of the clean clip, not its pixels
                return {"training_feat": {LOSS_PREFIX: self.net.forward_latent(masked, target, mask, seqL)},
                        "visual_summary": {"scalar/pretraining": 1.0}, "inference_feat": {}}
            reconstruction = self.net(masked, seqL, reconstruct=True)["reconstruction"]
            visual_summary = {"scalar/pretraining": 1.0}
            # OpenGait writes the summary every log_iter iterations only; draw it only then.
            if (self.iteration + 1) % self.engine_cfg["log_iter"] == 0:
                visual_summary.update(self.summary_images(masked, reconstruction, target, mask))
            return {"training_feat": {LOSS_PREFIX: {"reconstruction": reconstruction, "target": target, "mask": mask}},
                    "visual_summary": visual_summary, "inference_feat": {}}
        if self._completer and not self.training:  # model_cfg.test_completion: fill in what an occluder blanked
            sils = complete(self._completer[0].to(sils.device), sils, seqL)
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

    def train_step(self, loss_sum) -> bool:
        """BaseModel's step; at the end of the pretraining phase, also a checkpoint (unless ``save_iter``
        already writes one there): the network that can complete occluded probes (``test_completion``)."""
        stepped = super().train_step(loss_sum)
        network = self.gaitbert_cfg.network
        if stepped and network.has_teacher and self.phase == PRETRAIN:  # the teacher follows the updated student
            self.net.latent.update(self.net, network.teacher_momentum)
        total = self.engine_cfg["total_iter"]
        boundary = network.pretrain_iterations(total)
        if stepped and network.has_decoder and self.iteration == boundary < total and boundary % self.engine_cfg["save_iter"]:
            self.save_ckpt(boundary)
            self.msg_mgr.log_info(f"[GaitBERT] end of masked-frame pretraining: {self.checkpoint_file(boundary)} "
                                  "holds the network model_cfg.test_completion can complete probes with")
        return stepped

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
