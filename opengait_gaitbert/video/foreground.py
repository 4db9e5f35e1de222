"""Moving people as binary blobs: background subtraction for a static camera.

CASIA-B's own silhouettes were made this way. Per frame:

1. OpenCV's MOG2 (default) or KNN background model marks changed pixels, with
   shadows as a separate grey level (127), which we drop: a shadow is not body;
2. an opening removes speckle noise, a closing fills small holes in the body;
3. pixels are grouped into people by the outer contours of a slightly dilated
   mask, so that a body broken into pieces (trousers the colour of the road)
   stays one detection, while each detection keeps only its own, undilated pixels;
4. groups smaller than ``min_area`` pixels are noise, and groups wider than
   ``1 / min_aspect`` times their height are not upright people (a flapping
   tape, a lit wall, a crowd of three side by side).

The fraction of the frame marked as changed is kept too: when most of the
frame changes, the camera moved (or the light changed) and the detections mean
nothing (see :class:`ForegroundFrame`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Optional

import cv2
import numpy as np

from ..core.errors import ConfigError

SUBTRACTORS = ("mog2", "knn")
#: Grey level OpenCV's subtractors give a sure foreground pixel (shadows get 127).
FOREGROUND = 255
#: Default memory of the background model.
HISTORY_SECONDS = 20.0


@dataclass
class Detection:
    """One person-sized blob.

    Attributes:
        box: ``[x0, y0, x1, y1]`` int pixels, ends exclusive.
        mask: uint8 ``[y1 - y0, x1 - x0]`` in {0, 255}: this blob's pixels only.
        area: number of foreground pixels.
    """

    box: np.ndarray
    mask: np.ndarray
    area: int


@dataclass
class ForegroundFrame:
    """What background subtraction found in one frame.

    Attributes:
        detections: person-sized blobs, largest first.
        changed: fraction of the frame's pixels marked foreground before cleaning (0..1).
    """

    detections: List[Detection] = field(default_factory=list)
    changed: float = 0.0


@dataclass
class ForegroundSettings:
    """How foreground is found (defaults suit a static camera at up to ~1000 px wide)."""

    method: str = "mog2"
    history: int = 0            # frames the background model remembers; 0: 20 seconds of video
    threshold: Optional[float] = None  # MOG2 varThreshold (16) / KNN dist2Threshold (400); None: OpenCV's
    open_px: int = 3            # opening kernel (noise), pixels; 0 = none
    close_px: int = 7           # closing kernel (holes), pixels; 0 = none
    group_px: int = 5           # dilation that joins pieces of one body, pixels; 0 = none
    min_area: int = 0           # smallest person in pixels; 0: 0.05 % of the frame, at least 100
    min_aspect: float = 0.8     # smallest height / width of a blob: people stand upright

    def check(self) -> None:
        """Raise ConfigError (naming the option) for impossible values."""
        if self.method not in SUBTRACTORS:
            raise ConfigError(f"--subtractor {self.method!r} is unknown; use one of {', '.join(SUBTRACTORS)}.")
        for name in ("history", "open_px", "close_px", "group_px", "min_area", "min_aspect"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0; got {getattr(self, name)}.")
        if self.threshold is not None and self.threshold <= 0:
            raise ConfigError(f"--threshold must be > 0; got {self.threshold}.")


def _kernel(size: int) -> Optional[np.ndarray]:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)) if size > 1 else None


class ForegroundExtractor:
    """Background subtraction plus cleaning; :meth:`apply` once per frame, in order."""

    def __init__(self, settings: ForegroundSettings, frame_size, fps: float = 25.0):
        settings.check()
        self.settings = settings
        width, height = frame_size
        self.min_area = settings.min_area or max(100, int(0.0005 * width * height))
        # In seconds, not frames: a 10 fps camera must forget a passer-by as fast as a 30 fps one.
        history = settings.history or max(1, int(round(HISTORY_SECONDS * fps)))
        if settings.method == "mog2":
            self.model = cv2.createBackgroundSubtractorMOG2(history, settings.threshold or 16.0, True)
        else:
            self.model = cv2.createBackgroundSubtractorKNN(history, settings.threshold or 400.0, True)
        self.learning_rate = 1.0 / history
        self.open_kernel = _kernel(settings.open_px)
        self.close_kernel = _kernel(settings.close_px)
        self.group_kernel = _kernel(settings.group_px)

    def prime(self, background: np.ndarray) -> None:
        """Start the model from a background image ``[H, W, 3]`` instead of the first frame, so that
        people present from the start are foreground at once, not ghosts learnt into the background."""
        self.model.apply(background, learningRate=1.0)

    def apply(self, frame: np.ndarray) -> ForegroundFrame:
        """One BGR frame ``[H, W, 3]`` -> its detections and changed fraction (learns from it)."""
        # A fixed rate: OpenCV's automatic one starts at 1/2 for a young model, which would learn
        # the people of the first frames into the background we primed it with.
        raw = self.model.apply(frame, learningRate=self.learning_rate)
        _, mask = cv2.threshold(raw, FOREGROUND - 1, 255, cv2.THRESH_BINARY)  # drop shadows (127)
        changed = float(np.count_nonzero(mask)) / mask.size
        if self.open_kernel is not None:
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.open_kernel)
        if self.close_kernel is not None:
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self.close_kernel)
        return ForegroundFrame(self._detections(mask), changed)

    def _detections(self, mask: np.ndarray) -> List[Detection]:
        grouped = mask if self.group_kernel is None else cv2.dilate(mask, self.group_kernel)
        # Outer contours of the groups, not connectedComponentsWithStats: at 768x576 OpenCV's
        # statistics took 10 ms a frame, the contours 2 (most of them specks, dropped by their box).
        contours, _ = cv2.findContours(grouped, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < self.min_area:  # the box bounds the group's pixels, which bound its own
                continue
            region = np.zeros((h, w), np.uint8)
            cv2.drawContours(region, [contour], -1, 255, cv2.FILLED, offset=(-x, -y))
            own = mask[y:y + h, x:x + w] & region
            area = int(np.count_nonzero(own))
            if area < self.min_area:
                continue
            # The dilation widened the box; shrink it back to the blob's own pixels.
            rows, cols = np.flatnonzero(own.any(axis=1)), np.flatnonzero(own.any(axis=0))
            y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            if y1 - y0 < self.settings.min_aspect * (x1 - x0):
                continue
            found.append(Detection(np.array([x + x0, y + y0, x + x1, y + y1]), own[y0:y1, x0:x1], area))
        return sorted(found, key=lambda d: -d.area)


def median_background(frames: Iterable[np.ndarray]) -> np.ndarray:
    """Per-pixel median of ``frames`` (each ``[H, W, 3]`` uint8): the scene without the people
    who walk through it, as long as nobody stands still in most of them."""
    return np.median(np.stack(list(frames)), axis=0).astype(np.uint8)
