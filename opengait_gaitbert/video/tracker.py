"""Multi-person tracking by box overlap: IoU cost, Hungarian assignment, short gaps bridged.

Per frame, every live track predicts its box (a straight-line fit of its
recently seen positions). Detections are assigned to tracks by
``scipy.optimize.linear_sum_assignment`` on ``1 - IoU``, plus, when the caller
gives each detection's colour histogram, ``appearance_weight`` times its
Hellinger distance to the track's running histogram (so that two people parting
after a crossing keep their own tracks); pairs below ``iou_min`` are not matched. A track unmatched for up to ``max_gap`` frames
coasts on its prediction (an occlusion, a missed detection) and is picked up
again; after that it ends. A new track is tentative until it was matched in
``min_hits`` consecutive frames, so a flicker of noise never gets an id.

People crossing: background subtraction then sees one blob for two people. A
detection that covers the predicted boxes of two or more confirmed tracks is a
**merge**: it is assigned to none of them (its pixels are two people, not a
gait silhouette); the tracks coast inside it, and a ``merge`` event names them.
When they are matched apart again, a ``split`` event names them. A track whose
matched blob suddenly grows (someone not tracked yet joined it, e.g. from the
frame's edge) is treated the same way, with a ``merge`` event naming it alone. A
blob that splits off a track whose box it overlapped (two people who came in
together) starts a new track and a ``split`` event names both.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Deque, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

#: Box states in a track's history.
SEEN, MERGED, COASTING = "seen", "merged", "coasting"
#: Seen boxes a track's motion is fitted to.
MOTION_WINDOW = 10
#: A matched blob this much taller, or wider, than a track's recent boxes holds someone else too.
GROWN_HEIGHT, GROWN_WIDTH = 1.3, 1.8
#: Weight of a new detection in a track's running colour histogram.
APPEARANCE_RATE = 0.2


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a [n, 4]`` and ``b [m, 4]`` (``x0, y0, x1, y1``) -> ``[n, m]``."""
    inter = intersection(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas of boxes ``a [n, 4]`` and ``b [m, 4]`` -> ``[n, m]``."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def box_area(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], 0) * max(box[3] - box[1], 0))


def place_in_blob(boxes: np.ndarray, blob: np.ndarray) -> np.ndarray:
    """Predicted boxes ``[k, 4]`` of the people merged in ``blob [4]``, shifted (not resized) to fit it.

    On each axis the box predicted furthest out on one side is moved to touch the blob's edge
    on that side (the outer edges of a group are its outermost people's), then every box is
    moved inside the blob if it sticks out (centred where it is larger).
    """
    out = np.asarray(boxes, float).copy()
    for lo, hi in ((0, 2), (1, 3)):
        first, last = int(out[:, lo].argmin()), int(out[:, hi].argmax())
        if first != last:  # one box outermost on both sides: nothing tells where it stands
            out[first, [lo, hi]] += blob[lo] - out[first, lo]
            out[last, [lo, hi]] += blob[hi] - out[last, hi]
        size, room = out[:, hi] - out[:, lo], blob[hi] - blob[lo]
        start = np.where(size > room, blob[lo] + (room - size) / 2,
                         np.clip(out[:, lo], blob[lo], blob[hi] - size))
        out[:, lo], out[:, hi] = start, start + size
    return out


def colour_histogram(frame: np.ndarray, box, mask: np.ndarray, bins=(12, 6)) -> np.ndarray:
    """Hue-saturation histogram ``[bins[0] * bins[1]]`` (sums to 1) of the masked pixels of ``frame
    [H, W, 3]`` (BGR) inside ``box``; ``mask [y1 - y0, x1 - x0]`` uint8."""
    x0, y0, x1, y1 = (int(v) for v in box)
    hsv = cv2.cvtColor(frame[y0:y1, x0:x1], cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], mask, list(bins), [0, 180, 0, 256]).ravel()
    return hist / max(float(hist.sum()), 1.0)


def hellinger(hist: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Hellinger distance (0 same .. 1 disjoint) of one histogram ``[d]`` to each of ``others [n, d]``."""
    return np.sqrt(np.clip(1.0 - np.sqrt(others * hist[None]).sum(axis=1), 0.0, 1.0))


@dataclass
class Track:
    """One person over time.

    Attributes:
        key: creation order (internal); ``id``: public number, given on confirmation.
        box: the last box it was seen with, ``[x0, y0, x1, y1]`` float.
        history: ``(frame, box [4] float, state)`` per frame the track existed, state one of
            ``seen`` (matched to its own detection), ``merged`` (inside a blob of several
            people), ``coasting`` (not detected; the box is the prediction).
    """

    key: int
    box: np.ndarray
    first_frame: int
    id: Optional[int] = None
    last_seen: int = 0
    hits: int = 1
    missed: int = 0
    history: List[Tuple[int, np.ndarray, str]] = field(default_factory=list)
    recent: Deque = field(default_factory=lambda: deque(maxlen=MOTION_WINDOW))  # (frame, box) seen
    appearance: Optional[np.ndarray] = None  # running mean of its detections' colour histograms
    missed_own: int = 0      # frames in a row its matched blob was not its own (it grew)

    def __post_init__(self):
        self.box = np.asarray(self.box, float)
        self.last_seen = self.first_frame
        self.recent.append((self.first_frame, self.box))
        self.history.append((self.first_frame, self.box.copy(), SEEN))

    @property
    def confirmed(self) -> bool:
        return self.id is not None

    def predict(self, frame: int) -> np.ndarray:
        """The box expected at ``frame``: a straight-line fit of the recently seen box centres,
        with their median size. Box centres jitter with the arms and legs, so one step alone
        would be a poor velocity, and a box of the last frame a poor size."""
        frames = np.array([f for f, _ in self.recent], float)
        boxes = np.stack([b for _, b in self.recent])
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        if len(frames) > 1:
            t = frames - frames.mean()
            velocity = (t[:, None] * (centres - centres.mean(0))).sum(0) / (t ** 2).sum()
            centre = centres.mean(0) + velocity * (frame - frames.mean())
        else:
            centre = centres[0]
        half = np.median(boxes[:, 2:] - boxes[:, :2], axis=0) / 2
        return np.concatenate([centre - half, centre + half])

    def observe(self, frame: int, box: np.ndarray, appearance: Optional[np.ndarray] = None) -> None:
        if appearance is not None:
            self.appearance = (appearance if self.appearance is None
                               else (1 - APPEARANCE_RATE) * self.appearance + APPEARANCE_RATE * appearance)
        self.box, self.last_seen = np.asarray(box, float), frame
        self.recent.append((frame, self.box))
        self.hits += 1
        self.missed = self.missed_own = 0
        self.history.append((frame, self.box.copy(), SEEN))

    def trim(self) -> None:
        """Drop the trailing coasting boxes of an ended track: nothing confirmed them."""
        while self.history and self.history[-1][2] == COASTING:
            self.history.pop()


@dataclass
class TrackerSettings:
    iou_min: float = 0.2     # smallest IoU of a prediction and a detection that may match
    max_gap: int = 8         # frames a track coasts undetected before it ends
    min_hits: int = 3        # consecutive matches that confirm a new track
    cover_min: float = 0.6   # a blob covering this share of 2+ predicted boxes is a merge
    appearance_weight: float = 0.5  # weight of the colour-histogram distance in the assignment cost


class IoUTracker:
    """Call :meth:`update` once per frame, then :meth:`finish`; read :attr:`tracks` and :attr:`events`."""

    def __init__(self, settings: Optional[TrackerSettings] = None):
        self.settings = settings or TrackerSettings()
        self.live: List[Track] = []
        self.tracks: List[Track] = []          # confirmed tracks, live or ended, by id
        self.events: List[Dict] = []           # {"frame", "kind": merge|split, "tracks": [ids]}
        self._keys = 0
        self._merged: Dict[int, frozenset] = {}  # track key -> keys of its current merge
        self._split_from: Dict[int, Tuple[Track, int]] = {}  # new tentative key -> (old track, frame)
        self._appearances: Optional[np.ndarray] = None  # this frame's detections' histograms

    def update(self, frame: int, boxes: np.ndarray,
               appearances: Optional[np.ndarray] = None) -> Dict[int, Track]:
        """Advance to ``frame`` with detection boxes ``[n, 4]`` and, optionally, their appearance
        ``[n, d]`` (L1-normalised colour histograms, see :func:`colour_histogram`).

        Returns:
            detection index -> the track it is the own observation of (merged blobs are absent).
        """
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        self._appearances = appearances
        predicted = [t.predict(frame) for t in self.live]
        merged_tracks, merged_dets = self._merges(frame, boxes, predicted)
        free_tracks = [i for i in range(len(self.live)) if i not in merged_tracks]
        free_dets = [j for j in range(len(boxes)) if j not in merged_dets]
        pairs = self._assign(boxes, predicted, free_tracks, free_dets)

        owners: Dict[int, Track] = {}
        grown = self._grown(frame, boxes, predicted, pairs)
        for i, j in pairs:
            if i not in grown:
                self.live[i].observe(frame, boxes[j], None if appearances is None else appearances[j])
                owners[j] = self.live[i]
        self._separations(frame, [(i, j) for i, j in pairs if i not in grown])
        for i in set(range(len(self.live))) - set(merged_tracks) - {i for i, _ in pairs}:
            track = self.live[i]
            track.missed += 1
            track.history.append((frame, predicted[i], COASTING))
        for j in set(free_dets) - {j for _, j in pairs}:
            owners[j] = self._start(frame, boxes[j], predicted, pairs,
                                    None if appearances is None else appearances[j])
        self._confirm_and_end()
        return owners

    def finish(self) -> List[Track]:
        """End every live track; the confirmed tracks, by id."""
        for track in self.live:
            track.trim()
        self.live = []
        return self.tracks

    # ------------------------------------------------------------------

    def _merges(self, frame: int, boxes: np.ndarray, predicted: Sequence[np.ndarray]):
        """Detections covering 2+ confirmed tracks: {track index: detection}, {detection indices}."""
        confirmed = [i for i, t in enumerate(self.live) if t.confirmed]
        if not confirmed or not len(boxes):
            return {}, set()
        pred = np.stack([predicted[i] for i in confirmed])
        cover = intersection(pred, boxes) / np.maximum([box_area(b) for b in pred], 1e-9)[:, None]
        # Hysteresis: people already merged stay so while the blob still covers half as much of
        # their predicted box (superimposed bodies make a narrow blob) and no other blob could be
        # theirs. It stops merge/split events flickering, and the blob being taken for one
        # person's own while the other coasts away from it.
        in_merge = np.array([len(self._merged.get(self.live[i].key, ())) > 1 for i in confirmed])
        iou = iou_matrix(pred, boxes)
        merged_tracks, merged_dets = {}, set()
        for j in range(len(boxes)):
            elsewhere = np.delete(iou, j, axis=1).max(axis=1, initial=0.0) >= self.settings.iou_min
            needed = np.where(in_merge & ~elsewhere, self.settings.cover_min / 2, self.settings.cover_min)
            inside = [confirmed[k] for k in np.flatnonzero(cover[:, j] >= needed)]
            if len(inside) < 2 or any(i in merged_tracks for i in inside):
                continue
            merged_dets.add(j)
            keys = frozenset(self.live[i].key for i in inside)
            placed = place_in_blob(np.stack([predicted[i] for i in inside]), boxes[j])
            new_episode = False
            for i, box in zip(inside, placed):
                merged_tracks[i] = j
                track = self.live[i]
                track.history.append((frame, box, MERGED))
                # The blob's edges place its outermost people well: let the motion fit follow them,
                # or a long merge leaves the prediction where the track was last seen alone.
                track.recent.append((frame, box))
                new_episode |= self._merged.get(track.key) != keys
                self._merged[track.key] = keys
            if new_episode:
                self.events.append({"frame": frame, "kind": "merge",
                                    "tracks": sorted(self.live[i].id for i in inside)})
        return merged_tracks, merged_dets

    def _grown(self, frame: int, boxes, predicted, pairs) -> set:
        """Tracks whose matched blob suddenly grew (taller by ``GROWN_HEIGHT``, or wider by
        ``GROWN_WIDTH``, than the median of their recent boxes): someone not yet tracked joined
        them, e.g. walking in from the frame's edge. The blob is then not their own observation:
        they coast inside it as in a merge, for at most ``max_gap`` frames in a row."""
        grown = set()
        for i, j in pairs:
            track = self.live[i]
            if len(track.recent) < 3:
                continue
            sizes = np.median([b[2:] - b[:2] for _, b in track.recent], axis=0)  # [w, h]
            width, height = boxes[j][2:] - boxes[j][:2]
            if not (height > GROWN_HEIGHT * sizes[1] or width > GROWN_WIDTH * sizes[0]):
                continue
            if track.missed_own >= self.settings.max_gap:  # it lasts: the person itself changed
                track.recent.clear()  # so its size is learnt afresh from this blob on
                continue
            track.missed_own += 1
            grown.add(i)
            track.history.append((frame, place_in_blob(predicted[i][None], boxes[j])[0], MERGED))
            if track.confirmed and track.key not in self._merged:
                self._merged[track.key] = frozenset([track.key])
                self.events.append({"frame": frame, "kind": "merge", "tracks": [track.id]})
        return grown

    def _assign(self, boxes, predicted, free_tracks, free_dets) -> List[Tuple[int, int]]:
        if not free_tracks or not free_dets:
            return []
        iou = iou_matrix(np.stack([predicted[i] for i in free_tracks]), boxes[free_dets])
        cost = 1.0 - iou
        if self._appearances is not None and self.settings.appearance_weight:
            # Geometry alone swaps two people whose boxes overlap as they part; their clothes do not.
            for r, i in enumerate(free_tracks):
                if self.live[i].appearance is not None:
                    cost[r] += self.settings.appearance_weight * hellinger(
                        self.live[i].appearance, self._appearances[free_dets])
        rows, cols = linear_sum_assignment(cost)
        return [(free_tracks[r], free_dets[c]) for r, c in zip(rows, cols)
                if iou[r, c] >= self.settings.iou_min]

    def _separations(self, frame: int, pairs) -> None:
        """A split event when a track of a merge is matched to its own detection again: the
        blob came apart (the others may still be hidden, coasting)."""
        live = {t.key: t for t in self.live}
        for i, _ in pairs:
            group = self._merged.get(self.live[i].key)
            if group is None:
                continue
            for key in group:
                self._merged.pop(key, None)
            self.events.append({"frame": frame, "kind": "split",
                                "tracks": sorted(live[k].id for k in group if k in live)})

    def _start(self, frame: int, box: np.ndarray, predicted, pairs, appearance=None) -> Track:
        self._keys += 1
        track = Track(self._keys, box, frame, appearance=appearance)
        # A blob that broke away from a track's box: two people who had come in as one.
        for i, _ in pairs:
            old = self.live[i]
            if old.confirmed and intersection(predicted[i], box)[0, 0] >= 0.3 * box_area(box):
                self._split_from[track.key] = (old, frame)
                break
        self.live.append(track)
        return track

    def _confirm_and_end(self) -> None:
        still = []
        for track in self.live:
            if not track.confirmed and track.missed:
                self._split_from.pop(track.key, None)  # a tentative track must be matched every frame
                continue
            if not track.confirmed and track.hits >= self.settings.min_hits:
                track.id = len(self.tracks) + 1
                self.tracks.append(track)
                if track.key in self._split_from:
                    old, frame = self._split_from.pop(track.key)
                    self.events.append({"frame": frame, "kind": "split", "tracks": [old.id, track.id]})
            if track.missed > self.settings.max_gap:
                track.trim()
                self._merged.pop(track.key, None)
                continue
            still.append(track)
        self.live = still
