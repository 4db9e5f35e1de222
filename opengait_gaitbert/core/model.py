"""GaitBERTNet: the whole network, pure torch, with MAE's split of the forward pass.

    silhouettes (masked) [n, s, h, w]
      -> frame embedding (no time information)   [F, c0, h, w]
      -> U-Net encoder (conv, ReLU, pooling; or  [F, cK, h/2^K, w/2^K] + skips
         GaitBase's residual stages, resnet9)
      -> temporal context (3-frame temporal convs, or a transformer over time at each
         location; the only place that knows frame order)
      -> video embedding head (max over the frames that show someone)
                                                 embeddings [b, e, p], logits [b, classes, p]
      -> U-Net decoder with skips (pretraining)   reconstruction logits [n, s, h, w]
         (or, with ``pretrain_target: latent``, a predictor of an EMA teacher's bottleneck)

Training has two phases (:func:`training_phase`), BERT's recipe in one run: masked-frame
pretraining without labels (``forward_encoder`` on the masked clip, ``forward_decoder``),
then fine-tuning on identities (``forward_encoder`` on the clean clip, ``forward_embedding``).
Inference (``forward_encoder`` + ``forward_embedding``) never runs the decoder.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import (ConfigError, DataError, close_match_hint, config_error, config_location, location,
                     reject_retired_values, reject_unknown_keys)
from .latent import TEACHER_PARTS, LatentTarget
from .network import (FrameEmbedding, ResidualEncoder, TemporalConv,
                      TemporalTransformer, UNetDecoder, UNetEncoder, VideoEmbeddingHead)
from .sequences import SeqL, SequenceLayout

TEMPORAL_KINDS = ("transformer", "conv")
#: ``temporal`` values that no longer exist, and what became of them
RETIRED_TEMPORAL_KINDS = {
    "none": "was removed on 2026-12-07: without context over time a hidden frame cannot be "
            "inferred (hidden-frame error 0.0901 against 0.0259 with `conv`, no better than copying "
            "the nearest frame; benchmarks/results/history.md), and no shipped config used it. "
            "Use `temporal: conv` (one layer is the cheapest context).",
}
#: ``unet``: conv blocks with max pooling; ``resnet9``: GaitBase's backbone layout (:class:`ResidualEncoder`)
ENCODER_KINDS = ("unet", "resnet9")
#: Foreground fraction of a part's region (in its fullest frame) from which the part counts as
#: fully visible. Real CASIA-B strips hold at least 10 % foreground (the shared samples, the neck
#: and the ankles the thinnest), so half of that: a sliver an occluder leaves weighs less.
VISIBLE_MASS = 0.05
#: the two phases of training: masked-frame pretraining without labels, then fine-tuning on identities
PRETRAIN, FINETUNE = "pretrain", "finetune"
#: what pretraining predicts at the hidden places: the clean pixels (a decoder), or an EMA teacher's
#: bottleneck features (a predictor, :mod:`.latent`)
PRETRAIN_TARGETS = ("pixels", "latent")
_JOINT = ("measured below the same network without it under the fair protocol (clean rank-1 -9.0 ± 13.0 "
          "and -2.2 ± 1.1 points, benchmarks/results/fair.md). The masked objective now runs as a "
          "pretraining phase before fine-tuning: set `pretrain_fraction` (0 trains without it).")
#: ``model_cfg`` keys that no longer exist, and what to write instead
RETIRED_KEYS = {
    "clean_view": "was removed: the masked and clean passes in one step (`identity_view`) " + _JOINT,
    "identity_view": "was removed on 2026-12-07: identity losses on a masked pass, or a masked pass beside "
                     "the clean one in every step, " + _JOINT + " Delete the key.",
    "reconstruct_fraction": "was removed on 2026-12-07: a masked pass on a share of every batch "
                            "(gaitbert_casiab_masked.yaml) " + _JOINT + " Delete the key.",
    "mask_channel": "was removed on 2026-12-06: the hidden-content mask as a second input plane measured "
                    "worse (46.7 against 49.2 clean rank-1, benchmarks/results/history.md). Delete the key.",
    "spatial_layers": "was removed on 2026-12-06: attention over each frame's locations cut clean rank-1 to "
                      "36.2 (benchmarks/results/history.md). Delete the key.",
}


@dataclass
class NetworkConfig:
    """GaitBERT's ``model_cfg`` keys (besides OpenGait's ``model: GaitBERT``).

    Attributes:
        encoder: ``unet`` (conv blocks, 2x2 max pooling between them) or ``resnet9``
            (GaitBase's backbone: one residual block per stage at strides 1, 2, 2, 1; needs
            4 ``channels`` and ``embed_stride`` 1). Both keep skips for the decoder.
        channels: encoder widths, finest level first; ``unet``: ``len(channels) - 1`` halvings;
            ``resnet9``: the 4 stages' widths (2 halvings).
        embed_stride: 1 or 2; 2 embeds frames at half resolution (4x4 patches), the
            decoder's last layer restores full resolution.
        frame_size: ``[h, w]`` of the frames the model receives (64x44 after OpenGait's
            ``BaseSilCuttingTransform``); frames are padded so the halvings fit.
        temporal: ``transformer`` | ``conv`` context over time at the bottleneck.
        temporal_dim: transformer width.
        temporal_layers: transformer (or conv) layers.
        temporal_heads: attention heads; must divide ``temporal_dim``.
        temporal_window: frames one attention window spans (and the largest offset
            the relative-offset bias knows); longer sequences are cut into windows,
            which keeps inference linear in their length.
        embed_dim: embedding size per part (OpenGait's SeparateFCs ``out_channels``).
        bin_num: horizontal pyramid bins; each must divide the bottleneck height.
        class_num: training identities (74 for CASIA-B's protocol); 0 = pretraining
            without labels: the head has no parameters, the embedding is the pooled
            bottleneck ``[b, channels[-1], p]`` and there are no logits.
        pretrain_fraction: the share of ``trainer_cfg.total_iter`` spent on masked-frame
            pretraining before fine-tuning, in one run (BERT's recipe): the first
            ``round(pretrain_fraction * total_iter)`` iterations reconstruct the content the
            ``MaskedFrameSampler`` hid, without labels (no triplet, no cross-entropy); the rest
            train the identity losses on the unmasked clips, with no masked pass. A fraction, so
            that a shortened schedule keeps its shape. 0 trains on identities from the first
            step, with no decoder: the standing ablation of the masked objective. With
            ``class_num`` 0 (pretraining on unlabelled walks) every iteration reconstructs.
        pretrain_target: ``pixels`` (the U-Net decoder reconstructs the hidden pixels) or ``latent``
            (a predictor regresses a slowly updated (EMA) copy of the encoder's bottleneck features of
            the clean clip at the hidden cells, :mod:`.latent`; no decoder).
        teacher_momentum: with ``latent``, the EMA teacher's momentum per pretraining step.
        test_completion: at test time only, a checkpoint of masked-frame pretraining (the one the
            recipe saves at its phase boundary) whose encoder and decoder complete each probe
            before it is embedded (:mod:`.completion`); ``None``: probes as they are.
        part_columns: 1, or 2 to split every horizontal strip into a left and a right part
            (``p`` doubles). With ``part_visibility`` it measured better than whole strips
            (README, results); it did not make a side occluder recognisable.
        part_visibility: at inference, make each part's embedding unit length and scale it
            by how much of its region (a strip, or half of one) the silhouettes show
            (:meth:`GaitBERTNet.part_visibility`: 1 once :data:`VISIBLE_MASS` of it is
            foreground in some frame, 0 when it is blank in every frame). A part that a
            static occluder hides in every frame then adds the same distance to every gallery
            sequence (``euc``: 1, ``cos``: 0) instead of the distance from an all-blank
            strip's features, which differs from one gallery sequence to the next. Training
            is unchanged.
        part_lr: fine-tuning, as GaitSSB's ``backbone_lr``: a learning rate per part of
            :attr:`GaitBERTNet.PARTS` (e.g. ``{encoder: 0.01}``); 0 freezes a part (no
            gradient, BatchNorm statistics kept as restored). Parts not named train at
            ``optimizer_cfg.lr``.
    """

    # The defaults are the shipped recipe's (configs/gaitbert/gaitbert_casiab.yaml; a test holds them equal).
    encoder: str = "resnet9"
    channels: List[int] = field(default_factory=lambda: [64, 128, 256, 512])
    embed_stride: int = 1
    frame_size: List[int] = field(default_factory=lambda: [64, 44])
    temporal: str = "conv"
    temporal_dim: int = 256
    temporal_layers: int = 1
    temporal_heads: int = 4
    temporal_window: int = 30
    embed_dim: int = 256
    bin_num: List[int] = field(default_factory=lambda: [16])
    class_num: int = 74
    pretrain_fraction: float = 0.0
    pretrain_target: str = "pixels"
    teacher_momentum: float = 0.99
    test_completion: Optional[str] = None
    part_visibility: bool = True
    part_columns: int = 2
    part_lr: Dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, cfg: Mapping, where: str = "model_cfg") -> "NetworkConfig":
        """Build from a ``model_cfg`` mapping; OpenGait's own keys (``model``) are skipped.

        Raises:
            ConfigError: unknown key (with a close-match suggestion), wrong type or
                impossible value, naming ``where`` and the key.
        """
        names = [f.name for f in fields(cls)]
        own = {k: v for k, v in cfg.items() if k not in ("model",)}
        reject_unknown_keys(where, own, names + ["model"], retired=RETIRED_KEYS)
        if "teacher_momentum" in own and own.get("pretrain_target", cls.pretrain_target) != "latent":
            raise ConfigError(f"{where}: `teacher_momentum` is set, but only the latent pretraining target has a "
                              "teacher (pretrain_target: latent). Delete the key, or set pretrain_target: latent.")
        if own.get("class_num") == 0 and "pretrain_fraction" in own:  # it would be silently ignored
            raise ConfigError(f"{where}: `pretrain_fraction` is set, but class_num 0 pretrains in every iteration "
                              "(there are no identities to fine-tune on). Delete the key.")
        with config_location(where):  # __post_init__'s errors name it
            config = cls(**own)
        if config.pretrain_target != "pixels" and not config.pretrains:  # it would be silently ignored
            raise ConfigError(f"{where}: `pretrain_target` is {config.pretrain_target}, but pretrain_fraction is 0: "
                              "nothing pretrains. Set pretrain_fraction > 0 (e.g. 0.3, as gaitbert_casiab_bert.yaml), "
                              "or delete the key.")
        return config

    def __post_init__(self) -> None:
        self.validate(location("model_cfg"))

    @property
    def pretrains(self) -> bool:
        """Whether training has masked-frame pretraining: a phase of it, or pretraining alone (``class_num`` 0)."""
        return self.pretrain_fraction > 0 or self.class_num == 0

    @property
    def has_decoder(self) -> bool:
        """Whether pretraining reconstructs pixels (a decoder; what test-time completion needs)."""
        return self.pretrains and self.pretrain_target == "pixels"

    @property
    def has_teacher(self) -> bool:
        """Whether pretraining predicts an EMA teacher's features (:mod:`.latent`)."""
        return self.pretrains and self.pretrain_target == "latent"

    def pretrain_iterations(self, total_iter: int) -> int:
        """How many of ``total_iter`` training iterations are masked-frame pretraining."""
        return total_iter if self.class_num == 0 else round(self.pretrain_fraction * total_iter)

    @property
    def parts(self) -> int:
        """``p`` of the embeddings ``[b, e, p]``."""
        return sum(self.bin_num) * self.part_columns

    @property
    def halvings(self) -> int:
        if self.encoder == "resnet9":
            return ResidualEncoder.STRIDES.count(2)
        return len(self.channels) - 1

    @property
    def downsampling(self) -> int:
        """Input pixels per bottleneck pixel along each side."""
        return self.embed_stride * 2 ** self.halvings

    @property
    def padded_size(self) -> Tuple[int, int]:
        """Frame size after padding each side up to a multiple of the downsampling."""
        unit = self.downsampling
        return tuple(-(-size // unit) * unit for size in self.frame_size)

    def validate(self, where: str = "model_cfg") -> None:
        def bad(key, allowed, fix=""):
            raise config_error(where, key, getattr(self, key), allowed, fix)

        def int_list(value, length=None):
            return (isinstance(value, (list, tuple)) and len(value) > 0
                    and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
                    and (length is None or len(value) == length))

        if self.encoder not in ENCODER_KINDS:
            bad("encoder", " | ".join(ENCODER_KINDS), close_match_hint(str(self.encoder), ENCODER_KINDS))
        if self.encoder == "resnet9":
            if not int_list(self.channels, 4):
                bad("channels", "4 positive ints with encoder: resnet9, one per stage, e.g. [64, 128, 256, 512]")
            if self.embed_stride != 1:
                bad("embed_stride", "1 with encoder: resnet9", "Its stages halve the resolution themselves.")
        elif not int_list(self.channels) or len(self.channels) < 2:
            bad("channels", "a list of at least 2 positive ints, e.g. [64, 128, 256]")
        if not int_list(self.frame_size, 2):
            bad("frame_size", "[height, width] positive ints, e.g. [64, 44]")
        if self.embed_stride not in (1, 2):
            bad("embed_stride", "1 or 2")
        reject_retired_values(where, "temporal", self.temporal, RETIRED_TEMPORAL_KINDS)
        if self.temporal not in TEMPORAL_KINDS:
            bad("temporal", ", ".join(TEMPORAL_KINDS), close_match_hint(self.temporal, TEMPORAL_KINDS))
        for key in ("temporal_dim", "temporal_layers", "temporal_heads", "temporal_window", "embed_dim",
                    "class_num"):
            value = getattr(self, key)
            smallest = 0 if key == "class_num" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < smallest:
                bad(key, "the number of training ids, or 0 to pretrain without labels" if key == "class_num"
                    else "a positive int")
        if not isinstance(self.part_visibility, bool):
            bad("part_visibility", "true or false")
        fraction = self.pretrain_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
            bad("pretrain_fraction", "a number in [0, 1)", "e.g. 0.3: the first 30 % of trainer_cfg.total_iter "
                "pretrain on masked frames, the rest fine-tune; 0 trains on identities from the first step.")
        if self.pretrain_target not in PRETRAIN_TARGETS:
            bad("pretrain_target", " | ".join(PRETRAIN_TARGETS), close_match_hint(str(self.pretrain_target),
                                                                                  PRETRAIN_TARGETS))
        momentum = self.teacher_momentum
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 < momentum < 1:
            bad("teacher_momentum", "a number in (0, 1)", "e.g. 0.99: the teacher moves 1 % of the way each step.")
        if self.test_completion is not None and not (isinstance(self.test_completion, str) and self.test_completion):
            bad("test_completion", "null, or the path of a pretraining checkpoint")
        if not isinstance(self.part_lr, Mapping) or any(
                part not in GaitBERTNet.PARTS or isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr < 0
                for part, lr in self.part_lr.items()):
            unknown = [part for part in self.part_lr if part not in GaitBERTNet.PARTS] \
                if isinstance(self.part_lr, Mapping) else []
            hint = close_match_hint(unknown[0], GaitBERTNet.PARTS) if unknown else ""
            bad("part_lr", f"a mapping from parts ({', '.join(GaitBERTNet.PARTS)}) to learning rates >= 0",
                f"0 freezes a part; e.g. {{frame_embedding: 0.0, encoder: 0.01}}.{hint}")
        if self.temporal_dim % self.temporal_heads:
            bad("temporal_heads", f"a divisor of temporal_dim ({self.temporal_dim})")
        if self.part_columns not in (1, 2):
            bad("part_columns", "1 or 2 (each horizontal strip whole, or split into left and right halves)")
        if not int_list(self.bin_num):
            bad("bin_num", "a list of positive ints, e.g. [16]")
        bottleneck_h = self.padded_size[0] // self.downsampling
        if any(bottleneck_h % b for b in self.bin_num):
            bad("bin_num", f"divisors of the bottleneck height {bottleneck_h} (frame height "
                           f"{self.frame_size[0]} downsampled {self.downsampling}x)",
                "Change bin_num, channels, embed_stride or frame_size.")


class EncoderOutput(NamedTuple):
    """What ``forward_encoder`` hands to the head and the decoder."""

    bottleneck: torch.Tensor  # [F, cK, h', w'] with temporal context
    skips: List[torch.Tensor]  # finest first, [F, c_i, h_i, w_i]
    layout: SequenceLayout  # the sequences (pooling, output layout)
    cell_mass: Optional[torch.Tensor] = None  # [F, 1, h', w'] foreground fraction per bottleneck cell
    shown: Optional[torch.Tensor] = None  # [F] bool: frames with any foreground (the temporal max skips the others)


class GaitBERTNet(nn.Module):
    """The GaitBERT network. Input is already masked; it never sees the target."""

    #: Its parts, input to output: what fine-tuning may freeze or train at its own rate.
    PARTS = ("frame_embedding", "encoder", "temporal", "head", "decoder", "latent")

    def __init__(self, config: NetworkConfig):
        super().__init__()
        self.config = config
        c = config.channels
        self.frame_embedding = FrameEmbedding(c[0], config.embed_stride)
        residual = config.encoder == "resnet9"
        self.encoder = ResidualEncoder(c) if residual else UNetEncoder(c)
        if config.temporal == "transformer":
            self.temporal = TemporalTransformer(c[-1], config.temporal_dim, config.temporal_layers,
                                                config.temporal_heads, config.temporal_window)
        else:
            self.temporal = TemporalConv(c[-1], config.temporal_layers)
        self.head = VideoEmbeddingHead(c[-1], config.embed_dim, config.bin_num, config.class_num,
                                       config.part_columns)
        # Without a pretraining phase nothing decodes: no decoder weights, so DDP sees no
        # parameter without a gradient and checkpoints carry nothing unused.
        self.decoder = (UNetDecoder(ResidualEncoder.decoder_channels(c) if residual else c, config.embed_stride)
                        if config.has_decoder else nn.Sequential())
        # after the parts it copies: the latent target's EMA teacher starts as the student
        self.latent = LatentTarget(self, c[-1]) if config.has_teacher else nn.Sequential()
        self.frozen: Tuple[str, ...] = ()

    # -- fine-tuning ---------------------------------------------------------------------
    def freeze(self, parts: Sequence[str]) -> None:
        """Stop training ``parts`` (names of :attr:`PARTS`): their weights get no gradient and
        their BatchNorm layers stay in eval mode, keeping the restored statistics."""
        self.frozen = tuple(parts)
        for name in self.frozen:
            getattr(self, name).requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> "GaitBERTNet":
        super().train(mode)
        for name in self.frozen:
            getattr(self, name).eval()
        return self

    def part_parameters(self) -> Dict[str, List[nn.Parameter]]:
        """Each part's trainable parameters, in :attr:`PARTS` order (frozen ones left out)."""
        return {name: [p for p in getattr(self, name).parameters() if p.requires_grad] for name in self.PARTS}

    # -- padding so that every halving is exact ------------------------------------------
    def pad(self, frames: torch.Tensor) -> torch.Tensor:
        h, w = frames.shape[-2:]
        ph, pw = self.config.padded_size
        # Centre the silhouette horizontally: split the width padding left/right.
        return F.pad(frames, ((pw - w) // 2, pw - w - (pw - w) // 2, 0, ph - h))

    def _crop(self, frames: torch.Tensor) -> torch.Tensor:
        h, w = self.config.frame_size
        left = (self.config.padded_size[1] - w) // 2
        return frames[..., :h, left:left + w]

    def check_input(self, sils: torch.Tensor) -> None:
        if sils.dim() != 4:
            raise DataError(f"GaitBERT expects silhouettes [n, s, h, w]; got shape {tuple(sils.shape)}.")
        if list(sils.shape[-2:]) != list(self.config.frame_size):
            raise DataError(
                f"GaitBERT got {sils.shape[-2]}x{sils.shape[-1]} frames but model_cfg.frame_size is "
                f"{self.config.frame_size}. Set frame_size to the size the transform yields "
                "(64x44 after BaseSilCuttingTransform on 64x64 pkl).")

    # -- MAE-style forward pieces --------------------------------------------------------
    def forward_encoder(self, sils: torch.Tensor, seqL: SeqL = None, parts: Optional[Mapping] = None) -> EncoderOutput:
        """``[n, s, h, w]`` (masked) silhouettes -> bottleneck with temporal context + skips, through
        ``parts`` (``frame_embedding``, ``encoder``, ``temporal``; default this network's own)."""
        self.check_input(sils)
        layout = SequenceLayout.from_input(sils.shape[0], sils.shape[1], seqL)
        windows = layout.windowed(self.config.temporal_window)  # same frames, cut for attention
        parts = parts or {name: getattr(self, name) for name in TEACHER_PARTS}  # the teacher passes its copies
        frames = self.pad(layout.to_frames(sils))  # [F, H, W]
        x = parts["frame_embedding"](frames)  # [F, c0, H, W]
        x, skips = parts["encoder"](x)  # [F, cK, h', w']
        # Attention works per window; the local temporal convs see the whole sequence.
        x = parts["temporal"](x, windows if self.config.temporal == "transformer" else layout)
        cell_mass = None
        if self.config.part_visibility and not self.training:  # read at inference only
            # foreground fraction of the input under each bottleneck cell
            cell_mass = F.avg_pool2d(frames[:, None], self.config.downsampling)  # [F, 1, h', w']
        return EncoderOutput(x, skips, layout, cell_mass, frames.flatten(1).amax(dim=1) > 0)

    def forward_embedding(self, encoded: EncoderOutput) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """-> embeddings ``[b, e, p]`` and logits ``[b, classes, p]`` (None without identities),
        one row per sequence. With ``part_visibility``, at inference each part is unit length
        times its visibility (training reads the raw embeddings)."""
        embeddings, logits = self.head(encoded.bottleneck, encoded.layout, encoded.shown)
        if self.config.part_visibility and not self.training:
            embeddings = F.normalize(embeddings, dim=1) * self.part_visibility(encoded)[:, None, :]
        return embeddings, logits

    def part_visibility(self, encoded: EncoderOutput) -> torch.Tensor:
        """-> ``[b, p]`` in [0, 1]: how visible each part's region is over the sequence.

        A bottleneck cell's mass is the foreground fraction of the input pixels under it in
        the sequence's fullest frame; a part's is the mean over its cells (the head's own
        split), divided by :data:`VISIBLE_MASS` and clipped to 1.
        """
        fullest = self.head.temporal_pool(encoded.cell_mass, encoded.layout)  # [b, 1, h', w']
        return (self.head.pool_parts(fullest, lambda z: z.mean(-1))[:, 0] / VISIBLE_MASS).clamp(max=1.0)

    def forward_decoder(self, encoded: EncoderOutput) -> torch.Tensor:
        """-> reconstruction logits in the input's layout ``[n, s, h, w]``."""
        if not self.config.has_decoder:
            why = "pretrain_fraction is 0" if not self.config.pretrains else "pretrain_target is latent"
            raise ConfigError(f"model_cfg: {why}, so this network has no decoder and cannot reconstruct. "
                              "Reconstructions need a model trained with a masked-frame pretraining phase on pixels "
                              "(pretrain_fraction > 0, as configs/gaitbert/gaitbert_casiab_bert.yaml) or a pretraining "
                              "config.")
        recon = self._crop(self.decoder(encoded.bottleneck, encoded.skips))  # [F, h, w]
        return encoded.layout.from_frames(recon)

    def forward(self, sils: torch.Tensor, seqL: SeqL = None, reconstruct: bool = False) -> Dict[str, torch.Tensor]:
        """One pass, MAE's split: the encoder, then the decoder or the embedding head.

        Args:
            sils: ``[n, s, h, w]`` silhouettes in [0, 1]; in pretraining, with the hidden content
                already removed by the masked-frame sampler.
            seqL: None, or OpenGait's packed lengths ``[1, b]``.
            reconstruct: pretraining: decode the hidden content instead of embedding.
        Returns:
            ``reconstruction`` logits ``[n, s, h, w]`` when reconstructing; otherwise
            ``embeddings [b, e, p]`` and ``logits [b, classes, p]`` (None with ``class_num`` 0).
        """
        encoded = self.forward_encoder(sils, seqL)
        if reconstruct:
            return {"reconstruction": self.forward_decoder(encoded)}
        embeddings, logits = self.forward_embedding(encoded)
        return {"embeddings": embeddings, "logits": logits}

    def forward_latent(self, masked: torch.Tensor, clean: torch.Tensor, mask: torch.Tensor, seqL: SeqL = None
                       ) -> Dict[str, torch.Tensor]:
        """A latent pretraining step: the predicted and the teacher's bottleneck features, and the hidden cells
        (see :class:`~.latent.LatentTarget`)."""
        prediction, target, hidden = self.latent(self, masked, clean, mask, seqL)
        return {"latent_prediction": prediction, "latent_target": target, "latent_mask": hidden}

    def embed(self, sils: torch.Tensor, seqL: SeqL = None) -> torch.Tensor:
        """Inference: ``[n, s, h, w]`` -> embeddings ``[b, e, p]``, encoder path only."""
        return self.forward_embedding(self.forward_encoder(sils, seqL))[0]


def training_phase(config: NetworkConfig, iteration: int, total_iter: int) -> str:
    """:data:`PRETRAIN` or :data:`FINETUNE`: the phase of the step after ``iteration`` completed ones.

    A pure function of the iteration, so a run resumed with ``--iter k`` is in the same
    phase as the uninterrupted one, on either side of the boundary.
    """
    return PRETRAIN if iteration < config.pretrain_iterations(total_iter) else FINETUNE
