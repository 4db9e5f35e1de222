"""Drawing a synthetic walker's silhouettes: its pose seen by a camera, filled on a canvas, with pixel noise.

The pose's joints (:mod:`.synth_pose`) are projected
orthographically for a camera at ``view`` degrees around the walker
(0 = walking towards the camera, 90 = side view, 180 = walking away):
screen-x = x sin(view) + z cos(view).  So the swing plane is foreshortened
by sin(view), lateral offsets (legs, arms, a shoulder bag) scale with
cos(view) and are mirrored for views > 90, and the torso, head and bag
widths blend their lateral width and front-to-back depth.  Limbs are thick
lines, the torso a quadrilateral, the head an ellipse, all filled with
OpenCV on a 128 x 128 canvas; then ragged edges and a few holes and specks.
"""
from __future__ import annotations

import cv2
import numpy as np

from .synth_pose import walker_pose
from .synth_walkers import Condition, Identity, Nuisance

CANVAS = 128          # render canvas, pixels (square)
BODY_PX = 100.0       # body height on the canvas, pixels
TOP_PX = 12.0         # canvas row of the top of the head
_SHIFT = 4            # OpenCV fixed-point bits: sub-pixel joint positions
_ONE = float(1 << _SHIFT)
EDGE_FLIP_P = 0.2     # probability of flipping a boundary pixel (ragged edges)


class _Projector:
    """Orthographic camera at `view` radians: world [T, 3] -> canvas fixed-point [T, 2]."""

    def __init__(self, view: float, ident: Identity):
        self.sin, self.cos = np.sin(view), np.cos(view)
        self.top_y = 1.0 - ident.leg  # world y of the head top (hips at y = 0)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        u = p[:, 0] * self.sin + p[:, 2] * self.cos
        x = CANVAS / 2 + u * BODY_PX
        y = TOP_PX + (self.top_y - p[:, 1]) * BODY_PX
        return np.rint(np.stack([x, y], axis=1) * _ONE).astype(np.int32)

    def width(self, lateral: float, depth: float) -> float:
        """Screen width (body heights) of a box `lateral` wide and `depth` deep."""
        return float(np.hypot(lateral * self.cos, depth * self.sin))


def _px(frac: float) -> int:
    """Line thickness in whole pixels for a fraction of body height."""
    return max(1, int(round(frac * BODY_PX)))


def _quad(bottom: np.ndarray, top: np.ndarray, half_bottom: float, half_top: float) -> np.ndarray:
    """[T, 4, 2] fixed-point quadrilateral around the segment bottom -> top (fixed-point [T, 2])."""
    d = (top - bottom).astype(np.float64)
    n = np.stack([-d[:, 1], d[:, 0]], axis=1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-6)
    hb, ht = half_bottom * BODY_PX * _ONE, half_top * BODY_PX * _ONE
    quad = np.stack([bottom - hb * n, bottom + hb * n, top + ht * n, top - ht * n], axis=1)
    return np.rint(quad).astype(np.int32)


def _coat_polygon(pose: dict, ident: Identity, cond: Condition, proj: _Projector,
                  torso_quad: np.ndarray) -> np.ndarray:
    """[T, 6, 2] coat outline: the widened torso plus a skirt over both thighs to the hem."""
    thigh = ident.leg * ident.thigh_frac
    hem_us = []
    for side in "LR":
        hip, knee = pose[f"hip{side}"], pose[f"knee{side}"]
        # Point of the thigh at the hem height (or the knee if the hem is lower).
        frac = np.clip(cond.coat_len / np.maximum(hip[:, 1] - knee[:, 1], 1e-6), 0.0, 1.0)
        at_hem = hip + frac[:, None] * (knee - hip)
        hem_us.append(proj(at_hem)[:, 0])
    hem_us = np.stack(hem_us, axis=1)
    margin = (ident.thigh_t / 2 + cond.coat_loose) * BODY_PX * _ONE
    hem_y = np.rint((TOP_PX + (proj.top_y + min(cond.coat_len, thigh)) * BODY_PX) * _ONE)
    hem_y = np.full(len(hem_us), hem_y, dtype=np.int64)
    left = np.stack([hem_us.min(axis=1) - margin, hem_y], axis=1)
    right = np.stack([hem_us.max(axis=1) + margin, hem_y], axis=1)
    b0, b1, t1, t0 = (torso_quad[:, i] for i in range(4))
    # Go round without crossing: t0, t1, b1, the hem corner on b1's side, the other, b0.
    b1_on_left = (b1[:, 0] < b0[:, 0])[:, None]
    hem_b1 = np.where(b1_on_left, left, right)
    hem_b0 = np.where(b1_on_left, right, left)
    poly = np.stack([t0, t1, b1, hem_b1, hem_b0, b0], axis=1)
    return np.rint(poly).astype(np.int32)


def _bag_shape(pose: dict, ident: Identity, cond: Condition, proj: _Projector):
    """Fixed-point bag geometry: (centre [T, 2], half width, half height) in canvas units."""
    swing = 0.015 * np.sin(2 * pose["phase"][:, 0])
    centre = np.zeros((len(swing), 3))
    if cond.bag == "shoulder":
        centre[:, 0] = -0.05 + swing  # hangs a little behind the hip
        centre[:, 1] = 0.03
        centre[:, 2] = cond.bag_side * (ident.hip_w / 2 + cond.bag_d / 2 + 0.03)
        half_w = proj.width(cond.bag_d, cond.bag_w) / 2
    else:  # backpack: on the upper back, behind the (leaning) torso
        mid = 0.62 * pose["neck"]
        centre[:, 0] = mid[:, 0] - (ident.chest_d / 2 + cond.bag_d / 2) + 0.3 * swing
        centre[:, 1] = mid[:, 1]
        half_w = proj.width(cond.bag_w, cond.bag_d) / 2
    return proj(centre), half_w * BODY_PX * _ONE, cond.bag_h / 2 * BODY_PX * _ONE


def render_sequence(ident: Identity, cond: Condition, nuis: Nuisance, view_deg: float,
                    frames: int, rng: np.random.Generator) -> np.ndarray:
    """Draw a walking sequence on the canvas.

    Returns:
        [frames, CANVAS, CANVAS] uint8 silhouettes in {0, 255}, before alignment.
    """
    view = np.radians(view_deg) + nuis.view_jitter
    pose = walker_pose(ident, nuis, frames)
    proj = _Projector(view, ident)
    pts = {name: proj(p) for name, p in pose.items() if name != "phase"}

    widen = cond.coat_widen if cond.coat_len else 1.0
    torso = _quad(proj(pose["pelvis"] + [0.0, -0.03, 0.0]), pts["neck"],
                  proj.width(ident.hip_w, ident.chest_d * 0.95) / 2 * widen,
                  proj.width(ident.shoulder_w, ident.chest_d) / 2 * widen)
    body = _coat_polygon(pose, ident, cond, proj, torso) if cond.coat_len else torso
    bag = _bag_shape(pose, ident, cond, proj) if cond.bag else None
    head_axes = (int(round(proj.width(2 * ident.head_w, 2.3 * ident.head_w) / 2 * BODY_PX * _ONE)),
                 int(round(ident.head_h * BODY_PX * _ONE)))
    sleeve = 0.012 if cond.coat_len else 0.0
    thick = {"thigh": _px(ident.thigh_t), "shin": _px(ident.shin_t), "foot": _px(0.035),
             "upper": _px(ident.arm_t + 1.5 * sleeve), "fore": _px(ident.arm_t * 0.85 + sleeve),
             "neck": _px(ident.head_w * 1.1), "strap": _px(0.015)}
    # Python lists of ints: the fastest way to hand points to OpenCV per frame.
    lists = {name: p.tolist() for name, p in pts.items()}
    body_l = list(body)
    bag_l = None if bag is None else bag[0].tolist()

    canvas = np.zeros((frames, CANVAS, CANVAS), dtype=np.uint8)
    for t in range(frames):
        img = canvas[t]
        P = {name: p[t] for name, p in lists.items()}
        _draw_walker(img, P, body_l[t], head_axes, thick)
        if bag is not None:
            _draw_bag(img, P, cond, bag_l[t], bag[1], bag[2], proj, thick["strap"])
    _add_pixel_noise(canvas, rng)
    return canvas


def _line(img: np.ndarray, a, b, thickness: int) -> None:
    cv2.line(img, a, b, 255, thickness, cv2.LINE_8, _SHIFT)


def _draw_walker(img: np.ndarray, P: dict, body: np.ndarray, head_axes: tuple, thick: dict) -> None:
    """Draw one frame of the walker (torso or coat, head, limbs) into `img` [H, W]."""
    cv2.fillPoly(img, [body], 255, cv2.LINE_8, _SHIFT)
    _line(img, P["neck"], P["head"], thick["neck"])
    cv2.ellipse(img, P["head"], head_axes, 0, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
    for s in "LR":
        _line(img, P[f"hip{s}"], P[f"knee{s}"], thick["thigh"])
        _line(img, P[f"knee{s}"], P[f"ankle{s}"], thick["shin"])
        _line(img, P[f"ankle{s}"], P[f"toe{s}"], thick["foot"])
        _line(img, P[f"shoulder{s}"], P[f"elbow{s}"], thick["upper"])
        _line(img, P[f"elbow{s}"], P[f"wrist{s}"], thick["fore"])


def _draw_bag(img: np.ndarray, P: dict, cond: Condition, centre, half_w: float, half_h: float,
              proj: _Projector, strap: int) -> None:
    """Draw the bag of one frame: a hip-level ellipse with a strap, or a backpack box."""
    cx, cy = centre
    if cond.bag == "shoulder":
        axes = (max(int(half_w), 1 << _SHIFT), int(half_h))
        cv2.ellipse(img, (cx, cy), axes, 0, 0, 360, 255, -1, cv2.LINE_8, _SHIFT)
        # The strap runs from the opposite shoulder across the chest.
        other = "R" if cond.bag_side > 0 else "L"
        _line(img, P[f"shoulder{other}"], (cx, cy - int(half_h)), strap)
    else:
        hw, hh = max(int(half_w), 1 << _SHIFT), int(half_h)
        box = np.array([[cx - hw, cy - hh], [cx + hw, cy - hh], [cx + hw, cy + hh],
                        [cx - hw, cy + hh]], dtype=np.int32)
        cv2.fillConvexPoly(img, box, 255, cv2.LINE_8, _SHIFT)


def _add_pixel_noise(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Ragged edges and a few holes/specks, in place on [T, H, W] {0, 255} frames."""
    frames = canvas.shape[0]
    # Frames stacked vertically are one image for OpenCV; bodies never touch the
    # top/bottom rows, so the 3x3 gradient does not leak between frames.
    flat = canvas.reshape(frames * CANVAS, CANVAS)
    band = cv2.morphologyEx(flat, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    edge = np.flatnonzero(band)
    flat_view = canvas.reshape(-1)
    flat_view[edge[rng.random(edge.size) < EDGE_FLIP_P]] ^= 255
    # Holes inside the body, about 3 per frame.
    inside = np.flatnonzero(flat_view)
    n_holes = min(inside.size, int(rng.poisson(3 * frames)))
    flat_view[rng.choice(inside, size=n_holes, replace=False)] = 0
    # Specks beside the body, only on rows the body occupies, so that they
    # never change the top/bottom crop of the alignment.
    rows = canvas.any(axis=2)
    row_ids = np.flatnonzero(rows.reshape(-1))
    n_specks = int(rng.poisson(2 * frames))
    if row_ids.size and n_specks:
        picked = rng.choice(row_ids, size=n_specks) * CANVAS + rng.integers(0, CANVAS, n_specks)
        flat_view[picked] = 255
