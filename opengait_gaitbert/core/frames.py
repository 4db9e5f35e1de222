"""The first batch's frames against the config: one silhouette input of ``model_cfg.frame_size``'s height.

OpenGait collates whatever ``data_cfg.data_in_use`` selects of each sequence folder
and whatever size the pkl frames have; a mismatch would otherwise surface as a shape
error deep in a convolution, or as RGB read as silhouettes. This check runs on the
raw batch, before any transform, so that its message can name the key and the fix.

Why the height: OpenGait's silhouette transforms (``BaseSilCuttingTransform``,
``BaseSilTransform``, the random flips, rotations, erasing and perspective) never
change a frame's height, only the width (cutting). So frames of another height than
``frame_size[0]`` cannot fit, whatever the transform; a width that does not fit is
caught by the network's own check after the transform.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import ConfigError

SILHOUETTE_BATCH_DIMS = 4  # [n, s, H, W] (fixed clips) or [1, sum(seqL), H, W] (packed sequences)


def check_input_frames(features: Sequence, frame_size: Sequence[int], source: str) -> None:
    """Raise ConfigError unless the batch is one silhouette input whose frames fit ``frame_size``.

    Args:
        features: OpenGait's collated ``inputs[0]``: one array per file that
            ``data_cfg.data_in_use`` selects, each ``[n, s, H, W]`` or ``[1, sum(seqL), H, W]``.
        frame_size: ``model_cfg.frame_size`` ``[h, w]``, what the model receives after the transform.
        source: the config file, for the message.
    Raises:
        ConfigError: naming ``data_cfg.data_in_use`` (several inputs, or not silhouettes) or
            ``model_cfg.frame_size`` (frames of another height), with the fix.
    """
    if len(features) != 1:
        raise ConfigError(
            f"{source}: GaitBERT reads one input per sequence (silhouettes), but data_cfg.data_in_use "
            f"selects {len(features)} files of each sequence folder. Select only the silhouette file, "
            "e.g. for SUSTech1K position 6 (06-<view>-Camera-Sils_aligned.pkl): data_in_use: [false x 6, "
            "true, false x 9].")
    feature = features[0]
    shape = None if _is_ragged(feature) else np.shape(feature)
    if shape is None or len(shape) != SILHOUETTE_BATCH_DIMS or not _integer(feature):
        held = ("items of varying shape (e.g. point clouds)" if shape is None else
                f"a batch of shape {shape}, not [n, s, H, W]" if len(shape) != SILHOUETTE_BATCH_DIMS else
                f"{np.asarray(feature).dtype} values, not uint8 silhouettes")
        raise ConfigError(
            f"{source}: GaitBERT reads silhouettes, uint8 [H, W] frames as OpenGait's pretreatment writes "
            f"them, but the selected file holds {held}: data_cfg.data_in_use (or the files of each "
            "sequence folder) selects another modality. Select the silhouette file, e.g. for SUSTech1K "
            "position 6 (06-<view>-Camera-Sils_aligned.pkl).")
    height, width = shape[-2:]
    if height != frame_size[0]:
        raise ConfigError(
            f"{source}: model_cfg.frame_size = {list(frame_size)} but the data's frames are {height}x{width} "
            f"(the pkl files under data_cfg.dataset_root); OpenGait's transforms keep the height, so the "
            f"model would receive {height}-pixel frames. Set model_cfg.frame_size: {_scaled(frame_size, height)}, "
            f"or pretreat the data at {frame_size[0]}x{frame_size[0]} (OpenGait's datasets/pretreatment.py "
            f"--img_size {frame_size[0]}).")


def _is_ragged(feature) -> bool:
    """A batch of variable-size items (e.g. point clouds) that numpy cannot give one shape."""
    return isinstance(feature, np.ndarray) and feature.dtype == object


def _integer(feature) -> bool:
    return np.issubdtype(np.asarray(feature).dtype, np.integer)


def _scaled(frame_size: Sequence[int], height: int) -> str:
    """``frame_size`` at ``height``: the same cut at the new scale, e.g. [64, 44] -> [128, 88]."""
    width = frame_size[1] * height / frame_size[0]
    if width == int(width):
        return f"[{height}, {int(width)}]"
    return f"[{height}, <the width after the transform>]"
