"""GaitBERT's building blocks, pure torch.

Shapes use: F frames (all sequences' frames stacked), b sequences, L the longest
sequence, c channels, h/w frame size, p horizontal parts.
"""
from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from .sequences import SequenceLayout


def sinusoidal_encoding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Transformer sine/cosine encoding of integer positions.

    Args:
        positions: ``[F]`` integer positions.
        dim: encoding size.
    Returns:
        ``[F, dim]`` float tensor. Any length works: nothing is tabulated.
    """
    half = (dim + 1) // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device) / half)
    angles = positions.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)[:, :dim]


class ConvBlock(nn.Sequential):
    """Two 3x3 conv + BN + ReLU layers: one U-Net level."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class FrameEmbedding(nn.Module):
    """Per-frame embedding plus a temporal positional encoding.

    With ``stride`` 2 the embedding is a 4x4 patch embedding at half resolution,
    like a ViT's: the U-Net then works on 32x22 instead of 64x44 maps, which
    quarters the cost of its widest levels. The encoding is added channel-wise,
    so every pixel of frame t knows t, and it restarts at 0 for each packed sequence.
    """

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        kernel, padding = (3, 1) if stride == 1 else (2 * stride, stride // 2)
        self.conv = nn.Sequential(nn.Conv2d(1, channels, kernel, stride=stride, padding=padding, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.channels = channels

    def forward(self, frames: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``[F, h, w]`` silhouettes, ``[F]`` positions -> ``[F, c, h/stride, w/stride]``."""
        x = self.conv(frames.unsqueeze(1))
        pe = sinusoidal_encoding(positions, self.channels).to(x.dtype)
        return x + pe[:, :, None, None]


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
    one clip, so a hidden frame's features are inferred from the other frames at
    the same place. Attention never crosses sequences and ignores padding.
    """

    def __init__(self, channels: int, dim: int, layers: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.proj_in = nn.Linear(channels, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.proj_out = nn.Linear(dim, channels)
        self.dim = dim

    def forward(self, x: torch.Tensor, layout: SequenceLayout) -> torch.Tensor:
        """``[F, c, h, w]`` -> ``[F, c, h, w]`` with temporal context added (residual)."""
        _, _, h, w = x.shape
        tokens = rearrange(layout.pad(x), "b l c h w -> (b h w) l c")
        positions = torch.arange(layout.max_length, device=x.device)
        tokens = self.proj_in(tokens) + sinusoidal_encoding(positions, self.dim).to(x.dtype)
        padding = None
        if not layout.uniform:
            padding = ~layout.valid_mask(x.device).repeat_interleave(h * w, dim=0)  # [(b h w), L]
        tokens = self.proj_out(self.encoder(tokens, src_key_padding_mask=padding))
        context = rearrange(tokens, "(b h w) l c -> b l c h w", h=h, w=w)
        return x + layout.unpad(context)


class TemporalConv(nn.Module):
    """Cheaper alternative context: residual 3-frame temporal convolutions (linear in s)."""

    def __init__(self, channels: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList([nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0))
                                     for _ in range(layers)])

    def forward(self, x: torch.Tensor, layout: SequenceLayout) -> torch.Tensor:
        """``[F, c, h, w]`` -> ``[F, c, h, w]``; padding frames are zeros, like a clip's edge."""
        y = rearrange(layout.pad(x), "b l c h w -> b c l h w")
        for conv in self.layers:
            y = y + F.relu(conv(y))
        return layout.unpad(rearrange(y, "b c l h w -> b l c h w"))


class NoTemporalContext(nn.Module):
    """Ablation: frames see no other frames (reconstruction cannot infer hidden frames)."""

    def forward(self, x: torch.Tensor, layout: SequenceLayout) -> torch.Tensor:
        return x


class VideoEmbeddingHead(nn.Module):
    """OpenGait's proven head: temporal max pooling over valid frames, horizontal
    pyramid pooling, part-wise FCs and a BNNeck with cosine logits."""

    def __init__(self, in_channels: int, embed_dim: int, bin_num: Sequence[int], class_num: int):
        super().__init__()
        self.bin_num = list(bin_num)
        parts = sum(self.bin_num)
        self.fc = nn.Parameter(nn.init.xavier_uniform_(torch.empty(parts, in_channels, embed_dim)))
        self.bnneck = nn.BatchNorm1d(embed_dim * parts)
        self.classifier = nn.Parameter(nn.init.xavier_uniform_(torch.empty(parts, embed_dim, class_num)))

    @staticmethod
    def temporal_pool(x: torch.Tensor, layout: SequenceLayout) -> torch.Tensor:
        """``[F, c, h, w]`` -> ``[b, c, h, w]``: max over each sequence's own frames."""
        padded = layout.pad(x)
        if not layout.uniform:
            invalid = ~layout.valid_mask(x.device)[:, :, None, None, None]
            padded = padded.masked_fill(invalid, torch.finfo(padded.dtype).min)
        return padded.max(dim=1).values

    def horizontal_pyramid(self, x: torch.Tensor) -> torch.Tensor:
        """``[b, c, h, w]`` -> ``[b, c, p]``: mean + max over each horizontal strip."""
        feats = []
        for bins in self.bin_num:
            z = rearrange(x, "b c (k r) w -> b c k (r w)", k=bins)
            feats.append(z.mean(-1) + z.max(-1).values)
        return torch.cat(feats, dim=-1)

    def forward(self, x: torch.Tensor, layout: SequenceLayout) -> Tuple[torch.Tensor, torch.Tensor]:
        """``[F, c, h, w]`` -> embeddings ``[b, e, p]`` and logits ``[b, classes, p]``."""
        parts = self.horizontal_pyramid(self.temporal_pool(x, layout))  # [b, c, p]
        embed = torch.einsum("bcp,pce->bep", parts, self.fc.to(parts.dtype))  # [b, e, p]
        b, e, p = embed.shape
        neck = self.bnneck(embed.reshape(b, e * p)).reshape(b, e, p)
        neck = F.normalize(neck, dim=1)
        logits = torch.einsum("bep,pek->bkp", neck, F.normalize(self.classifier, dim=1).to(neck.dtype))
        return embed, logits
