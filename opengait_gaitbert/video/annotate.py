"""Pictures of what the tracker saw: the annotated video or GIF, and an overview picture.

* :class:`AnnotatedWriter`: every frame with each confirmed track's box and id (a thin box
  with ``merged`` or ``?`` when the person is inside a group's blob or not detected); an
  ``.mp4``/``.avi`` through OpenCV, or a ``.gif`` (smaller, at most 10 fps) through Pillow;
* :func:`overview_picture`: the background with each kept track's path, and a row of its
  aligned silhouettes.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np

from ..core.errors import ConfigError, DataError
from .tracker import COASTING, MERGED, SEEN

#: BGR colours, one per track id in turn (matplotlib's tab10).
PALETTE = ((180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
           (75, 86, 140), (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23))
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG"}
GIF_MAX_FPS = 10.0
GIF_MAX_WIDTH = 480
FONT = cv2.FONT_HERSHEY_SIMPLEX


def colour(track_id: int):
    return PALETTE[(track_id - 1) % len(PALETTE)]


def draw_tracks(frame: np.ndarray, tracks: Sequence, index: int, moving: bool = False) -> np.ndarray:
    """A copy of ``frame [H, W, 3]`` with the boxes the confirmed ``tracks`` have at ``index``."""
    out = frame.copy()
    for track in tracks:
        last_frame, box, state = track.history[-1]
        if not track.confirmed or last_frame != index:
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        label = f"#{track.id}" + {SEEN: "", MERGED: " merged", COASTING: " ?"}[state]
        cv2.rectangle(out, (x0, y0), (x1, y1), colour(track.id), 2 if state == SEEN else 1)
        cv2.putText(out, label, (x0, max(y0 - 4, 10)), FONT, 0.45, colour(track.id), 1, cv2.LINE_AA)
    cv2.putText(out, f"frame {index}", (6, 16), FONT, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    if moving:
        cv2.putText(out, "most of the picture changed: camera moving?", (6, 36), FONT, 0.5,
                    (0, 0, 255), 1, cv2.LINE_AA)
    return out


class AnnotatedWriter:
    """Writes annotated frames to a video (``.mp4``, ``.m4v``, ``.mov``, ``.avi``) or a ``.gif``."""

    def __init__(self, path, fps: float, size):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix != ".gif" and suffix not in VIDEO_CODECS:
            raise ConfigError(f"--annotated {self.path}: unknown ending {suffix!r}; use .gif or one of "
                              f"{', '.join(VIDEO_CODECS)}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.gif_frames: List = []
        self.video = None
        if suffix == ".gif":
            self.every = max(1, math.ceil(fps / GIF_MAX_FPS - 1e-9))
            self.duration_ms = int(round(1000 * self.every / fps))
            self.gif_scale = min(1.0, GIF_MAX_WIDTH / size[0])
            return
        self.video = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*VIDEO_CODECS[suffix]),
                                     fps, tuple(size))
        if not self.video.isOpened():
            raise DataError(f"--annotated {self.path}: OpenCV cannot write this video here (folder not "
                            "writable, or no encoder for it in this build); try a .avi or .gif name.")

    def write(self, frame: np.ndarray, tracks: Sequence, index: int, moving: bool = False) -> None:
        if self.video is None and index % self.every:
            return
        drawn = draw_tracks(frame, tracks, index, moving)
        if self.video is not None:
            self.video.write(drawn)
            return
        from PIL import Image

        if self.gif_scale < 1:
            drawn = cv2.resize(drawn, None, fx=self.gif_scale, fy=self.gif_scale, interpolation=cv2.INTER_AREA)
        # Palette images: a quarter of the memory of RGB, and what a GIF stores anyway.
        self.gif_frames.append(Image.fromarray(drawn[:, :, ::-1]).quantize(colors=64, method=2))

    def close(self) -> None:
        if self.video is not None:
            self.video.release()
        elif self.gif_frames:
            first, *rest = self.gif_frames
            first.save(self.path, save_all=True, append_images=rest, duration=self.duration_ms, loop=0)
            self.gif_frames = []


def overview_picture(result, per_track: int = 10, width: int = 640,
                     tracks: Optional[Sequence] = None) -> np.ndarray:
    """BGR picture: the background with each track's path and box at its middle, above one row per
    track of ``per_track`` of its silhouettes (evenly spaced over the track).

    ``tracks``: the :class:`~.pipeline.TrackResult` to show (default: every kept one).
    """
    scene = result.background.copy()
    zoom = width / scene.shape[1]
    scene = cv2.resize(scene, (width, round(scene.shape[0] * zoom)), interpolation=cv2.INTER_AREA)
    rows = []
    for track in result.kept if tracks is None else tracks:
        seen = [b * zoom for _, b, s in track.history if s == SEEN]
        feet = np.array([[(b[0] + b[2]) / 2, b[3]] for b in seen], np.int32)
        cv2.polylines(scene, [feet], False, colour(track.id), 2, cv2.LINE_AA)
        x0, y0, x1, y1 = (int(round(v)) for v in seen[len(seen) // 2])
        cv2.rectangle(scene, (x0, y0), (x1, y1), colour(track.id), 2)
        cv2.putText(scene, f"#{track.id}", (x0, max(y0 - 4, 10)), FONT, 0.5, colour(track.id), 1, cv2.LINE_AA)
        rows.append(_silhouette_row(track, per_track))
    if not rows:
        cv2.putText(scene, "no kept track", (10, 40), FONT, 0.8, (0, 0, 255), 2, cv2.LINE_AA)
        return scene
    strip = np.vstack(rows)
    canvas_w = max(scene.shape[1], strip.shape[1])
    pad = lambda img: cv2.copyMakeBorder(img, 0, 4, 0, canvas_w - img.shape[1], cv2.BORDER_CONSTANT)  # noqa: E731
    return np.vstack([pad(scene), pad(strip)])


def _silhouette_row(track, per_track: int) -> np.ndarray:
    """``[66, 56 + 66 * per_track, 3]``: the track's id, then up to ``per_track`` silhouettes."""
    cell = 66
    row = np.zeros((cell, 56 + cell * per_track, 3), np.uint8)
    cv2.putText(row, f"#{track.id}", (4, 40), FONT, 0.6, colour(track.id), 2, cv2.LINE_AA)
    picks = np.linspace(0, len(track.silhouettes) - 1, min(per_track, len(track.silhouettes))).round().astype(int)
    for k, i in enumerate(picks):
        x = 56 + k * cell
        row[1:65, x:x + 64] = track.silhouettes[i][:, :, None]
    return row
