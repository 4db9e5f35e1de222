"""A static camera's video -> tracked people -> aligned silhouettes per track.

:func:`process_video` runs, per frame: background subtraction
(:mod:`.foreground`), tracking (:mod:`.tracker`) and, for each detection that is
a track's own observation, the alignment of OpenGait's pretreatment
(:func:`~opengait_gaitbert.data.alignment.align_silhouette`). That function gets
the person's pixels on a band of the full frame width, exactly as ``pretreat``
gets a full silhouette frame, so a track's ``[T, 64, 64]`` sequence is what
``pretreat`` makes of the same masks. Frames are left out of a track's
silhouettes when its box touches the frame edge (a body cut off), when it is
merged with another person, or when its blob reaches into another person's box
(just before or after a merge, when it may hold a piece of them).

:func:`write_outputs` writes OpenGait's pkl layout, one folder per track
(``OUT/silhouettes/<video>_<id>/nm-01/000/000.pkl``, as ``pretreat --layout frames``
names a single recording), ``OUT/tracks.json`` and ``OUT/overview.png``.

Assumptions: a static camera; people walking, upright, mostly apart, at least
``min_area`` pixels big. Where they fail, the result says so (see
:meth:`VideoResult.warnings` and :func:`require_people`).
"""
from __future__ import annotations

import json
import pickle
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np

from ..core.errors import ConfigError
from ..data.alignment import align_silhouette
from ..data.pretreat import FRAMES_TYPE, FRAMES_VIEW
from ..progress import progress as show_progress
from .foreground import ForegroundExtractor, ForegroundSettings, median_background
from .frames import FrameSource
from .results import TrackResult, VideoResult
from .tracker import (COASTING, MERGED, IoUTracker, TrackerSettings, box_area, colour_histogram,
                      intersection)

#: Side of OpenGait's pretreated frames.
SIL_SIZE = 64
#: Images the starting background is the median of (spread over ``prime_frames``).
PRIME_SAMPLES = 25
#: Stages whose time a run records (seconds, in :attr:`VideoResult.timings`).
STAGES = ("decode", "prime", "foreground", "track", "align", "annotate")
#: Share of another person's box a blob may overlap and still give a clean silhouette.
CROWDED_SHARE = 0.1


@dataclass
class VideoSettings:
    """Everything :func:`process_video` can be told (the ``video`` command's options)."""

    foreground: ForegroundSettings = field(default_factory=ForegroundSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    min_frames: int = 15          # silhouettes a track needs to be written
    min_motion: float = 0.5       # distance (in its own box heights) a track must travel: else static
    moving_fraction: float = 0.5  # a frame with a larger changed fraction gives no detections
    prime_frames: int = 500       # the starting background is the median over these first frames
    max_width: int = 960          # wider frames are scaled down first (speed)
    border_px: int = 2            # a box this close to the frame edge is cut off: no silhouette
    fps: Optional[float] = None   # frame rate of a folder of frames (a video has its own)

    def check(self) -> None:
        """Raise ConfigError naming the option for impossible values."""
        self.foreground.check()
        positive = {"min_frames": self.min_frames, "max_width": self.max_width,
                    "min_hits": self.tracker.min_hits}
        for name, value in positive.items():
            if value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1; got {value}.")
        fractions = {"moving_fraction": self.moving_fraction, "iou_min": self.tracker.iou_min}
        for name, value in fractions.items():
            if not 0 < value <= 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be in (0, 1]; got {value}.")
        if self.tracker.max_gap < 0 or self.min_motion < 0 or self.prime_frames < 0:
            raise ConfigError("--max-gap, --min-motion and --prime-frames must be >= 0.")


def process_video(path, settings: Optional[VideoSettings] = None, progress: bool = True,
                  annotated: Optional[Path] = None) -> VideoResult:
    """Track the people of a static camera's video and align their silhouettes.

    Args:
        path: a video file or a folder of frames (see :class:`~.frames.FrameSource`).
        settings: options; None takes the defaults.
        progress: show progress over the frames on stderr (see :mod:`..progress`).
        annotated: also write the frames with boxes and ids here (``.mp4``, ``.avi`` or ``.gif``).
    Returns:
        The :class:`~.results.VideoResult`; it may hold no kept track (see
        :func:`~.results.require_people`).
    Raises:
        SequenceReadError, DataError: an unreadable, empty or inconsistent input.
        ConfigError: an impossible setting.
    """
    from .annotate import AnnotatedWriter

    settings = settings or VideoSettings()
    settings.check()
    source = FrameSource.open(path, settings.fps)
    scale = min(1.0, settings.max_width / source.size[0])
    size = (round(source.size[0] * scale), round(source.size[1] * scale))
    result = VideoResult(source.path, source.fps, source.size, scale, settings=settings,
                         timings=dict.fromkeys(STAGES, 0.0))
    frames = _FrameReader(source, size, result.timings)

    extractor = ForegroundExtractor(settings.foreground, size, source.fps)
    with _timer(result.timings, "prime"):  # its decoding included
        result.background = _prime(extractor, source, size, settings.prime_frames)

    step = _FrameStep(extractor, IoUTracker(settings.tracker), settings, size, result)
    writer = AnnotatedWriter(annotated, source.fps, size) if annotated else None
    for index, frame in enumerate(show_progress(frames, f"Tracking {source.path.name}", "frame",
                                                total=source.frame_count or None, enabled=progress)):
        step(index, frame)
        if writer:
            with _timer(result.timings, "annotate"):
                moving = bool(result.moving_frames) and result.moving_frames[-1] == index
                writer.write(frame, step.tracker.live, index, moving)
        result.frames = index + 1
    if writer:
        with _timer(result.timings, "annotate"):
            writer.close()
    result.unreadable = list(source.unreadable)
    result.events = step.tracker.events
    result.tracks = [_track_result(t, step.silhouettes.get(t.key, []), source.path.stem, settings)
                     for t in step.tracker.finish()]
    return result


@contextmanager
def _timer(timings: Dict[str, float], stage: str):
    started = time.perf_counter()
    yield
    timings[stage] += time.perf_counter() - started


class _FrameReader:
    """The source's frames, scaled to ``size``; the time spent decoding them is counted."""

    def __init__(self, source: FrameSource, size, timings: Dict[str, float]):
        self.source, self.size, self.timings = source, size, timings

    def __iter__(self):
        frames = iter(self.source)
        while True:
            with _timer(self.timings, "decode"):
                frame = next(frames, None)
                if frame is not None:
                    frame = _scaled(frame, self.size)
            if frame is None:
                return
            yield frame


def _scaled(frame: np.ndarray, size) -> np.ndarray:
    """``frame`` at ``size`` (width, height); area interpolation when it shrinks."""
    if (frame.shape[1], frame.shape[0]) == tuple(size):
        return frame
    return cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA)


class _FrameStep:
    """One frame's work: foreground, tracking, and the silhouettes of the tracks' own detections."""

    def __init__(self, extractor, tracker, settings: VideoSettings, size, result: VideoResult):
        self.extractor, self.tracker, self.settings, self.size = extractor, tracker, settings, size
        self.result = result
        self.silhouettes: Dict[int, List] = {}  # track key -> [(frame, [64, 64] uint8)]

    def __call__(self, index: int, frame: np.ndarray) -> None:
        timings = self.result.timings
        with _timer(timings, "foreground"):
            found = self.extractor.apply(frame)
            if found.changed > self.settings.moving_fraction:
                self.result.moving_frames.append(index)
                found.detections = []  # not people: the whole picture moved
        with _timer(timings, "track"):
            boxes = np.array([d.box for d in found.detections]).reshape(-1, 4)
            colours = (np.stack([colour_histogram(frame, d.box, d.mask) for d in found.detections])
                       if found.detections else None)
            owners = self.tracker.update(index, boxes, colours)
        with _timer(timings, "align"):
            current = [(t, t.history[-1][1]) for t in self.tracker.live if t.history[-1][0] == index]
            for j, track in owners.items():
                detection = found.detections[j]
                if _crowded(detection.box, track, current):
                    continue
                sil = _align(detection, self.size, self.settings.border_px)
                if sil is not None:
                    self.silhouettes.setdefault(track.key, []).append((index, sil))


def _prime(extractor: ForegroundExtractor, source: FrameSource, size, count: int) -> np.ndarray:
    """Start the background model from the median of up to :data:`PRIME_SAMPLES` frames spread
    over the first ``count`` (0: the first frame alone). Returns that background ``[h, w, 3]``."""
    count = max(1, min(count, source.frame_count or count))
    samples = [_scaled(f, size) for f in source.sample(count, max(1, count // PRIME_SAMPLES))]
    background = median_background(samples)
    extractor.prime(background)
    return background


def _crowded(box: np.ndarray, owner, current) -> bool:
    """True when ``box`` reaches into another track's current box (by 10 % of that box): people
    about to merge or just apart, whose blob may hold a piece of the other person."""
    others = [b for t, b in current if t is not owner]
    if not others:
        return False
    overlap = intersection(np.asarray(others), box)[:, 0]
    return bool((overlap > CROWDED_SHARE * np.array([box_area(b) for b in others])).any())


def _align(detection, size, border_px: int) -> Optional[np.ndarray]:
    """The detection's pixels on a band of the full frame width, aligned as ``pretreat`` aligns a
    frame: ``[64, 64]`` uint8, or None when the box touches the frame edge or the blob is too small."""
    x0, y0, x1, y1 = detection.box
    width, height = size
    if x0 < border_px or y0 < border_px or x1 > width - border_px or y1 > height - border_px:
        return None
    band = np.zeros((y1 - y0, width), np.uint8)  # align_silhouette crops rows itself, not columns
    band[:, x0:x1] = detection.mask
    return align_silhouette(band, SIL_SIZE)


def _track_result(track, sils: List, stem: str, settings: VideoSettings) -> TrackResult:
    frames = [f for f, _ in sils]
    stack = (np.stack([s for _, s in sils]) if sils
             else np.zeros((0, SIL_SIZE, SIL_SIZE), np.uint8))
    result = TrackResult(track.id, f"{stem}_{track.id:03d}", track.history, stack, frames)
    seen = [b for _, b, s in track.history if s not in (COASTING, MERGED)]
    centres = np.array([[(b[0] + b[2]) / 2, (b[1] + b[3]) / 2] for b in seen])
    height = float(np.median([b[3] - b[1] for b in seen]))
    travelled = float(np.linalg.norm(centres.max(axis=0) - centres.min(axis=0)))
    # Too short first: a brief track had no time to move, so "static" would mislead.
    if len(frames) < settings.min_frames:
        result.status = "too short"
    elif travelled < settings.min_motion * height:
        result.status = "static"
    return result


def write_outputs(result: VideoResult, out_dir) -> Dict[str, Path]:
    """Write the kept tracks' pkl files, ``tracks.json`` and ``overview.png`` under ``out_dir``.

    Returns:
        ``{"silhouettes": folder, "json": file, "overview": file}``.
    """
    from .annotate import overview_picture

    out = Path(out_dir)
    root = out / "silhouettes"
    for track in result.kept:
        folder = root / track.name / FRAMES_TYPE / FRAMES_VIEW
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{FRAMES_VIEW}.pkl", "wb") as fh:
            pickle.dump(track.silhouettes, fh)
    out.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    for doc in summary["tracks"]:
        doc["pkl"] = (str(root / doc["name"] / FRAMES_TYPE / FRAMES_VIEW / f"{FRAMES_VIEW}.pkl")
                      if doc["status"] == "kept" else None)
    (out / "tracks.json").write_text(json.dumps(summary, indent=1) + "\n")
    overview = out / "overview.png"
    cv2.imwrite(str(overview), overview_picture(result))
    return {"silhouettes": root, "json": out / "tracks.json", "overview": overview}
