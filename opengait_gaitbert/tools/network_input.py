"""Silhouettes -> the network's input, as OpenGait's test pipeline makes it.

:func:`preprocess` turns raw silhouettes into what the network saw at test time:
OpenGait's pretreatment (crop, height-normalise, centre to 64x64) followed by its
``BaseSilCuttingTransform`` (cut the sides to 64x44, scale to [0, 1]; see :mod:`opengait_gaitbert.compat`).

Torch is imported inside :func:`preprocess` so that ``opengait-gaitbert --help`` stays fast.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..compat import cut_and_scale
from ..core.errors import DataError
from .trained_config import PathLike

#: Pixel size of OpenGait's pretreated frames (before the side cut).
PKL_SIZE = 64


def read_aligned(path: PathLike) -> np.ndarray:
    """Read a sequence and align it like OpenGait's pretreatment.

    Args:
        path: a folder of PNG/JPG frames, an animated GIF, or an OpenGait ``.pkl``.
    Returns:
        uint8 ``[T, 64, 64]``. A ``.pkl`` of 64x64 frames is OpenGait's own
        pretreated output and is used as it is; everything else is aligned.
    Raises:
        SequenceReadError: unreadable input.
        DataError: no frame holds a silhouette.
    """
    from ..data.alignment import align_sequence
    from ..data.readers import read_sequence

    path = Path(path)
    frames = read_sequence(path)  # [T, H, W] uint8
    pretreated = path.suffix.lower() == ".pkl" and frames.shape[1:] == (PKL_SIZE, PKL_SIZE)
    aligned = frames if pretreated else align_sequence(frames, PKL_SIZE)
    if len(aligned) == 0:
        raise DataError(f"{path}: none of its {len(frames)} frames holds a silhouette (all empty "
                        "after thresholding at 127). Check that the body is white on black.")
    return aligned


def preprocess(frames: Union[np.ndarray, PathLike], divsor: float = 255.0,
               cutting: Optional[int] = None, aligned: bool = False):
    """Silhouettes -> the network's input, as OpenGait's test pipeline makes it.

    Args:
        frames: uint8 ``[T, H, W]`` raw silhouettes, or a path (see :func:`read_aligned`).
        divsor, cutting: ``BaseSilCuttingTransform``'s options (OpenGait's spelling);
            ``cutting=None`` cuts ``int(W // 64) * 10`` columns from each side.
        aligned: ``frames`` are already OpenGait-aligned 64x64 (skip the alignment).
    Returns:
        float32 tensor ``[T', 64, 44]`` in [0, 1] (empty frames dropped).
    Raises:
        DataError: no frame holds a silhouette.
    """
    import torch

    if isinstance(frames, (str, Path)):
        seq = read_aligned(frames)
    else:
        seq = np.asarray(frames)
        if seq.ndim != 3:
            raise DataError(f"preprocess expects silhouettes [T, H, W]; got shape {seq.shape}.")
        if not aligned:
            from ..data.alignment import align_sequence
            seq = align_sequence(seq, PKL_SIZE)
        if len(seq) == 0:
            raise DataError("preprocess: no frame holds a silhouette (all empty after "
                            "thresholding at 127).")
    return torch.from_numpy(cut_and_scale(seq, divsor, cutting))
