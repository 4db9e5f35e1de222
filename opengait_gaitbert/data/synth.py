"""Synthetic gait datasets in OpenGait's layout: CASIA-B's protocol, and OU-MVLP's, GREW's,
Gait3D's and SUSTech1K's folder names, partitions and files (see :mod:`.layouts`).

Generative model
----------------
Each id is a walker whose skeleton and gait are drawn once from a per-id
random generator (``seed``, id number):

* body: leg length and thigh/shin split, torso length (the rest of a unit
  height), shoulder and hip width, chest depth, head size, limb thickness,
  arm lengths, foot length;
* gait: stride (hip swing amplitude), cadence (frames per gait cycle), arm
  swing amplitude and its phase lag behind the legs, knee flexion in swing,
  elbow bend, forward lean of the torso.

Ranges are chosen so that ids overlap: no single parameter identifies a
walker, several together do.

A pose is computed analytically per frame: the thigh swings as
``A sin(phase)``, the knee flexes during swing, the foot stays roughly
perpendicular to the shin, each arm swings against the leg on its side.
Joints live in 3-D (x forward, y up, z lateral) and are projected
orthographically for a camera at ``view`` degrees around the walker
(0 = walking towards the camera, 90 = side view, 180 = walking away):
screen-x = x sin(view) + z cos(view).  So the swing plane is foreshortened
by sin(view), lateral offsets (legs, arms, a shoulder bag) scale with
cos(view) and are mirrored for views > 90, and the torso, head and bag
widths blend their lateral width and front-to-back depth.  Limbs are thick
lines, the torso a quadrilateral, the head an ellipse, all filled with
OpenCV on a 128 x 128 canvas.

Covariates change appearance, not identity:

* ``bg-*``: a bag, per (id, type) either a shoulder bag at the hip with a
  strap, or a backpack; it swings a little with the gait;
* ``cl-*``: a coat, per (id, type): wider torso, thicker sleeves and a skirt
  that covers the thighs down to a random hem length.

Per sequence (id, type, view) a further generator adds nuisance: random
start phase, cadence jitter (sd 3 %), swing amplitude jitter (sd 4 %), view
and lean jitter (sd 1.5 and 1 degree), ragged edges (20 % of boundary pixels
flipped) and a few holes and specks.  Two sequences of the same id, type and view therefore differ.

Every frame then goes through :func:`.alignment.align_silhouette`, the same
code that converts real data, so the output is exactly what OpenGait's
pretreatment makes: uint8 ``[frames, 64, 64]`` (or ``--img-size 128``), body
height-normalised and centred.  Generators are keyed by (seed, id, type, view),
so a given sequence is bit-identical whatever subset of ids, types and views is
generated with it.

Other datasets (``--layout``) reuse the walkers: a layout only names the
folders, the partition and the files (:mod:`.layouts`). SUSTech1K's folders
hold 16 files; only the silhouettes are rendered walks, the LiDAR, pose, RGB and
ratio files are stand-ins of their shapes (:data:`MODALITY_STAND_INS`), so that
``data_cfg.data_in_use`` must pick the right one, as with the real data.
"""
from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..core.errors import ConfigError
from ..progress import progress as show_progress
from .layouts import CASIAB_TYPES, LAYOUTS, SILHOUETTES, SequenceSpec, covariate_of, get_layout, keyed_rng
from .alignment import align_silhouette

CANVAS = 128          # render canvas, pixels (square)
BODY_PX = 100.0       # body height on the canvas, pixels
TOP_PX = 12.0         # canvas row of the top of the head
IMG_SIZE = 64         # aligned output size, as OpenGait (its pretreatment's --img_size)
IMG_SIZES = (64, 128)  # the sizes OpenGait's configs read (128: e.g. Gait3D-sils-128-128-pkl)
_SHIFT = 4            # OpenCV fixed-point bits: sub-pixel joint positions
_ONE = float(1 << _SHIFT)
EDGE_FLIP_P = 0.2     # probability of flipping a boundary pixel (ragged edges)


@dataclass(frozen=True)
class Identity:
    """Body and gait of one walker. Lengths are fractions of body height, angles radians."""

    leg: float
    thigh_frac: float
    head_h: float
    head_w: float
    neck: float
    shoulder_w: float
    hip_w: float
    chest_d: float
    thigh_t: float
    shin_t: float
    arm_t: float
    upper_arm: float
    forearm: float
    foot: float
    hip_amp: float
    period: float
    arm_amp: float
    arm_lag: float
    elbow: float
    knee: float
    lean: float

    @property
    def torso(self) -> float:
        """Hip-to-neck length: what the legs, neck and head leave of a unit height."""
        return 1.0 - self.leg - 2.0 * self.head_h - self.neck


@dataclass(frozen=True)
class Condition:
    """Clothing and carrying of one (id, type): an optional bag and/or coat."""

    bag: str | None = None        # "shoulder" or "backpack"
    bag_w: float = 0.0            # size along the walking direction (shoulder) or across (backpack)
    bag_h: float = 0.0
    bag_d: float = 0.0
    bag_side: float = 1.0         # +1 left, -1 right (shoulder bag)
    coat_len: float = 0.0         # hem below the hip joints; 0 = no coat
    coat_widen: float = 1.0       # torso width factor under the coat
    coat_loose: float = 0.0       # extra hem half-width beyond the thighs


@dataclass(frozen=True)
class Nuisance:
    """Per-sequence variation that carries no identity."""

    phase0: float
    period_scale: float
    amp_scale: float
    view_jitter: float
    lean_jitter: float


def sample_identity(seed: int, id_num: int) -> Identity:
    """Draw the body and gait of id `id_num` (1-based)."""
    r = keyed_rng(seed, id_num, 0)
    u = r.uniform
    thigh_t = u(0.075, 0.100)
    arm_t = u(0.050, 0.066)
    return Identity(
        leg=u(0.46, 0.53), thigh_frac=u(0.46, 0.54),
        head_h=u(0.055, 0.068), head_w=u(0.040, 0.052), neck=u(0.025, 0.045),
        shoulder_w=u(0.21, 0.28), hip_w=u(0.16, 0.21), chest_d=u(0.13, 0.18),
        thigh_t=thigh_t, shin_t=thigh_t * u(0.70, 0.85), arm_t=arm_t,
        upper_arm=u(0.16, 0.20), forearm=u(0.14, 0.17), foot=u(0.11, 0.15),
        hip_amp=np.radians(u(17.0, 29.0)), period=u(24.0, 34.0),
        arm_amp=np.radians(u(8.0, 35.0)), arm_lag=u(-0.35, 0.35),
        elbow=np.radians(u(5.0, 30.0)), knee=np.radians(u(35.0, 65.0)),
        lean=np.radians(u(0.0, 9.0)),
    )


def sample_condition(seed: int, id_num: int, seq_type: str) -> Condition:
    """Bag for ``bg-*``, coat for ``cl-*``, nothing for ``nm-*``; drawn per (id, type) of CASIA-B."""
    return draw_condition(seed, id_num, covariate_of(seq_type), CASIAB_TYPES.index(seq_type))


def draw_condition(seed: int, id_num: int, covariate: str, type_key: int) -> Condition:
    """A bag (``bg``), a coat (``cl``) or nothing (``nm``) for one (id, type key)."""
    r = keyed_rng(seed, id_num, 1, type_key)
    if covariate == "bg":
        kind = "shoulder" if r.random() < 0.5 else "backpack"
        return Condition(bag=kind, bag_w=r.uniform(0.15, 0.25), bag_h=r.uniform(0.14, 0.22),
                         bag_d=r.uniform(0.06, 0.11), bag_side=1.0 if r.random() < 0.5 else -1.0)
    if covariate == "cl":
        return Condition(coat_len=r.uniform(0.10, 0.30), coat_widen=r.uniform(1.12, 1.35),
                         coat_loose=r.uniform(0.01, 0.04))
    return Condition()


def sample_nuisance(seed: int, id_num: int, seq_type: str, view_deg: int) -> tuple[Nuisance, np.random.Generator]:
    """Per-sequence nuisance of a CASIA-B sequence, plus the generator then used for its pixel noise."""
    return draw_nuisance(seed, id_num, (CASIAB_TYPES.index(seq_type), view_deg))


def draw_nuisance(seed: int, id_num: int, key: tuple[int, int]) -> tuple[Nuisance, np.random.Generator]:
    """Nuisance of the sequence ``key`` (type key, view key) of one id, and its pixel-noise generator."""
    r = keyed_rng(seed, id_num, 2, *key)
    nuisance = Nuisance(phase0=r.uniform(0.0, 2 * np.pi), period_scale=1.0 + 0.03 * r.standard_normal(),
                        amp_scale=1.0 + 0.04 * r.standard_normal(),
                        view_jitter=np.radians(1.5 * r.standard_normal()),
                        lean_jitter=np.radians(1.0 * r.standard_normal()))
    return nuisance, r


# --------------------------------------------------------------------------
# Pose: joints in 3-D, all frames at once
# --------------------------------------------------------------------------

def _limb(start: np.ndarray, length: float, angle: np.ndarray) -> np.ndarray:
    """End of a segment hanging from `start` [T, 3], swung forward by `angle` [T] in the x-y plane."""
    end = start.copy()
    end[:, 0] += length * np.sin(angle)
    end[:, 1] -= length * np.cos(angle)
    return end


def walker_pose(ident: Identity, nuis: Nuisance, frames: int) -> dict[str, np.ndarray]:
    """Joint positions of a walker over `frames` frames.

    Returns:
        name -> [T, 3] world coordinates (x forward, y up, z left), in body
        heights, hip-joint centre at the origin.  Per side ``L``/``R``: hip,
        knee, ankle, toe, shoulder, elbow, wrist; plus ``pelvis``, ``neck``,
        ``head`` (head centre); and ``phase`` [T, 1].
    """
    t = np.arange(frames, dtype=np.float64)
    phase = nuis.phase0 + 2 * np.pi * t / (ident.period * nuis.period_scale)
    lean = ident.lean + nuis.lean_jitter
    zeros = np.zeros((frames, 3))

    neck = zeros.copy()
    neck[:, 0] = ident.torso * np.sin(lean)
    neck[:, 1] = ident.torso * np.cos(lean)
    head = neck.copy()
    head[:, 0] += (ident.neck + ident.head_h) * np.sin(lean * 0.5)
    head[:, 1] += (ident.neck + ident.head_h) * np.cos(lean * 0.5)
    pose = {"pelvis": zeros.copy(), "neck": neck, "head": head, "phase": phase[:, None]}

    thigh = ident.leg * ident.thigh_frac
    shin = ident.leg - thigh
    for side, sign, offset in (("L", 1.0, 0.0), ("R", -1.0, np.pi)):
        leg_phase = phase + offset
        hip_ang = ident.hip_amp * nuis.amp_scale * np.sin(leg_phase)
        # The knee flexes in swing (leg moving forward, cos > 0), peaking early in it.
        knee_ang = 0.08 + ident.knee * np.clip(np.cos(leg_phase + 0.5), 0.0, None) ** 1.5
        hip = zeros.copy()
        hip[:, 2] = sign * ident.hip_w * 0.3
        knee = _limb(hip, thigh, hip_ang)
        ankle = _limb(knee, shin, hip_ang - knee_ang)
        # Foot roughly perpendicular to the shin: toes up at heel strike, down at toe-off.
        toe = _limb(ankle, ident.foot, hip_ang - knee_ang + np.pi / 2)
        toe[:, 1] = np.minimum(toe[:, 1], ankle[:, 1] + 0.3 * ident.foot)

        # Arms swing against the leg of their side, lagging it a little.
        arm_ang = -ident.arm_amp * nuis.amp_scale * np.sin(leg_phase + ident.arm_lag)
        shoulder = neck.copy()
        shoulder[:, 1] -= 0.02
        shoulder[:, 2] = sign * ident.shoulder_w * 0.5
        elbow = _limb(shoulder, ident.upper_arm, arm_ang)
        wrist = _limb(elbow, ident.forearm, arm_ang + ident.elbow + 0.5 * np.clip(arm_ang, 0, None))
        pose.update({f"hip{side}": hip, f"knee{side}": knee, f"ankle{side}": ankle,
                     f"toe{side}": toe, f"shoulder{side}": shoulder, f"elbow{side}": elbow,
                     f"wrist{side}": wrist})
    return pose


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------

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


def synth_sequence(seed: int, id_num: int, seq_type: str, view: str | int,
                   frames: int = 40) -> np.ndarray:
    """One aligned CASIA-B sequence, [frames, 64, 64] uint8, exactly as `generate` writes it."""
    view_deg = int(view)
    return render_walk(seed, id_num, covariate_of(seq_type), (CASIAB_TYPES.index(seq_type), view_deg), view_deg, frames)


def render_walk(seed: int, walker: int, covariate: str, key: tuple[int, int], angle: float, frames: int,
                img_size: int = IMG_SIZE) -> np.ndarray:
    """Render and align one sequence of ``walker``, [frames, img_size, img_size] uint8.

    Args:
        covariate: ``nm``, ``bg`` or ``cl`` (see :func:`draw_condition`).
        key: (type key, view key) of the sequence's generators: the condition is
            drawn per type key, the nuisance per (type key, view key).
        angle: camera angle in degrees.
    """
    ident = sample_identity(seed, walker)
    cond = draw_condition(seed, walker, covariate, key[0])
    nuis, rng = draw_nuisance(seed, walker, key)
    canvas = render_sequence(ident, cond, nuis, angle, frames, rng)
    aligned = [align_silhouette(frame, img_size) for frame in canvas]
    if any(a is None for a in aligned):  # a body is always drawn; this would be a bug
        raise RuntimeError(f"synthetic frame without a body: walker {walker}, key {key}, angle {angle}")
    return np.stack(aligned)


# SUSTech1K's other files, as stand-ins of their shapes and dtypes built from the
# silhouettes [T, S, S] (datasets/SUSTech1K/pretreatment_SUSTech1K.py writes the real ones):
# point clouds are a list of [N, 3] arrays, depths and RGB [T, 3, S, S], poses [T, 17, 3]
# (ViTPose's 17 joints: x, y, score), the camera image's (H, W) per frame [T, 2].
MODALITY_STAND_INS = {
    SILHOUETTES: lambda sils: sils,
    "raw_silhouettes": lambda sils: sils,
    "depths": lambda sils: np.repeat(sils[:, None], 3, axis=1),
    "rgb": lambda sils: np.repeat(sils[:, None], 3, axis=1),
    "points": lambda sils: [np.pad(np.argwhere(frame)[::8] / frame.shape[0], ((0, 0), (0, 1))) for frame in sils],
    "pose": lambda sils: np.zeros((len(sils), 17, 3), dtype=np.float64),
    "ratios": lambda sils: np.tile(np.array([[1080, 1920]]), (len(sils), 1)),
}


def write_sequence(root: Path, spec: SequenceSpec, seed: int, frames: int, img_size: int) -> None:
    """Render ``spec`` once and write each of its files (rate-divided frames, stand-ins)."""
    sils = render_walk(seed, spec.walker, spec.covariate, spec.key, spec.angle, frames, img_size)
    folder = root / spec.label / spec.seq_type / spec.view
    folder.mkdir(parents=True, exist_ok=True)
    for (_, modality, every), name in zip(spec.files, spec.file_names()):
        with open(folder / name, "wb") as fh:
            pickle.dump(MODALITY_STAND_INS[modality](sils[::every]), fh)


# --------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------

def _check_counts(ids: int, seed: int, frames: int, train_ids: int, img_size: int) -> None:
    """ConfigError for impossible ids / seed / frames / train_ids / img_size."""
    if not isinstance(ids, int) or ids < 2:
        raise ConfigError(f"ids={ids!r}: need at least 2 ids (one to train, one to test)")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be an integer >= 0")
    if not isinstance(frames, int) or frames < 1:
        raise ConfigError(f"frames={frames!r} must be an integer >= 1")
    if not isinstance(train_ids, int) or not 1 <= train_ids < ids:
        raise ConfigError(f"train_ids={train_ids!r} must be between 1 and ids - 1 = {ids - 1}")
    if img_size not in IMG_SIZES:
        raise ConfigError(f"img_size={img_size!r}: OpenGait's pkl frames are square, "
                          f"{' or '.join(map(str, IMG_SIZES))} pixels")


def generate(out_dir: str | Path, ids: int = 8, seed: int = 0, frames: int = 40,
             views: Sequence[str] | str | None = None, types: Sequence[str] | str | None = None,
             train_ids: int | None = None, progress: bool = True, layout: str = "casiab",
             img_size: int = IMG_SIZE) -> Path:
    """Write a synthetic dataset in OpenGait's layout for ``layout`` (see :mod:`.layouts`).

    Writes ``OUT/<id>/<type>/<view>/<files>`` (``casiab``: ``<view>.pkl``, uint8
    [frames, 64, 64]) for the ids of the layout's naming and ``OUT/partition.json``
    whose TRAIN_SET is the first `train_ids` ids and TEST_SET the rest (GREW adds the
    id ``probe``; Gait3D a PROBE_SET).

    Args:
        out_dir: output root (created; existing files are overwritten).
        ids: number of walkers (>= 2; GREW and SUSTech1K need more test ids, see the layout).
        seed: dataset seed; the same seed gives bit-identical files.
        frames: frames per (camera) sequence.
        views: view names such as "000", "090" (or a comma list); None = all of the layout.
        types: type names; None = all of the layout.
        train_ids: number of training ids; None = ids // 2.
        progress: show progress on stderr (a bar on a terminal, plain lines in a log).
        layout: ``casiab``, ``oumvlp``, ``grew``, ``gait3d`` or ``sustech1k``.
        img_size: pkl frame side, 64 or 128 (OpenGait's pretreatment ``--img_size``).

    Returns:
        Path of the partition JSON.
    """
    train_ids = ids // 2 if train_ids is None else train_ids
    _check_counts(ids, seed, frames, train_ids, img_size)
    plan = get_layout(layout).plan(ids, train_ids, seed, views, types)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for spec in show_progress(plan.sequences, "Synthesising", "seq", enabled=progress):
        write_sequence(out, spec, seed, frames, img_size)
    part_path = out / "partition.json"
    part_path.write_text(json.dumps(plan.partition, indent=2) + "\n")
    return part_path


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

EPILOG = """examples:
  opengait-gaitbert synth --out data/casiab --ids 16 --views 000,090,180
  opengait-gaitbert synth --layout oumvlp --out data/oumvlp --ids 8 --views 000,090,180,270
  opengait-gaitbert synth --layout grew --out data/grew --ids 24 --train-ids 4
  opengait-gaitbert synth --layout gait3d --out data/gait3d --ids 8
  opengait-gaitbert synth --layout sustech1k --out data/sustech1k --ids 8 --views 000,090
"""


def add_arguments(parser) -> None:
    """Add ``--layout --out --ids --seed --frames --views --types --train-ids --img-size --no-progress``."""
    parser.add_argument("--layout", default="casiab", choices=list(LAYOUTS),
                        help="dataset whose folder names, partition and files to reproduce (default: casiab)")
    parser.add_argument("--out", required=True, help="output root folder (OpenGait dataset_root)")
    parser.add_argument("--ids", type=int, default=8, help="number of ids (default: 8)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
    parser.add_argument("--frames", type=int, default=40, help="frames per sequence (default: 40)")
    parser.add_argument("--views", default=None,
                        help="comma-separated views, e.g. 000,090,180 (default: all of the layout; "
                             "casiab: any of 0..180; grew, gait3d: not angles, leave out)")
    parser.add_argument("--types", default=None,
                        help="comma-separated types, e.g. nm-01,nm-05 (default: all of the layout; "
                             "grew, gait3d: leave out)")
    parser.add_argument("--train-ids", type=int, default=None,
                        help="number of training ids, the first ones (default: half)")
    parser.add_argument("--img-size", type=int, default=IMG_SIZE, choices=IMG_SIZES,
                        help="pkl frame side in pixels, as OpenGait's pretreatment --img_size (default: 64)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args) -> int:
    """Run :func:`generate` from parsed arguments; 0 on success.

    Raises:
        ConfigError: a bad argument (the CLI prints it and exits with status 2).
    """
    layout = get_layout(getattr(args, "layout", "casiab"))
    part = generate(args.out, ids=args.ids, seed=args.seed, frames=args.frames,
                    views=args.views, types=getattr(args, "types", None),
                    train_ids=args.train_ids, progress=not getattr(args, "no_progress", False),
                    layout=layout.name, img_size=getattr(args, "img_size", IMG_SIZE))
    print(f"Wrote synthetic {layout.dataset_name}-layout data to {part.parent} (partition: {part}); "
          f"config: {layout.config}")
    if layout.evaluator_partition:
        print(f"Note: OpenGait's {'/'.join(layout.evaluators)} reads ./{layout.evaluator_partition} from the "
              f"run's working directory, not data_cfg.dataset_partition: copy {part} to "
              f"WORKDIR/{layout.evaluator_partition} and run with --workdir WORKDIR.")
    return 0
