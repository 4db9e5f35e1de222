"""Read silhouette frames and sequences as uint8 arrays: a folder of image frames, a single image,
an animated GIF or an OpenGait ``.pkl``.

Frames inside a folder are taken in natural order (``frame2`` before
``frame10``).  Pickles are read with :func:`.safe_pickle.load_pickle`, which
rebuilds arrays from their description and refuses anything else: a ``.pkl``
cannot run code.  Only regular files are read (a FIFO or device is refused from
its ``stat``), and an image or GIF that declares more than
:data:`~.image_limits.MAX_FRAME_PIXELS` per frame (a decompression bomb) is refused from its
header, before anything is decoded (:mod:`.image_limits`).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from ..core.errors import SequenceReadError
from .alignment import to_uint8
from .image_limits import MAX_SEQUENCE_PIXELS, check_frame_pixels, image_header
from .safe_pickle import load_pickle, regular_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: frame2 < frame10."""
    parts = re.split(r"(\d+)", name)
    # re.split with a group keeps digits at odd positions, so the tuple
    # alternates str/int at fixed positions and always compares cleanly.
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))


def list_frame_files(folder: Path) -> list[Path]:
    """Image files (png/jpg/jpeg/bmp) directly in `folder`, in natural order."""
    files = [p for p in Path(folder).iterdir()
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_frame(path: str | Path) -> np.ndarray:
    """Read one image file as [H, W] uint8 grey.

    Raises:
        SequenceReadError: the file is missing or not a decodable image, or declares more than
            :data:`MAX_FRAME_PIXELS` pixels.
    """
    path = Path(path)
    try:
        # imdecode(fromfile) instead of imread: works with non-ASCII paths.
        data = np.fromfile(str(path), dtype=np.uint8)
        image_header(data, path)
        img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    except (OSError, cv2.error) as exc:
        raise SequenceReadError(f"{path}: cannot read image ({exc})") from exc
    if img is None or img.size == 0:
        raise SequenceReadError(f"{path}: not a decodable image (corrupt or empty file)")
    return img


def read_sequence(path: str | Path,
                  bad_frames: list[tuple[str, str]] | None = None) -> np.ndarray:
    """Read a silhouette sequence as [T, H, W] uint8.

    Args:
        path: a folder of PNG/JPG/BMP frames (natural order), an animated GIF
            (all frames, via Pillow), an OpenGait ``.pkl`` ([T, H, W] array)
            or a single image (T = 1).
        bad_frames: for a folder, a list that receives ``(path, reason)`` for
            each unreadable frame, which is then skipped. When None, any
            unreadable frame raises.

    Raises:
        SequenceReadError: missing path, unsupported suffix, no readable
            frame, frames of different sizes, or a malformed pickle.
    """
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, bad_frames)
    if not os.path.lexists(path):
        raise SequenceReadError(f"{path}: no such file or folder")
    regular_file(path)  # a FIFO or device is refused unopened: reading one blocks
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return _read_gif(path)
    if suffix == ".pkl":
        return _read_pkl(path)
    if suffix in IMAGE_SUFFIXES:
        return read_frame(path)[None]
    raise SequenceReadError(
        f"{path}: unsupported file type {suffix!r}; expected a folder of "
        f"{'/'.join(IMAGE_SUFFIXES)} frames, a .gif or an OpenGait .pkl"
    )


def _read_folder(folder: Path, bad_frames: list[tuple[str, str]] | None) -> np.ndarray:
    """Folder of frames -> [T, H, W]; see read_sequence."""
    files = list_frame_files(folder)
    if not files:
        raise SequenceReadError(f"{folder}: no {'/'.join(IMAGE_SUFFIXES)} frames in this folder")
    frames: list[np.ndarray] = []
    for file in files:
        try:
            img = read_frame(file)
            if frames and img.shape != frames[0].shape:
                raise SequenceReadError(
                    f"{file}: size {img.shape[0]}x{img.shape[1]} differs from the first "
                    f"frame's {frames[0].shape[0]}x{frames[0].shape[1]}")
        except SequenceReadError as exc:
            if bad_frames is None:
                raise
            bad_frames.append((str(file), _reason(exc, file)))
            continue
        frames.append(img)
    if not frames:
        raise SequenceReadError(f"{folder}: none of its {len(files)} frames could be read")
    return np.stack(frames)


def _read_gif(path: Path) -> np.ndarray:
    """Animated GIF -> [T, H, W] uint8 grey (Pillow, since OpenCV reads no GIF)."""
    try:
        from PIL import Image, ImageSequence
    except ImportError as exc:
        raise SequenceReadError(f"{path}: reading GIFs needs Pillow (pip install pillow)") from exc
    gif = image_header(path, path)
    if gif is None:
        raise SequenceReadError(f"{path}: not a readable GIF (Pillow cannot identify it)")
    frames = []
    try:
        with gif:
            for frame in ImageSequence.Iterator(gif):
                check_frame_pixels(path, *frame.size, what="GIF frame")  # a frame may outgrow the screen
                if (len(frames) + 1) * gif.size[0] * gif.size[1] > MAX_SEQUENCE_PIXELS:
                    raise SequenceReadError(
                        f"{path}: more than {len(frames)} frames of {gif.size[0]}x{gif.size[1]}, over the limit of "
                        f"{MAX_SEQUENCE_PIXELS} pixels for one sequence; refused. Cut it into shorter clips.")
                frames.append(np.array(frame.convert("L"), dtype=np.uint8))
    except Image.DecompressionBombError as exc:  # a frame declaring more than Pillow's own limit
        raise SequenceReadError(f"{path}: {exc}; refused before decoding.") from exc
    except (OSError, EOFError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
        raise SequenceReadError(f"{path}: not a readable GIF ({exc})") from exc
    if not frames:
        raise SequenceReadError(f"{path}: the GIF has no frames")
    return np.stack(frames)


def _read_pkl(path: Path) -> np.ndarray:
    """OpenGait pickle -> validated [T, H, W] uint8."""
    data = load_pickle(path)
    if not isinstance(data, np.ndarray):
        raise SequenceReadError(
            f"{path}: holds a {type(data).__name__}, expected a numpy array [T, H, W]")
    if data.ndim != 3 or 0 in data.shape:
        raise SequenceReadError(f"{path}: array shape {data.shape}, expected non-empty [T, H, W]")
    if data.dtype == np.uint8:
        return data
    numeric = data.dtype == bool or np.issubdtype(data.dtype, np.number)
    if not numeric or np.issubdtype(data.dtype, np.complexfloating):
        raise SequenceReadError(f"{path}: dtype {data.dtype} is not a silhouette dtype (uint8)")
    if data.dtype != bool and not np.isfinite(data).all():
        raise SequenceReadError(f"{path}: holds NaN or infinite values ({data.dtype}): not a silhouette; "
                                "re-create it from the source frames with `opengait-gaitbert pretreat`")
    if data.dtype != bool and (data.min() < 0 or data.max() > 255):
        raise SequenceReadError(
            f"{path}: values in [{data.min()}, {data.max()}] do not fit uint8 (0..255)")
    return to_uint8(data)


def _reason(exc: Exception, path: Path) -> str:
    """The message of `exc` without its leading 'path: ' (the report has the path)."""
    msg = str(exc)
    prefix = f"{path}: "
    return msg[len(prefix):] if msg.startswith(prefix) else msg
