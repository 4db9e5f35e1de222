"""Refuse decompression bombs: an image or GIF that declares more than :data:`MAX_FRAME_PIXELS`
per frame is refused from its header, before anything is decoded.

Frames of an animated GIF together may decode to at most :data:`MAX_SEQUENCE_PIXELS`.
"""
from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

from ..core.errors import SequenceReadError

#: The most pixels one frame (an image, a GIF, a video frame) may declare: 2**25, e.g. 8192x4096.
#: More is a decompression bomb, or far beyond a silhouette (a few hundred pixels high).
MAX_FRAME_PIXELS = 1 << 25
#: The most pixels one sequence (an animated GIF's frames together) may decode to: 1 GiB of grey.
MAX_SEQUENCE_PIXELS = 1 << 30


def check_frame_pixels(path, width: int, height: int, what: str = "frame") -> None:
    """Refuse a ``width`` x ``height`` frame over :data:`MAX_FRAME_PIXELS`, before it is decoded.

    Raises:
        SequenceReadError: naming ``path``, the size and the limit.
    """
    if width * height > MAX_FRAME_PIXELS:
        raise SequenceReadError(
            f"{path}: declares {width}x{height} pixels per {what} ({width * height}), over the limit of "
            f"{MAX_FRAME_PIXELS} (e.g. 8192x4096): a decompression bomb, or an image far larger than a "
            "silhouette frame; refused before decoding. Downscale it (silhouettes are a few hundred pixels high).")


def declared_size(head: bytes):
    """``(width, height, what)`` a PNG, GIF or BMP header declares (the first 26 bytes), else None."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        return (*struct.unpack(">II", head[16:24]), "image")
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return (*struct.unpack("<HH", head[6:10]), "GIF frame")
    if head[:2] == b"BM" and len(head) >= 26:
        return (*(abs(n) for n in struct.unpack("<ii", head[18:26])), "image")
    return None


def image_header(data, path):
    """Pillow's lazily opened image of the encoded ``data`` (bytes, or a file path), its frame size
    checked (:func:`check_frame_pixels`) before anything is decoded; None if Pillow cannot identify it.

    Raises:
        SequenceReadError: the header declares too many pixels.
    """
    from PIL import Image
    if isinstance(data, (str, Path)):
        with open(data, "rb") as stream:
            head = stream.read(26)
    else:
        head = bytes(data[:26])
    declared = declared_size(head)
    if declared is not None:
        check_frame_pixels(path, *declared)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is lower
            image = Image.open(data if isinstance(data, (str, Path)) else io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise SequenceReadError(f"{path}: {exc}; refused before decoding.") from exc
    except (OSError, ValueError, EOFError):  # not an image Pillow knows: the decoder will say
        return None
    check_frame_pixels(path, *image.size, what="GIF frame" if image.format == "GIF" else "image")
    return image
