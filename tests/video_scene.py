"""Synthetic static-camera videos for the video tests: synth's walkers over a textured background.

Each walker is rendered by ``opengait_gaitbert.data.synth`` (its identity, clothing
and per-sequence nuisance, side view, walking in place on a 128 x 128 canvas) and
slid across a static, textured background at a constant speed; its full-frame mask
(the rendered silhouette where it stands, before anyone occludes it) is the ground
truth. Every frame gets fresh sensor noise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np

from opengait_gaitbert.data.synth import (render_sequence, sample_condition, sample_identity,
                                          sample_nuisance)

CANVAS = 128  # synth's render canvas


@dataclass(frozen=True)
class Walker:
    """One synthetic walker: synth id/type, where the canvas's top-left corner starts, its speed
    (pixels per frame, negative: walking left) and the frames it is drawn in."""

    id_num: int
    x: float
    y: int
    speed: float
    seq_type: str = "nm-01"
    first: int = 0
    last: Optional[int] = None  # inclusive; None: to the end
    colour: tuple = (60, 40, 150)  # BGR of its clothes


@dataclass
class Scene:
    """``frames [T, H, W, 3]`` uint8 BGR; ``masks[k] [T, H, W]`` bool: walker ``k``'s rendered
    silhouette (all False where it is not drawn)."""

    frames: np.ndarray
    masks: List[np.ndarray]
    walkers: List[Walker]
    _boxes: Dict = field(default_factory=dict, repr=False)

    def box(self, walker: int, frame: int) -> Optional[np.ndarray]:
        """Ground-truth ``[x0, y0, x1, y1]`` (ends exclusive) of the walker's body, without the
        single-pixel specks synth scatters beside it; None where it is not drawn."""
        if (walker, frame) not in self._boxes:
            self._boxes[walker, frame] = self._find_box(walker, frame)
        return self._boxes[walker, frame]

    def _find_box(self, walker: int, frame: int) -> Optional[np.ndarray]:
        mask = self.masks[walker][frame]
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if not rows.size:
            return None
        top, left = rows[0], cols[0]
        crop = mask[top:rows[-1] + 1, left:cols[-1] + 1].astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
        parts = np.array([stats[i] for i in range(1, count) if stats[i][4] >= 20])
        if not len(parts):
            return None
        return np.array([left + parts[:, 0].min(), top + parts[:, 1].min(),
                         left + (parts[:, 0] + parts[:, 2]).max(), top + (parts[:, 1] + parts[:, 3]).max()])

    def write_frames(self, folder: Path) -> Path:
        """The frames as lossless image files, ``frame0000.bmp``... (BMP: no codec, so it is ten
        times faster to write and read than PNG)."""
        folder.mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(self.frames):
            cv2.imwrite(str(folder / f"frame{t:04d}.bmp"), frame)
        return folder

    def write_video(self, path: Path, fps: float = 25.0) -> Path:
        """The frames as an MJPG .avi (lossy, like a camera's)."""
        height, width = self.frames.shape[1:3]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
        for frame in self.frames:
            writer.write(frame)
        writer.release()
        return path


def background(width: int, height: int, seed: int) -> np.ndarray:
    """A static textured scene ``[H, W, 3]``: smooth colour blotches, fine grain, a few boxes."""
    rng = np.random.default_rng(seed)
    scene = np.zeros((height, width, 3), np.float32)
    for cells, amplitude in ((4, 40.0), (16, 18.0), (64, 8.0)):
        noise = rng.standard_normal((cells * height // width + 1, cells, 3)).astype(np.float32)
        scene += amplitude * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    scene += np.array([120, 140, 125], np.float32)
    for _ in range(6):  # a few sharp-edged objects (signs, windows)
        x, y = rng.integers(0, width - 20), rng.integers(0, height - 20)
        cv2.rectangle(scene, (int(x), int(y)), (int(x + rng.integers(8, 40)), int(y + rng.integers(8, 40))),
                      tuple(float(v) for v in rng.uniform(40, 220, 3)), -1)
    return np.clip(scene, 0, 255)


def render_scene(walkers: List[Walker], frames: int, size=(320, 240), seed: int = 0,
                 noise: float = 3.0, pan: float = 0.0, synth_seed: int = 0) -> Scene:
    """Composite ``walkers`` over :func:`background` (later walkers in front of earlier ones).

    ``seed``: background, clothes texture and sensor noise; ``synth_seed``: synth's dataset seed
    (the walkers' identities); ``pan``: pixels per frame the whole picture slides (a moving
    camera); 0: static.
    """
    width, height = size
    rng = np.random.default_rng(seed + 1)
    scene_bg = background(width + int(abs(pan) * frames) + 1, height, seed)
    masks, clothes = [], []
    for walker in walkers:
        ident = sample_identity(synth_seed, walker.id_num)
        cond = sample_condition(synth_seed, walker.id_num, walker.seq_type)
        nuis, sil_rng = sample_nuisance(synth_seed, walker.id_num, walker.seq_type, 90)
        sils = render_sequence(ident, cond, nuis, 90, frames, sil_rng) > 0  # [T, 128, 128]
        if walker.speed < 0:  # synth's side view walks right; mirror it to walk left
            sils = sils[:, :, ::-1]
        full = np.zeros((frames, height, width), bool)
        last = frames - 1 if walker.last is None else walker.last
        for t in range(walker.first, last + 1):
            _paste(full[t], sils[t], int(round(walker.x + walker.speed * (t - walker.first))), walker.y)
        masks.append(full)
        texture = rng.normal(0, 12, (height, width, 3)).astype(np.float32)
        clothes.append(np.clip(np.array(walker.colour, np.float32) + texture, 0, 255))

    video = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        offset = int(round(abs(pan) * t))
        frame = scene_bg[:, offset:offset + width].copy()
        for mask, cloth in zip(masks, clothes):
            frame[mask[t]] = cloth[mask[t]]
        frame += noise * rng.standard_normal(frame.shape, dtype=np.float32)
        video[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return Scene(video, masks, list(walkers))


def _paste(target: np.ndarray, sil: np.ndarray, x: int, y: int) -> None:
    """OR the canvas ``sil [128, 128]`` into ``target [H, W]`` with its top-left at (x, y), clipped."""
    height, width = target.shape
    tx0, ty0 = max(x, 0), max(y, 0)
    tx1, ty1 = min(x + CANVAS, width), min(y + CANVAS, height)
    if tx0 < tx1 and ty0 < ty1:
        target[ty0:ty1, tx0:tx1] |= sil[ty0 - y:ty1 - y, tx0 - x:tx1 - x]


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two ``[x0, y0, x1, y1]`` boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def match_tracks(scene: Scene, tracks: Dict[str, list]) -> Dict[int, str]:
    """Walker index -> the name of the track whose boxes overlap its ground truth (IoU >= 0.5) on
    most frames. ``tracks``: name -> ``[(frame, box [4]), ...]``."""
    out = {}
    for k in range(len(scene.walkers)):
        votes = {name: sum(1 for frame, box in boxes
                           if (truth := scene.box(k, frame)) is not None and box_iou(truth, box) >= 0.5)
                 for name, boxes in tracks.items()}
        best = max(votes, key=votes.get, default=None)
        if best is not None and votes[best]:
            out[k] = best
    return out


def track_boxes(result) -> Dict[str, list]:
    """name -> ``[(frame, box), ...]`` of a :class:`VideoResult`'s tracks (for :func:`match_tracks`)."""
    return {t.name: [(f, b) for f, b, _ in t.history] for t in result.tracks}


# The scenes of the tests: three synth walkers, two of whom cross. Each walker keeps its
# walking direction in both videos: a person walking the other way is seen mirrored.
SIZE = (520, 300)
IDS = (1, 2, 3)
COLOURS = ((50, 50, 160), (150, 60, 40), (40, 120, 40))


def gallery_walkers(seq_type: str = "nm-01") -> List[Walker]:
    """Top: IDS[0] walking right; middle: IDS[1] walking right, crossing IDS[2] walking left below it."""
    return [Walker(IDS[0], x=10, y=0, speed=2.5, seq_type=seq_type, colour=COLOURS[0]),
            Walker(IDS[1], x=10, y=150, speed=2.5, seq_type=seq_type, colour=COLOURS[1]),
            Walker(IDS[2], x=380, y=165, speed=-2.5, seq_type=seq_type, colour=COLOURS[2])]


def probe_walkers(seq_type: str = "nm-02") -> List[Walker]:
    """Other recordings of the same people: other order, places, speeds, clothes colours and
    start phases; IDS[2] (walking left) now crosses IDS[0]."""
    return [Walker(IDS[1], x=40, y=0, speed=2.0, seq_type=seq_type, colour=COLOURS[2]),
            Walker(IDS[2], x=380, y=150, speed=-2.5, seq_type=seq_type, colour=COLOURS[0]),
            Walker(IDS[0], x=10, y=165, speed=3.0, seq_type=seq_type, colour=COLOURS[1])]
