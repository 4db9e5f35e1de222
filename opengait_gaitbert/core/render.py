"""Pictures of what GaitBERT fills in: one renderer for TensorBoard and the CLI.

A grid has one column per frame and four rows: the input with hidden parts
marked in red, the reconstruction (predicted where hidden, the visible input
elsewhere, as MAE shows it: the loss never asks for visible pixels), the
ground truth, and the error on hidden positions.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

ROW_NAMES = ("input (hidden in red)", "reconstruction", "ground truth", "error")


def reconstruction_rows(inputs: torch.Tensor, recon: torch.Tensor, target: torch.Tensor,
                        mask: torch.Tensor) -> torch.Tensor:
    """Frames ``[k, h, w]`` each (``recon`` in [0, 1]) -> RGB rows ``[4, k, 3, h, w]`` in [0, 1]."""
    inputs, recon, target, mask = (t.detach().float().cpu() for t in (inputs, recon, target, mask))
    grey = lambda x: x[:, None].expand(-1, 3, -1, -1)  # noqa: E731  [k, h, w] -> [k, 3, h, w]
    marked = grey(inputs).clone()
    marked[:, 0] = torch.where(mask > 0, 0.6 + 0.4 * inputs, marked[:, 0])  # red tint where hidden
    marked[:, 1:] = torch.where(mask[:, None] > 0, 0.3 * inputs[:, None], marked[:, 1:])
    recon = torch.where(mask > 0, recon, inputs)  # predictions only where something was hidden
    error = (recon - target).abs() * (mask > 0)
    heat = torch.stack([error, error * 0.3, torch.zeros_like(error)], dim=1)
    return torch.stack([marked, grey(recon), grey(target), heat])


def reconstruction_grid(inputs, recon, target, mask, gap: int = 1) -> np.ndarray:
    """The same rows tiled into one uint8 RGB image ``[4h + 3gap, k(w + gap) - gap, 3]``."""
    rows = reconstruction_rows(inputs, recon, target, mask)  # [4, k, 3, h, w]
    tiles = F.pad(rows, (0, gap, 0, gap), value=0.15)  # grey gap right of and below every tile
    canvas = rearrange(tiles, "r k c h w -> (r h) (k w) c")[:-gap or None, :-gap or None]
    return (canvas.clamp(0, 1).numpy() * 255).round().astype(np.uint8)
