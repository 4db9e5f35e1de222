"""Align silhouette frames the way OpenGait's ``datasets/pretreatment.py`` does.

This module reproduces that per-frame alignment exactly (``align_silhouette``) so
that data converted by ``pretreat``, the synthetic data of ``synth`` and the
silhouettes of the video pipeline, which all call the same function, look like
OpenGait's own pretreated CASIA-B:

1. drop a frame whose pixel sum is <= 10000 (about 40 foreground pixels);
2. crop the rows to the body's top..bottom;
3. resize with ``cv2.INTER_CUBIC`` to height ``img_size``, keeping the aspect
   ratio (the width is ``int(img_size * W / h)`` of the full frame width W);
4. take as x-centre the first column where the cumulative column sum exceeds
   half the total (a median, robust to an outstretched arm or a bag);
5. keep ``img_size`` columns centred there, zero-padding both sides by
   ``img_size // 2`` when the window would leave the image.
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

#: OpenGait drops a frame whose pixel sum (0/255 scale) is at most this.
EMPTY_FRAME_SUM = 10000
#: Grey level above which a pixel is foreground.
DEFAULT_THRESHOLD = 127


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """Bring a bool / integer / float frame onto the 0..255 uint8 scale.

    Bool -> {0, 255}; float with max <= 1 is taken as 0..1 and scaled by 255;
    anything else is rounded and clipped to 0..255.
    """
    arr = np.asarray(frame)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        if arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.rint(arr)
    return np.clip(arr, 0, 255).astype(np.uint8)


def binarize(frame: np.ndarray, threshold: int | None = DEFAULT_THRESHOLD) -> np.ndarray:
    """[H, W] any dtype -> [H, W] uint8 in {0, 255} (pixels > threshold are 255).

    With ``threshold=None`` the grey levels are kept (OpenGait's exact input).
    Thresholding a frame that is already 0/255 changes nothing.
    """
    img = to_uint8(frame)
    if threshold is None:
        return img
    return np.where(img > threshold, np.uint8(255), np.uint8(0))


def align_silhouette(frame: np.ndarray, img_size: int = 64,
                     threshold: int | None = DEFAULT_THRESHOLD) -> np.ndarray | None:
    """Align one silhouette frame the way OpenGait's pretreatment does.

    Args:
        frame: [H, W] silhouette, uint8 / bool / float (0..1 or 0..255).
        img_size: output height and width (OpenGait: 64).
        threshold: grey level above which a pixel is body; None keeps grey
            levels unchanged (bit-exact with OpenGait on grey input).

    Returns:
        [img_size, img_size] uint8, body height-normalised to the full height
        and centred on its median column; None for an empty frame (pixel sum
        <= 10000 on the 0/255 scale) or one without a centre.
    """
    img = np.asarray(frame)
    if img.ndim != 2:
        raise ValueError(f"align_silhouette expects one [H, W] frame, got shape {img.shape}")
    img = binarize(img, threshold)
    if int(img.sum(dtype=np.int64)) <= EMPTY_FRAME_SUM:
        return None

    rows = np.flatnonzero(img.any(axis=1))
    img = img[rows[0]: rows[-1] + 1, :]

    # The body is taller than wide, so its height sets the resize ratio.
    width = int(img_size * img.shape[1] / img.shape[0])
    if width < 1:
        return None
    img = cv2.resize(img, (width, img_size), interpolation=cv2.INTER_CUBIC)

    x_center = _median_column(img)
    # OpenGait tests `if not x_center`, so column 0 also counts as no centre.
    if not x_center:
        return None

    half = img_size // 2
    left = x_center - half
    right = left + img_size
    if left <= 0 or right >= img.shape[1]:
        pad = np.zeros((img.shape[0], half), dtype=np.uint8)
        img = np.concatenate([pad, img, pad], axis=1)
        left += half
        right += half
    return np.ascontiguousarray(img[:, left:right], dtype=np.uint8)


def _median_column(img: np.ndarray) -> int | None:
    """First column where the cumulative column sum exceeds half the total."""
    csum = img.sum(axis=0, dtype=np.int64).cumsum()
    above = csum > csum[-1] / 2
    return int(above.argmax()) if above.any() else None


def align_sequence(frames: Iterable[np.ndarray], img_size: int = 64,
                   threshold: int | None = DEFAULT_THRESHOLD) -> np.ndarray:
    """[T, H, W] (or an iterable of [H, W]) -> [T', img_size, img_size] uint8.

    Empty frames and frames without a centre are dropped, so T' <= T; T' may
    be 0.
    """
    aligned = [a for a in (align_silhouette(f, img_size, threshold) for f in frames)
               if a is not None]
    if not aligned:
        return np.zeros((0, img_size, img_size), dtype=np.uint8)
    return np.stack(aligned)
