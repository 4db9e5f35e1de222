"""GaitBERT's building blocks, pure torch.

Shapes use: F frames (all sequences' frames stacked), b sequences, L the longest
sequence, c channels, h/w frame size, p horizontal parts.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from .sequences import SequenceLayout, Size


class ConvBlock(nn.Sequential):
    """Two 3x3 conv + BN + ReLU layers: one U-Net level."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class FrameEmbedding(nn.Module):
    """Per-frame embedding of one silhouette, with no notion of time.

    With ``stride`` 2 it is a 4x4 patch embedding at half resolution, like a ViT's:
    the U-Net then works on 32x22 instead of 64x44 maps, which quarters the cost
    of its widest levels. It deliberately adds no positional encoding: a frame's
    features must not depend on its absolute index, or the max over time (the
    video embedding) changes when a probe is shifted, thinned or cut. Order is
    given to the temporal context only (``TemporalTransformer``).
    """

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        kernel, padding = (3, 1) if stride == 1 else (2 * stride, stride // 2)
        self.conv = nn.Sequential(nn.Conv2d(1, channels, kernel, stride=stride, padding=padding, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``[F, h, w]`` silhouettes -> ``[F, c, h/stride, w/stride]``."""
        return self.conv(frames.unsqueeze(1))


class UNetEncoder(nn.Module):
    """Conv blocks with 2x2 max pooling between them; keeps each level's output as a skip."""

    def __init__(self, channels: Sequence[int]):
        super().__init__()
        self.levels = nn.ModuleList(
            [ConvBlock(channels[0], channels[0])]
            + [ConvBlock(cin, cout) for cin, cout in zip(channels[:-1], channels[1:])])

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """``[F, c0, h, w]`` -> bottleneck ``[F, cK, h/2^K, w/2^K]`` and skips, finest first."""
        skips = []
        for index, level in enumerate(self.levels):
            if index > 0:
                skips.append(x)
                x = F.max_pool2d(x, 2)
            x = level(x)
        return x, skips


class BasicBlock(nn.Module):
    """ResNet's basic block, as torchvision's ``BasicBlock`` (which OpenGait's ResNet9 uses), with
    its parameter names, so that its weights load either way: 3x3 conv, BN, ReLU, 3x3 conv, BN,
    plus the input (through ``downsample`` where the shape changes), then ReLU.

    Restated because torchvision is no core requirement: the CPU wheel of torch that CI
    installs has no matching torchvision build. ``tests/test_network.py`` checks it against
    torchvision's block wherever torchvision imports.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[F, inplanes, h, w]`` -> ``[F, planes, h / stride, w / stride]``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResidualEncoder(nn.Module):
    """GaitBase's backbone layout (OpenGait's ``ResNet9``, no max pooling) as a U-Net encoder.

    One :class:`BasicBlock` per stage, at strides 1, 2, 2, 1: full resolution, then two
    halvings, then a last stage at the bottleneck's size. Like :class:`UNetEncoder` it keeps the
    input of each halving as a skip for the decoder. Measured on the benchmark, GaitBase's
    backbone without its augmentation far out-recognises the plain conv blocks (README).
    """

    STRIDES = (1, 2, 2, 1)

    def __init__(self, channels: Sequence[int]):
        super().__init__()
        stages, inplanes = [], channels[0]
        for planes, stride in zip(channels, self.STRIDES):
            shortcut = None
            if stride != 1 or inplanes != planes:  # as torchvision's ResNet._make_layer
                shortcut = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                         nn.BatchNorm2d(planes))
            stages.append(BasicBlock(inplanes, planes, stride, shortcut))
            inplanes = planes
        self.stages = nn.ModuleList(stages)

    @staticmethod
    def decoder_channels(channels: Sequence[int]) -> List[int]:
        """The widths the decoder mirrors, finest first: the two skips' and the bottleneck's."""
        return [channels[0], channels[1], channels[-1]]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """``[F, c0, h, w]`` -> bottleneck ``[F, c3, h/4, w/4]`` and skips ``[F, c0, h, w]``,
        ``[F, c1, h/2, w/2]``."""
        skips = []
        for stage, stride in zip(self.stages, self.STRIDES):
            if stride == 2:
                skips.append(x)
            x = stage(x)
        return x, skips


class UNetDecoder(nn.Module):
    """Transposed convs up, concatenating the encoder's skip at each level."""

    def __init__(self, channels: Sequence[int], stride: int = 1):
        super().__init__()
        pairs = list(zip(channels[1:], channels[:-1]))[::-1]  # (deeper, shallower), deepest first
        self.ups = nn.ModuleList([nn.ConvTranspose2d(cin, cout, 2, stride=2) for cin, cout in pairs])
        self.blocks = nn.ModuleList([ConvBlock(2 * cout, cout) for _, cout in pairs])
        # Back to full resolution: undo the frame embedding's stride.
        self.head = (nn.Conv2d(channels[0], 1, 1) if stride == 1
                     else nn.ConvTranspose2d(channels[0], 1, stride, stride=stride))

    def forward(self, x: torch.Tensor, skips: List[torch.Tensor]) -> torch.Tensor:
        """Bottleneck ``[F, cK, h', w']`` + skips -> reconstruction logits ``[F, h, w]``."""
        for up, block, skip in zip(self.ups, self.blocks, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x).squeeze(1)


class TemporalTransformer(nn.Module):
    """The "BERT": self-attention over time at every bottleneck location.

    Each spatial location of the bottleneck is a token sequence over the frames of
    one window, so a hidden frame's features are inferred from the other frames at
    the same place. Attention never crosses windows and ignores padding.

    Order enters only as a learned bias on the attention scores that depends on the
    signed offset between two frames (as in T5 and Swin), never as an absolute
    position added to a token. A frame's context therefore depends on its
    neighbours and how far away they are, not on where the clip started: a probe
    that starts later, or a window boundary that falls elsewhere, sees the same
    context for the same frames.
    """

    def __init__(self, channels: int, dim: int, layers: int, heads: int, window: int, dropout: float = 0.0):
        super().__init__()
        self.proj_in = nn.Linear(channels, dim)
        # SiLU also keeps PyTorch's fused inference fast path (ReLU/GELU layers only) off: on
        # CPU it returns NaN when given a float attention mask such as the offset bias.
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=dropout,
                                           activation=nn.SiLU(), batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.proj_out = nn.Linear(dim, channels)
        # One learned score per signed offset -(window-1) .. window-1, shared by heads and layers.
        self.offset_bias = nn.Parameter(torch.zeros(2 * window - 1).normal_(std=0.02))
        self.window = window

    def relative_bias(self, length: Size) -> torch.Tensor:
        """``[L, L]`` additive attention scores: entry (i, j) is the bias of offset j - i."""
        index = torch.arange(length, device=self.offset_bias.device)
        return self.offset_bias[index[None, :] - index[:, None] + self.window - 1]

    def forward(self, x: torch.Tensor, layout: SequenceLayout) -> torch.Tensor:
        """``[F, c, h, w]`` -> ``[F, c, h, w]`` with temporal context added (residual).

        ``layout`` must be windowed (no row longer than ``window``); its rows ``[b, L]``
        are the attention windows.
        """
        c, h, w = x.shape[1:]
        padded = layout.pad(x)  # [b, L, c, h, w]
        length = padded.shape[1]
        tokens = self.proj_in(padded.permute(0, 3, 4, 1, 2).reshape(-1, length, c))  # [(b h w), L, dim]
        valid = layout.valid_mask(x.device)  # [b, L] or None
        padding = None
        if valid is not None:  # additive, like the bias: -inf on padding keys
            invalid = ~valid.repeat_interleave(h * w, dim=0)  # [(b h w), L]
            padding = torch.zeros(invalid.shape, dtype=tokens.dtype, device=x.device).masked_fill(
                invalid, float("-inf"))
        bias = self.relative_bias(length).to(tokens.dtype)
        # is_causal=False: the bias sees both directions; saying so also skips PyTorch's
        # comparison of the mask's values with a causal mask, which torch.export cannot trace.
        tokens = self.proj_out(self.encoder(tokens, mask=bias, src_key_padding_mask=padding, is_causal=False))
        context = tokens.reshape(-1, h, w, length, c).permute(0, 3, 4, 1, 2)  # [b, L, c, h, w]
        return x + layout.unpad(context)


class TemporalConv(nn.Module):
    """Cheaper alternative context: residual 3-frame temporal convolutions (linear in s)."""

    def __init__(self, channels: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList([nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0))
                                     for _ in range(layers)])

    def forward(self, x: torch.Tensor, layout: SequenceLayout) -> torch.Tensor:
        """``[F, c, h, w]`` -> ``[F, c, h, w]``; padding frames are zeros, like a clip's edge."""
        y = rearrange(layout.pad(x), "b l c h w -> b c l (h w)")
        valid = layout.valid_mask(x.device)  # [b, L] or None
        for conv in self.layers:
            # The (3, 1, 1) Conv3d's weights applied as a (3, 1) conv2d over [b, c, L, h*w]: the same
            # sums, but torch's CPU Conv3d has no fast kernel (13 % of inference time at the small size).
            y = y + F.relu(F.conv2d(y, conv.weight[..., 0], conv.bias, padding=(1, 0)))
            if valid is not None:  # re-zero the padding: a layer turns it into features the next would read
                y = y * valid[:, None, :, None].to(y.dtype)
        return layout.unpad(rearrange(y, "b c l (h w) -> b l c h w", h=x.shape[-2]))


class VideoEmbeddingHead(nn.Module):
    """OpenGait's proven head: temporal max pooling over valid frames, horizontal
    pyramid pooling, part-wise FCs and a BNNeck with cosine logits.

    With ``class_num`` 0 (pretraining without labels) it has no parameters: the
    embedding is the pooled bottleneck itself, ``[b, c, p]``, and there are no
    logits. Nothing in it then waits for an identity loss, so DDP finds no unused
    parameters, and a pretrained encoder can be tested as it is (zero-shot).
    """

    def __init__(self, in_channels: int, embed_dim: int, bin_num: Sequence[int], class_num: int,
                 columns: int = 1):
        super().__init__()
        self.bin_num = list(bin_num)
        self.columns = columns
        self.identity = class_num > 0
        if self.identity:
            parts = sum(self.bin_num) * columns
            self.fc = nn.Parameter(nn.init.xavier_uniform_(torch.empty(parts, in_channels, embed_dim)))
            self.bnneck = nn.BatchNorm1d(embed_dim * parts)
            self.classifier = nn.Parameter(nn.init.xavier_uniform_(torch.empty(parts, embed_dim, class_num)))

    @staticmethod
    def temporal_pool(x: torch.Tensor, layout: SequenceLayout, shown: Optional[torch.Tensor] = None
                      ) -> torch.Tensor:
        """``[F, c, h, w]`` -> ``[b, c, h, w]``: max over each sequence's own frames.

        ``shown`` (``[F]`` bool, optional): the frames that show any foreground. The max then
        skips the empty ones, unless a sequence has no other: an empty frame (blanked, or a
        detector's miss) carries no gait, but its features are not zero and would win the max
        in some channels, so a probe with a blanked run would differ from the same walk without it.
        """
        padded = layout.pad(x)  # [b, L, c, h, w]
        keep = layout.valid_mask(x.device)  # [b, L] or None
        if shown is not None:  # bool logic below, not torch.where: ONNX Runtime has no bool Where
            shown = layout.pad(shown[:, None].to(x.dtype))[:, :, 0] > 0  # [b, L]; padding: False
            nothing_shown = ~shown.any(dim=1, keepdim=True)  # [b, 1]: keep every real frame
            keep = shown | (nothing_shown if keep is None else nothing_shown & keep)
        if keep is not None:
            padded = padded.masked_fill(~keep[:, :, None, None, None], torch.finfo(padded.dtype).min)
        return padded.max(dim=1).values

    def pool_parts(self, x: torch.Tensor, reduce) -> torch.Tensor:
        """``[b, c, h, w]`` -> ``[b, c, p]``: ``reduce`` (``[b, c, k, cells]`` -> ``[b, c, k]``) over
        each part's cells. A part is one of ``bins`` horizontal strips, or with ``columns`` 2 the
        left or right half of one (the middle column goes left when the width is odd); parts are
        ordered by bin count, then strip, then column."""
        feats = []
        for bins in self.bin_num:
            strips = rearrange(x, "b c (k r) w -> b c k r w", k=bins)
            halves = [reduce(z.flatten(-2)) for z in strips.tensor_split(self.columns, dim=-1)]
            feats.append(torch.stack(halves, dim=-1).flatten(-2))  # [b, c, k * columns]
        return torch.cat(feats, dim=-1)

    def horizontal_pyramid(self, x: torch.Tensor) -> torch.Tensor:
        """``[b, c, h, w]`` -> ``[b, c, p]``: mean + max over each part (a strip, or half of one)."""
        return self.pool_parts(x, lambda z: z.mean(-1) + z.max(-1).values)

    def project(self, parts: torch.Tensor) -> torch.Tensor:
        """``[b, c, p]`` pooled parts -> embeddings ``[b, e, p]`` (the parts themselves without identities)."""
        if not self.identity:
            return parts
        return torch.einsum("bcp,pce->bep", parts, self.fc.to(parts.dtype))

    def embed(self, x: torch.Tensor, layout: SequenceLayout, shown: Optional[torch.Tensor] = None
              ) -> torch.Tensor:
        """``[F, c, h, w]`` -> embeddings ``[b, e, p]`` (what the triplet loss reads), without the
        BNNeck: usable on a few sequences in training, and leaves its statistics alone."""
        return self.project(self.horizontal_pyramid(self.temporal_pool(x, layout, shown)))

    def forward(self, x: torch.Tensor, layout: SequenceLayout, shown: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``[F, c, h, w]`` -> embeddings ``[b, e, p]`` and logits ``[b, classes, p]``.

        ``shown``: ``[F]`` bool, frames with foreground (see :meth:`temporal_pool`).
        Without identities (``class_num`` 0): embeddings ``[b, c, p]`` and logits None.
        """
        embed = self.embed(x, layout, shown)  # [b, e, p]
        if not self.identity:
            return embed, None
        b, e, p = embed.shape
        neck = self.bnneck(embed.reshape(b, e * p)).reshape(b, e, p)
        neck = F.normalize(neck, dim=1)
        logits = torch.einsum("bep,pek->bkp", neck, F.normalize(self.classifier, dim=1).to(neck.dtype))
        return embed, logits
