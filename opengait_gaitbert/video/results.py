"""What :func:`~.pipeline.process_video` found: tracks, events, warnings, and their summaries.

:class:`VideoResult` holds the confirmed tracks (:class:`TrackResult`, each with its
boxes per frame and its aligned silhouettes), the merge/split events, the frames
where the camera seemed to move, and the time each stage took. It renders itself
as the JSON summary (:meth:`VideoResult.summary`) and as the printed report
(:meth:`VideoResult.report`); :func:`require_people` turns "nothing usable" into a
message that says why and what to change.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from ..core.errors import DataError
from .tracker import COASTING, MERGED

#: Merge/split events :meth:`VideoResult.report` lists (the JSON has them all).
REPORT_EVENTS = 10
#: Share of frames with most of the picture changing above which the camera is said to move.
MOVING_WARN_SHARE = 0.2


@dataclass
class TrackResult:
    """One confirmed track.

    Attributes:
        name: ``<video stem>_<id:03d>``, the id of its OpenGait folder.
        history: ``(frame, box [4] in processed pixels, state)`` (see :class:`~.tracker.Track`).
        silhouettes: uint8 ``[T, 64, 64]``, aligned like ``pretreat``; ``frames``: their frame indices.
        status: ``kept``, ``too short`` (fewer than ``min_frames`` silhouettes) or ``static``
            (moved less than ``min_motion`` box heights: not a walker).
    """

    id: int
    name: str
    history: List
    silhouettes: np.ndarray
    frames: List[int]
    status: str = "kept"

    def states(self, state: str) -> int:
        return sum(1 for _, _, s in self.history if s == state)


@dataclass
class VideoResult:
    """What :func:`process_video` found; ``tracks`` are the confirmed ones, by id."""

    source: Path
    fps: float
    size: tuple                   # (width, height) of the video
    scale: float                  # processed size / video size
    frames: int = 0
    tracks: List[TrackResult] = field(default_factory=list)
    events: List[Dict] = field(default_factory=list)
    moving_frames: List[int] = field(default_factory=list)
    unreadable: List = field(default_factory=list)
    background: Optional[np.ndarray] = None  # [h, w, 3] processed size: the primed background
    timings: Dict[str, float] = field(default_factory=dict)
    settings: Any = None          # the pipeline.VideoSettings it ran with

    @property
    def kept(self) -> List[TrackResult]:
        return [t for t in self.tracks if t.status == "kept"]

    def count(self, status: str) -> int:
        return sum(1 for t in self.tracks if t.status == status)

    @property
    def warnings(self) -> List[str]:
        """Sentences on what makes this result doubtful (empty when nothing does)."""
        out = []
        if self.frames and len(self.moving_frames) >= MOVING_WARN_SHARE * self.frames:
            out.append(f"{self.source}: most of the picture changed in {len(self.moving_frames)} of "
                       f"{self.frames} frames (first at frame {self.moving_frames[0]}): the camera seems "
                       "to move, or the light changed. Background subtraction needs a static camera; "
                       "those frames gave no detections and the tracks around them are unreliable.")
        if self.unreadable:
            out.append(f"{self.source}: {len(self.unreadable)} frame images could not be decoded and "
                       f"were skipped (e.g. {self.unreadable[0][0]}).")
        return out

    def summary(self) -> Dict:
        """The JSON summary (boxes in the video's own pixels)."""
        def track_doc(t: TrackResult) -> Dict:
            boxes = [[f, *np.round(b / self.scale, 1).tolist(), s] for f, b, s in t.history]
            return {"id": t.id, "name": t.name, "status": t.status, "first_frame": t.history[0][0],
                    "last_frame": t.history[-1][0], "frames_tracked": len(t.history),
                    "frames_merged": t.states(MERGED), "frames_coasting": t.states(COASTING),
                    "silhouettes": len(t.silhouettes), "silhouette_frames": t.frames,
                    "boxes": boxes}
        elapsed = sum(self.timings.values())
        return {
            "source": str(self.source), "frames": self.frames, "fps": self.fps,
            "size": list(self.size), "scale": self.scale, "settings": asdict(self.settings),
            "counts": {"tracks": len(self.tracks), "kept": self.count("kept"),
                       "too_short": self.count("too short"), "static": self.count("static"),
                       "merges": sum(e["kind"] == "merge" for e in self.events),
                       "splits": sum(e["kind"] == "split" for e in self.events),
                       "moving_camera_frames": len(self.moving_frames)},
            "events": self.events, "warnings": self.warnings, "tracks": [track_doc(t) for t in self.tracks],
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "frames_per_second": round(self.frames / elapsed, 2) if elapsed else None,
        }

    def report(self) -> str:
        """A readable summary: counts, the kept tracks, events and warnings."""
        s = self.settings
        lines = [f"{self.source}: {self.frames} frames, {self.size[0]}x{self.size[1]}, {self.fps:g} fps",
                 f"  tracks: {len(self.tracks)} found, {self.count('kept')} kept, "
                 f"{self.count('too short')} skipped as too short (< {s.min_frames} silhouettes), "
                 f"{self.count('static')} skipped as static (moved < {s.min_motion:g} box heights)"]
        for t in self.kept:
            lines.append(f"  #{t.id:<3} {t.name}: frames {t.history[0][0]}-{t.history[-1][0]}, "
                         f"{len(t.silhouettes)} silhouettes, {t.states(MERGED)} merged, "
                         f"{t.states(COASTING)} coasting")
        merges = sum(e["kind"] == "merge" for e in self.events)
        lines.append(f"  people crossing: {merges} merges into one blob, "
                     f"{len(self.events) - merges} splits")
        for e in self.events[:REPORT_EVENTS]:
            ids = " and ".join(f"#{i}" for i in e["tracks"])
            what = "merged (one blob)" if e["kind"] == "merge" else "split apart"
            lines.append(f"    frame {e['frame']}: {ids} {what}")
        if len(self.events) > REPORT_EVENTS:
            lines.append(f"    ... {len(self.events) - REPORT_EVENTS} more in tracks.json")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def require_people(result: VideoResult, tuning_hint: str = "") -> List[TrackResult]:
    """The kept tracks, or a DataError saying why there are none and what to change.

    ``tuning_hint``: a sentence added to the message, for callers without the ``video`` options.
    """
    if result.kept:
        return result.kept
    s = result.settings
    moving = (f" Most of the picture changed in {len(result.moving_frames)} of {result.frames} frames: "
              "the camera seems to move, and background subtraction needs a static camera."
              if result.moving_frames else "")
    if not result.tracks:
        raise DataError(f"{result.source}: no person found in {result.frames} frames.{moving} "
                        f"Check that people walk through a static scene; for small people lower "
                        f"--min-area (now {s.foreground.min_area or 'auto'}) or --threshold."
                        + tuning_hint)
    raise DataError(f"{result.source}: no usable track: {result.count('too short')} of "
                    f"{len(result.tracks)} tracks are too short (< {s.min_frames} silhouettes) and "
                    f"{result.count('static')} static.{moving} Lower --min-frames, or --min-motion for "
                    "people who walk in place." + tuning_hint)
