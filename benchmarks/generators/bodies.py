"""Synthetic CASIA-B-style gait data from articulated 3D bodies (tapered capsules).

A second, independently built generator: each identity is a person with its own
anthropometry (proportions from Winter's / Drillis-Contini segment tables as
fractions of stature, girths from adult body-measurement ranges) and its own gait
style; every sequence is that person walking one walk, seen by one camera.

Body model
    Every body part is a *tapered capsule*: the union of spheres swept along a
    segment with a linearly varying radius.  Limbs are single capsules (the shank
    two, so that the calf bulges); the torso is a vertical stack of lateral
    capsules whose radius is the torso's half-depth and whose length is set by its
    half-breadth (a stadium cross-section, flatter at the sides than an ellipse);
    the head is two capsules (cranium, face); coats and bags are *sheets*, bilinear
    patches of spheres.  Because everything is spheres, a perspective projection
    turns everything into discs, and rasterising is per-row interval painting.

Rendering
    Each capsule is sampled as spheres spaced well under their radius (the union
    differs from the exact swept hull by far less than a pixel).  Each sphere is
    projected to a disc; each disc covers, on every sub-pixel row it crosses, one
    interval of columns, painted with a difference array (``+1`` at the start,
    ``-1`` past the end, cumulative sum).  The frame is rendered directly in
    OpenGait's pretreated frame: the rows span the analytic top..bottom of the
    silhouette (so the body is exactly 64 px tall), the columns have the same pitch
    (aspect kept), at 2x2 supersampling, thresholded at half coverage; then the
    frame is re-centred on the column where the cumulative foreground first
    exceeds half of the total, like OpenGait's ``pretreatment.py``.

Cameras
    CASIA-B's convention: view ``090`` sees the walker from the side, ``000``
    walking towards the camera, ``180`` walking away.  The camera looks slightly
    down (5 degrees) from 6 m with a perspective projection, so that ``000`` and
    ``180`` are not mirror images of each other; it tracks the walker, whose
    forward motion would be removed by the centring anyway.  Likewise the vertical
    bob of the pelvis (feet kept on the ground) is removed by the height crop;
    only its effect on the pose remains.

Walks
    As in CASIA-B, one walk (an id's ``nm-01`` say) is seen by all 11 cameras at
    once: speed, stride and posture jitter are drawn per (id, type); the start
    phase of the clip and a little per-frame noise per (id, type, view).  The seeds
    of all of these are derived from ``(seed, id, type, view)``, so a subset of
    views or types gives the same files as the full set.

Pure numpy (tqdm for the progress bar): no torch, no OpenCV, no OpenGait.
"""
from __future__ import annotations

import argparse
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

import numpy as np

#: CASIA-B's 11 views, 18 degrees apart.
VIEWS = tuple(f"{a:03d}" for a in range(0, 181, 18))
#: CASIA-B's 10 walking conditions: normal, with a bag, in a coat.
TYPES = tuple([f"nm-{i:02d}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"])
#: Side of OpenGait's pretreated frames.
SIZE = 64
#: Sub-pixels per pixel along each axis (anti-aliasing of the 0/255 silhouette).
SUPERSAMPLE = 2
#: Camera distance (m) and downward pitch (deg).
CAMERA_DISTANCE = 6.0
CAMERA_PITCH = 5.0

# ---------------------------------------------------------------------------
# Anthropometry (fractions of stature H; Winter 2009 fig. 4.1, Drillis & Contini)
# ---------------------------------------------------------------------------
SHANK_L = 0.246
THIGH_L = 0.245
HIP_HALF = 0.048          # half the distance between the hip joint centres
LUMBAR_ABOVE_HIP = 0.09   # where the trunk bends over the pelvis
SHOULDER_ABOVE_HIP = 0.288  # shoulder joints at 0.818 H
SHOULDER_HALF = 0.100     # shoulder joint centres 0.2 H apart; + deltoids = 0.259 H
NECK_BASE = 0.305         # C7 above the hip joints (0.835 H)
NECK_L = 0.045
UPPER_ARM_L = 0.186
FOREARM_L = 0.146
HAND_L = 0.085            # relaxed, fingers curled (a flat hand is 0.108 H)
FOOT_BACK, FOOT_FORE = 0.025, 0.095  # heel and toe sphere centres behind / ahead of the ankle

# Torso: levels above the hip joints, half-breadth, half-depth, forward offset of the
# cross-section's centre (all in H).  Broadest at the hips and the chest, narrowest at
# the waist; deepest at the chest.  Female proportions scale the first rows up and the
# chest rows down (see _torso_profile).
_TORSO = np.array([
    # level   half-breadth  half-depth   z
    [-0.010, 0.088, 0.055, -0.010],
    [0.020, 0.094, 0.060, -0.008],
    [0.050, 0.090, 0.057, -0.003],
    [0.080, 0.082, 0.053, 0.002],
    [0.110, 0.080, 0.053, 0.004],
    [0.140, 0.083, 0.057, 0.004],
    [0.170, 0.088, 0.062, 0.004],
    [0.200, 0.093, 0.066, 0.003],
    [0.230, 0.095, 0.066, 0.000],
    [0.260, 0.093, 0.061, -0.004],
    [0.285, 0.085, 0.052, -0.008],
])

# Limb radii (in H) at their proximal and distal ends, for an average adult male
# (thigh 58 cm round at the top, 34 cm above the knee; calf 37 cm; ankle 22 cm;
# upper arm 30 cm, forearm 27 cm, wrist 16.5 cm; neck 38 cm).
R_THIGH = (0.046, 0.031)
R_SHANK_UP = (0.030, 0.034)   # knee -> fullest calf (30 % down the shank)
R_SHANK_LO = (0.034, 0.019)   # fullest calf -> ankle
R_FOOT = (0.020, 0.012)       # heel -> toes
R_UPPER_ARM = (0.030, 0.022)
R_FOREARM = (0.024, 0.015)
R_HAND = (0.015, 0.012)
R_NECK = (0.032, 0.030)
R_SHOULDER = (0.040, 0.032)   # neck base -> shoulder joint (trapezius)

# Normative sagittal gait kinematics (deg) over one stride from heel strike
# (Perry & Burnfield; Winter): hip flexion, ankle dorsiflexion.  The knee is two bumps,
# see _knee.
_HIP_KEYS = [(0.0, 30), (0.1, 27), (0.3, 8), (0.5, -10), (0.6, -2), (0.75, 22), (0.87, 33)]
_ANKLE_KEYS = [(0.0, 0), (0.07, -6), (0.3, 6), (0.45, 10), (0.62, -18), (0.72, -4), (0.85, 2)]


def _fourier(keys, harmonics: int = 5) -> np.ndarray:
    """Complex Fourier coefficients ``[harmonics + 1]`` of the periodic piecewise-linear
    curve through ``keys`` ((phase in [0, 1), value) pairs): truncating the series rounds
    the corners the way real joint-angle curves are round."""
    ph = np.array([k[0] for k in keys])
    val = np.array([k[1] for k in keys], dtype=float)
    grid = np.arange(256) / 256
    dense = np.interp(grid, np.r_[ph - 1, ph, ph + 1], np.r_[val, val, val])
    return np.fft.rfft(dense)[: harmonics + 1] / 256


def _eval_fourier(coef: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """The curve of :func:`_fourier` at ``phase`` (any shape, in strides)."""
    k = np.arange(1, coef.size)
    waves = np.exp(2j * np.pi * phase[..., None] * k)
    return coef[0].real + 2 * (waves * coef[1:]).real.sum(-1)


_HIP_COEF = _fourier(_HIP_KEYS)
_ANKLE_COEF = _fourier(_ANKLE_KEYS)
_HIP_MEAN = _HIP_COEF[0].real
_HIP_HALF_RANGE = 21.0


def _bump(phase: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Periodic Gaussian bump (height 1) at ``centre``, ``width`` in strides."""
    d = (phase - centre + 0.5) % 1.0 - 0.5
    return np.exp(-0.5 * (d / width) ** 2)


# ---------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------

@dataclass
class Person:
    """One identity: body shape, gait style, and what it carries / wears."""

    stature: float        # m
    male: float           # 1 male proportions, 0 female (blended linearly)
    girth: float          # BMI-like scale of all radii and torso depth
    belly: float          # extra abdominal depth (fraction)
    shoulder: float       # shoulder breadth scale
    hip: float            # hip breadth scale
    leg: float            # leg length scale (relative to trunk)
    thigh_shank: float    # thigh / shank split (> 1: longer thigh)
    arm: float            # arm length scale
    head: float           # head size scale (hair included)
    neck: float           # neck length scale
    lean: float           # trunk forward lean (deg)
    head_pitch: float     # head forward posture (deg)
    stride_frames: float  # frames per stride at CASIA-B's 25 fps (about 1.1 s: cadence)
    hip_amp: float        # hip flexion amplitude scale
    hip_bias: float       # hip flexion offset (deg)
    knee_stance: float    # knee flexion peak in loading response (deg)
    knee_swing: float     # knee flexion peak in swing (deg)
    ankle_amp: float      # ankle amplitude scale
    arm_amp: float        # shoulder swing half-range (deg)
    arm_asym: float       # left / right arm swing ratio
    arm_bias: float       # mean shoulder flexion (deg)
    elbow: float          # mean elbow flexion (deg)
    arm_abduct: float     # arms held away from the body (deg)
    pelvis_yaw: float     # pelvic rotation half-range (deg)
    thorax_counter: float  # thorax counter-rotation / pelvic rotation
    obliquity: float      # pelvic list half-range (deg)
    trunk_roll: float     # lateral trunk sway half-range (deg)
    sway: float           # lateral pelvis shift half-range (H)
    step_width: float     # lateral distance between the feet (H)
    toe_out: float        # foot progression angle (deg)
    bag_kind: str         # "backpack", "shoulder" or "hand"
    bag_side: int         # +1 left, -1 right
    bag_size: tuple       # (width, height, thickness) m
    coat_length: float    # coat hem along the thigh (fraction of thigh length)
    coat_ease: float      # coat thickness over the body (m)
    hair: float           # length of long hair below the crown (H); 0 = short hair


def draw_person(rng: np.random.Generator) -> Person:
    """A random adult and its gait style; the ranges are population spreads."""
    male = float(rng.random() < 0.6)
    n = rng.normal
    girth = float(np.clip(np.exp(n(0.0, 0.10)), 0.8, 1.35))
    kind = ("backpack", "shoulder", "hand")[rng.choice(3, p=[0.4, 0.4, 0.2])]
    if kind == "backpack":
        size = (rng.uniform(0.26, 0.34), rng.uniform(0.30, 0.45), rng.uniform(0.12, 0.20))
    elif kind == "shoulder":
        size = (rng.uniform(0.28, 0.40), rng.uniform(0.24, 0.34), rng.uniform(0.07, 0.12))
    else:
        size = (rng.uniform(0.28, 0.40), rng.uniform(0.20, 0.30), rng.uniform(0.08, 0.13))
    return Person(
        stature=float(n(1.76, 0.07) if male else n(1.63, 0.065)),
        male=male,
        girth=girth,
        belly=float(max(0.0, 1.6 * (girth - 1.0)) + abs(n(0, 0.03))),
        shoulder=float(n(1.0, 0.045)),
        hip=float(n(1.0, 0.045)),
        leg=float(n(1.0, 0.03)),
        thigh_shank=float(n(1.0, 0.035)),
        arm=float(n(1.0, 0.03)),
        head=float(n(1.0, 0.05)),
        neck=float(n(1.0, 0.12)),
        lean=float(np.clip(n(4.0, 2.5), -2, 12)),
        head_pitch=float(n(0.0, 4.0)),
        stride_frames=float(np.clip(n(27.0, 2.0), 22, 33)),
        hip_amp=float(np.clip(n(1.0, 0.12), 0.7, 1.35)),
        hip_bias=float(n(0.0, 3.0)),
        knee_stance=float(np.clip(n(14.0, 4.0), 3, 25)),
        knee_swing=float(np.clip(n(57.0, 4.0), 45, 68)),
        ankle_amp=float(np.clip(n(1.0, 0.15), 0.6, 1.4)),
        arm_amp=float(np.clip(n(14.0, 4.5), 4, 24)),
        arm_asym=float(np.clip(n(1.0, 0.12), 0.7, 1.3)),
        arm_bias=float(n(-8.0, 4.0)),
        elbow=float(np.clip(n(18.0, 6.0), 5, 35)),
        arm_abduct=float(np.clip(n(8.0, 3.0), 2, 16)),
        pelvis_yaw=float(np.clip(n(5.0, 2.0), 1, 10)),
        thorax_counter=float(np.clip(n(0.8, 0.25), 0.2, 1.4)),
        obliquity=float(np.clip(n(4.0, 1.5), 0.5, 8)),
        trunk_roll=float(np.clip(n(2.5, 1.0), 0.3, 6)),
        sway=float(np.clip(n(0.014, 0.004), 0.004, 0.025)),
        step_width=float(np.clip(n(0.06, 0.015), 0.02, 0.10)),
        toe_out=float(np.clip(n(7.0, 4.0), -5, 20)),
        bag_kind=kind,
        bag_side=int(rng.choice([-1, 1])),
        bag_size=tuple(float(s) for s in size),
        coat_length=float(rng.uniform(0.45, 1.0)),
        coat_ease=float(rng.uniform(0.015, 0.035)),
        hair=float(rng.uniform(0.09, 0.2)) if rng.random() < (0.05 if male else 0.5) else 0.0,
    )


@dataclass
class Walk:
    """One walk of a person (one (id, type)); its clips differ by start phase."""

    speed: float       # stride-rate factor (1 = the person's cadence)
    amp: float         # joint amplitude factor (faster walks take longer strides)
    lean: float        # extra trunk lean (deg)
    arm: float         # arm swing factor


def draw_walk(rng: np.random.Generator) -> Walk:
    speed = float(np.clip(rng.normal(1.0, 0.04), 0.88, 1.12))
    return Walk(speed=speed, amp=float(1.0 + 0.6 * (speed - 1.0) + rng.normal(0, 0.02)),
                lean=float(rng.normal(0, 1.0)), arm=float(np.clip(rng.normal(1.0, 0.08), 0.7, 1.3)))


# ---------------------------------------------------------------------------
# Geometry helpers (arrays of per-frame vectors [T, 3] and rotations [T, 3, 3])
# ---------------------------------------------------------------------------

def _rot(axis: int, deg: np.ndarray) -> np.ndarray:
    """Rotations ``[T, 3, 3]`` about x (0), y (1) or z (2) by ``deg`` ``[T]``.

    Axes: x to the walker's left, y up, z forward.  Positive x-rotation tilts +y
    towards +z (a forward lean); positive y-rotation turns +x towards -z; positive
    z-rotation turns +y towards -x."""
    a = np.radians(np.asarray(deg, dtype=float))
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def _apply(rot: np.ndarray, vec) -> np.ndarray:
    """``rot`` ``[T, 3, 3]`` applied to ``vec`` ``[3]`` or ``[T, 3]`` -> ``[T, 3]``."""
    vec = np.asarray(vec, dtype=float)
    if vec.ndim == 1:
        return rot @ vec
    return np.einsum("tij,tj->ti", rot, vec)


def _sagittal(deg: np.ndarray, frontal: np.ndarray) -> np.ndarray:
    """Unit vectors ``[T, 3]``: straight down swung forward by ``deg`` about the lateral
    axis, then out sideways by ``frontal`` (deg, positive towards +x)."""
    a, g = np.radians(deg), np.radians(frontal)
    down = np.stack([np.zeros_like(a), -np.cos(a), np.sin(a)], -1)
    return np.stack([down[:, 0] * np.cos(g) - down[:, 1] * np.sin(g),
                     down[:, 0] * np.sin(g) + down[:, 1] * np.cos(g), down[:, 2]], -1)


class _Capsules:
    """Accumulates tapered capsules: per-frame end points ``[T, 3]`` and end radii."""

    def __init__(self):
        self.a, self.b, self.r0, self.r1 = [], [], [], []

    def add(self, a, b, r0: float, r1: float):
        self.a.append(np.asarray(a, float))
        self.b.append(np.asarray(b, float))
        self.r0.append(float(r0))
        self.r1.append(float(r1))

    def sheet(self, corners, radii: Sequence[float]):
        """A bilinear patch of spheres, i.e. a rounded slab ``2 r`` thick, as rows of
        capsules from the top edge to the bottom edge.  ``corners`` = (top-left,
        top-right, bottom-left, bottom-right) ``[T, 3]``; ``radii`` = (top, bottom).  Rows
        are spaced at most half the smaller radius, so the slab's edges stay smooth."""
        tl, tr, bl, br = corners
        span = max(np.linalg.norm(bl - tl, axis=-1).max(), np.linalg.norm(br - tr, axis=-1).max())
        rows = max(2, int(np.ceil(span / (0.5 * min(radii)))) + 1)
        for v in np.linspace(0.0, 1.0, rows):
            r = radii[0] + (radii[1] - radii[0]) * v
            self.add(tl + (bl - tl) * v, tr + (br - tr) * v, r, r)

    def arrays(self):
        """``a, b`` ``[T, C, 3]``, ``r0, r1`` ``[C]``."""
        return (np.stack(self.a, 1), np.stack(self.b, 1), np.array(self.r0), np.array(self.r1))


# ---------------------------------------------------------------------------
# Posing
# ---------------------------------------------------------------------------

def _torso_profile(p: Person, H: float, coat: float) -> np.ndarray:
    """Torso cross-sections ``[L, 4]`` (level, half-breadth, half-depth, z) in metres.
    Levels 3 % of stature apart overlap ample: their radius is at least 5 %."""
    t = _TORSO.copy()
    lv = t[:, 0]
    # female: broader hips, narrower chest; everyone: own hip / shoulder breadth
    hips = np.clip(1 - (lv - 0.02) / 0.12, 0, 1)
    chest = np.clip((lv - 0.15) / 0.08, 0, 1)
    t[:, 1] *= (1 + (1 - p.male) * (0.07 * hips - 0.07 * chest)) * (1 + (p.hip - 1) * hips) \
        * (1 + (p.shoulder - 1) * 0.5 * chest)
    belly = _bump(lv * 2.0, 0.22, 0.08)  # around the waist, level ~0.1 H
    t[:, 1] *= 0.55 + 0.45 * p.girth
    t[:, 2] *= p.girth * (1 + p.belly * belly)
    t[:, 3] += 0.6 * p.belly * belly * t[:, 2]
    prof = t * H
    prof[:, 1:3] += coat
    return prof


def pose_body(p: Person, walk: Walk, phase: np.ndarray, kind: str,
              rng: Optional[np.random.Generator] = None) -> _Capsules:
    """The person's capsules over a clip.

    ``phase`` ``[T]`` is the right leg's stride phase (0 = right heel strike);
    ``kind`` is ``nm``, ``bg`` or ``cl``; ``rng`` adds slow per-frame noise to the
    joint angles when given.  Returns capsules with end points ``[T, 3]`` in metres, feet
    on the ground (y = 0), walking towards +z."""
    T = phase.size
    H = p.stature
    noise = (lambda s: _smooth_noise(rng, T, s)) if rng is not None else (lambda s: np.zeros(T))
    amp = walk.amp
    cl = kind == "cl"
    ease = p.coat_ease if cl else 0.0
    g = p.girth
    bag = kind == "bg"

    # --- joint angles ---------------------------------------------------------------
    def leg_angles(ph):
        hip = _HIP_MEAN + p.hip_bias + amp * p.hip_amp * (_eval_fourier(_HIP_COEF, ph) - _HIP_MEAN)
        knee = 4 + p.knee_stance * _bump(ph, 0.15, 0.07) + (p.knee_swing - 4) * amp \
            * _bump(ph, 0.72, 0.105)
        ankle = p.ankle_amp * _eval_fourier(_ANKLE_COEF, ph)
        return hip + noise(1.0), knee + noise(1.5), ankle + noise(1.5)

    ph = {-1: phase, 1: phase + 0.5}  # right (-x) and left (+x) legs, half a stride apart
    sway = -p.sway * H * np.sin(2 * np.pi * phase)               # pelvis over the stance foot
    yaw = p.pelvis_yaw * np.cos(2 * np.pi * phase) + noise(0.5)  # right hip forward at right strike
    obl = -p.obliquity * np.sin(2 * np.pi * phase)               # swing side drops
    roll = p.trunk_roll * np.sin(2 * np.pi * phase) + noise(0.4)  # lean over the stance leg
    lean = p.lean + walk.lean + 1.0 * np.sin(4 * np.pi * (phase - 0.05)) + noise(0.4)

    r_pelvis = _rot(1, yaw) @ _rot(2, obl)
    r_trunk = _rot(1, -p.thorax_counter * yaw) @ _rot(0, lean) @ _rot(2, roll)
    zero = np.zeros(T)
    pelvis = np.stack([sway, zero, zero], -1)  # hip-joint level; height fixed at the end

    caps = _Capsules()
    hip_half = HIP_HALF * H * (1 + (1 - p.male) * 0.06) * p.hip
    thigh_l = THIGH_L * H * p.leg * p.thigh_shank ** 0.5
    shank_l = SHANK_L * H * p.leg / p.thigh_shank ** 0.5
    leg_l = thigh_l + shank_l
    coat_hem = {}

    # --- legs -----------------------------------------------------------------------
    for s in (-1, 1):
        hip_a, knee_a, ankle_a = leg_angles(ph[s])
        joint = pelvis + _apply(r_pelvis, [s * hip_half, 0, 0])
        # the leg plane tilts so that the foot lands at half the step width
        frontal = np.degrees(np.arctan2(s * p.step_width * H / 2 - joint[:, 0], leg_l))
        thigh_dir = _sagittal(hip_a, frontal)
        shank_deg = hip_a - knee_a
        shank_dir = _sagittal(shank_deg, frontal)
        knee = joint + thigh_l * thigh_dir
        ankle = knee + shank_l * shank_dir
        calf = knee + 0.3 * shank_l * shank_dir
        foot_deg = np.radians(shank_deg + ankle_a)
        toe_out = np.radians(s * p.toe_out)
        fwd = np.stack([np.cos(foot_deg) * np.sin(toe_out), np.sin(foot_deg),
                        np.cos(foot_deg) * np.cos(toe_out)], -1)
        up = np.stack([-np.sin(foot_deg) * np.sin(toe_out), np.cos(foot_deg),
                       -np.sin(foot_deg) * np.cos(toe_out)], -1)
        heel = ankle - FOOT_BACK * H * fwd - 0.020 * H * up
        toe = ankle + FOOT_FORE * H * fwd - 0.027 * H * up
        caps.add(joint, knee, R_THIGH[0] * H * g, R_THIGH[1] * H * g)
        caps.add(knee, calf, R_SHANK_UP[0] * H * g, R_SHANK_UP[1] * H * g)
        caps.add(calf, ankle, R_SHANK_LO[0] * H * g, R_SHANK_LO[1] * H * g ** 0.5)
        caps.add(heel, toe, R_FOOT[0] * H, R_FOOT[1] * H)
        coat_hem[s] = (joint, thigh_dir, thigh_l)

    # --- torso ----------------------------------------------------------------------
    prof = _torso_profile(p, H, ease)
    lumbar_h = LUMBAR_ABOVE_HIP * H
    lumbar = pelvis + _apply(r_pelvis, [0, lumbar_h, 0])

    def trunk_point(level, x, z):
        """A point of the trunk, riding the pelvis below the lumbar pivot, the thorax above."""
        if level <= lumbar_h:
            return pelvis + _apply(r_pelvis, [x, level, z])
        return lumbar + _apply(r_trunk, [x, level - lumbar_h, z])

    for level, bw, dp, z in prof:
        half = max(bw - dp, 0.0)
        caps.add(trunk_point(level, -half, z), trunk_point(level, half, z), dp, dp)

    # --- shoulders, arms, neck, head -----------------------------------------------------
    sh_half = SHOULDER_HALF * H * (1 - (1 - p.male) * 0.08) * p.shoulder * (0.85 + 0.15 * g)
    sh_h = SHOULDER_ABOVE_HIP * H
    neck_base = trunk_point(NECK_BASE * H, 0.0, -0.01 * H)
    carry_hand = bag and p.bag_kind == "hand"
    hands = {}
    for s in (-1, 1):
        shoulder = trunk_point(sh_h, s * sh_half, 0.0)
        # arms swing against the same-side leg, lagging it a little
        hip_wave = (_eval_fourier(_HIP_COEF, ph[s] - 0.03) - _HIP_MEAN) / _HIP_HALF_RANGE
        amp_arm = p.arm_amp * walk.arm * (p.arm_asym if s > 0 else 1 / p.arm_asym)
        abduct = p.arm_abduct + (ease * 150 if cl else 0.0)
        if bag and p.bag_kind == "shoulder" and s == p.bag_side:
            abduct += 10.0  # the arm clears the bag
        elbow = p.elbow
        if carry_hand and s == p.bag_side:
            amp_arm *= 0.35  # a loaded arm hardly swings
            elbow *= 0.4
        flex = p.arm_bias - amp_arm * hip_wave + noise(1.0)
        # the elbow flexes as the arm swings forward (Collins et al. 2009: shoulder
        # about -25..+10 deg, elbow 15..45 deg)
        elbow_a = np.maximum(elbow + 0.5 * (flex - p.arm_bias) + noise(1.0), 2.0)
        up_dir = _sagittal(flex + lean * 0.3, s * abduct)
        fore_dir = _sagittal(flex + elbow_a + lean * 0.3, s * abduct * 0.8)
        hand_dir = _sagittal(flex + elbow_a + 10 + lean * 0.3, s * abduct * 0.6)
        elbow_p = shoulder + UPPER_ARM_L * H * p.arm * up_dir
        wrist = elbow_p + FOREARM_L * H * p.arm * fore_dir
        tip = wrist + HAND_L * H * p.arm * hand_dir
        sleeve = ease * 0.7
        caps.add(neck_base, shoulder, R_SHOULDER[0] * H * g + ease, R_SHOULDER[1] * H * g + ease)
        caps.add(shoulder, elbow_p, R_UPPER_ARM[0] * H * g + sleeve, R_UPPER_ARM[1] * H * g + sleeve)
        caps.add(elbow_p, wrist, R_FOREARM[0] * H * g + sleeve, R_FOREARM[1] * H * g + sleeve)
        caps.add(wrist, tip, R_HAND[0] * H, R_HAND[1] * H)
        hands[s] = tip

    head_deg = 0.4 * (p.lean + walk.lean) + p.head_pitch + noise(0.5)
    neck_dir = _sagittal(180.0 - head_deg, np.zeros(T))  # pointing up, tipped forward
    neck_top = neck_base + NECK_L * H * p.neck * neck_dir
    caps.add(neck_base, neck_top, R_NECK[0] * H * g + ease * 0.8, R_NECK[1] * H * g)
    r_head = _rot(0, head_deg)
    hs = H * p.head
    head = lambda y, z: neck_top + _apply(r_head, [0.0, y * hs, z * hs])  # noqa: E731
    caps.add(head(0.080, -0.020), head(0.080, 0.000), 0.0445 * hs, 0.0445 * hs)  # cranium
    caps.add(head(0.050, 0.022), head(0.012, 0.022), 0.034 * hs, 0.030 * hs)     # face, jaw
    if p.hair:  # long hair: from the crown down the back of the head and neck
        caps.add(head(0.085, -0.022), head(0.085 - p.hair, -0.040), 0.047 * hs, 0.028 * hs)

    # --- coat skirt -------------------------------------------------------------------
    if cl:
        tops, hems = {}, {}
        for s in (-1, 1):
            joint, thigh_dir, tl = coat_hem[s]
            tops[s] = trunk_point(0.02 * H, s * hip_half * 0.8, 0.0)
            hems[s] = joint + p.coat_length * tl * thigh_dir + np.array([s * 0.01 * H, 0, 0])
        r_top = float(prof[1, 2])
        r_hem = R_THIGH[1] * H * g + (R_THIGH[0] - R_THIGH[1]) * H * g * (1 - p.coat_length) + ease
        caps.sheet((tops[-1], tops[1], hems[-1], hems[1]), (r_top, r_hem))

    # --- bag --------------------------------------------------------------------------
    if bag:
        w, h, t = p.bag_size
        s = p.bag_side
        r = t / 2
        if p.bag_kind == "backpack":
            back = -(prof[-4, 2] + r + 0.01)
            c = lambda x, y: trunk_point(y, x, back)  # noqa: E731
            top_y, bot_y = 0.25 * H - r, 0.25 * H - h + r
            corners = (c(-w / 2 + r, top_y), c(w / 2 - r, top_y),
                       c(-w / 2 + r, bot_y), c(w / 2 - r, bot_y))
            caps.sheet(corners, (r, r))
        else:
            if p.bag_kind == "shoulder":
                # hangs at the hip on a strap from the other shoulder; swings a little
                hang = pelvis + _apply(r_pelvis, [s * (prof[1, 1] + r), 0.06 * H, 0.0])
                swing = 6.0 * np.sin(4 * np.pi * (phase - 0.1))
                strap_from = trunk_point(sh_h + 0.02 * H, -s * sh_half * 0.6, 0.0)
                caps.add(strap_from, hang + np.array([0, 0.02, 0]), 0.012, 0.012)
            else:
                hang = hands[s]
                swing = 4.0 * np.sin(2 * np.pi * (phase + (0.5 if s > 0 else 0.0)))
            down = _sagittal(swing, 0.0)                          # [T, 3], mostly -y
            fwd = np.stack([zero, down[:, 2], -down[:, 1]], -1)  # +z when hanging straight
            top = hang + (r + 0.01) * down
            corners = (top - (w / 2 - r) * fwd, top + (w / 2 - r) * fwd,
                       top + (h - 2 * r) * down - (w / 2 - r) * fwd,
                       top + (h - 2 * r) * down + (w / 2 - r) * fwd)
            caps.sheet(corners, (r, r))

    # --- feet on the ground ---------------------------------------------------------
    a, b, r0, r1 = caps.arrays()
    lowest = np.minimum((a[..., 1] - r0).min(1), (b[..., 1] - r1).min(1))  # [T]
    # the vertical bob is what the legs' geometry makes it, as in real walking
    shift = -lowest
    caps.a = [x + np.stack([zero, shift, zero], -1) for x in caps.a]
    caps.b = [x + np.stack([zero, shift, zero], -1) for x in caps.b]
    return caps


def _smooth_noise(rng: np.random.Generator, T: int, sd: float) -> np.ndarray:
    """Slowly varying noise ``[T]`` of standard deviation about ``sd`` (a 5-frame
    moving average of white noise, rescaled): tremor-free, like real small variations."""
    raw = rng.normal(0.0, sd, T + 4)
    return np.convolve(raw, np.ones(5) / 5 ** 0.5, mode="valid")


# ---------------------------------------------------------------------------
# Camera and rasteriser
# ---------------------------------------------------------------------------

def spheres(caps: _Capsules, rng: Optional[np.random.Generator] = None):
    """Sample every capsule as spheres spaced at most 0.9 of its smaller radius (the
    union then stays within 0.1 r of the exact swept hull: under a quarter pixel).
    Returns centres ``[T, D, 3]`` and radii ``[T, D]``; ``rng`` jitters each capsule's
    radius by about 1.5 % per frame (the ragged edges of real segmentations)."""
    a, b, r0, r1 = caps.arrays()
    T, C = a.shape[:2]
    length = np.linalg.norm(b - a, axis=-1).max(0)
    k = np.maximum(2, np.ceil(length / (0.9 * np.minimum(r0, r1))).astype(int) + 1)
    cap = np.repeat(np.arange(C), k)
    t = np.concatenate([np.linspace(0.0, 1.0, n) for n in k])
    centres = a[:, cap] + (b - a)[:, cap] * t[None, :, None]
    radii = np.broadcast_to(r0[cap] + (r1 - r0)[cap] * t, (T, cap.size))
    if rng is not None:
        radii = radii * (1 + 0.015 * rng.standard_normal((T, C)))[:, cap]
    return centres, radii


def project(centres: np.ndarray, radii: np.ndarray, view: float, stature: float):
    """Perspective projection onto a camera at CASIA-B view angle ``view`` (deg):
    ``centres`` ``[T, D, 3]``, ``radii`` ``[T, D]`` -> image ``x, y, r`` ``[T, D]`` in
    metres at the walker's distance (y up).  A sphere's image is taken as the disc of
    its centre's projection and its radius scaled by the same depth (exact in the
    orthographic limit; at 6 m the error is far below a pixel)."""
    th, pi = np.radians(view), np.radians(CAMERA_PITCH)
    back = np.array([np.sin(th), 0.0, np.cos(th)])         # towards the camera, level
    right = np.array([np.cos(th), 0.0, -np.sin(th)])        # image x
    look = -(np.cos(pi) * back + np.array([0.0, np.sin(pi), 0.0]))
    up = np.array([0.0, np.cos(pi), 0.0]) - np.sin(pi) * back
    target = np.array([0.0, 0.55 * stature, 0.0])
    cam = target - CAMERA_DISTANCE * look
    rel = centres - cam
    scale = CAMERA_DISTANCE / (rel @ look)
    return (rel @ right) * scale, (rel @ up) * scale, radii * scale


def rasterise(x: np.ndarray, y: np.ndarray, r: np.ndarray, size: int = SIZE,
              supersample: int = SUPERSAMPLE) -> np.ndarray:
    """Discs ``x, y, r`` ``[T, D]`` (y up) -> pretreated frames, uint8 ``[T, size, size]``
    of 0 / 255: body height ``size`` px, re-centred on the foreground's median column.

    The rows span each frame's analytic top..bottom, so no crop-and-resize pass is
    needed.  The canvas is only as wide as the widest frame's bounding box: the
    centring crop pads with zeros whatever lies outside it."""
    T, D = x.shape
    ss = supersample
    R = size * ss
    top = (y + r).max(1)
    sub = (top - (y - r).min(1)) / R                       # sub-pixel pitch [T]
    x_lo, x_hi = (x - r).min(1), (x + r).max(1)
    canvas = int(np.ceil(((x_hi - x_lo) / (sub * ss)).max())) + 2
    W = canvas * ss
    left = 0.5 * (x_lo + x_hi) - 0.5 * W * sub
    u = (top[:, None] - y) / sub[:, None]                  # disc centre, in sub-rows
    v = (x - left[:, None]) / sub[:, None]                 # ... and sub-columns
    rr = r / sub[:, None]
    n = T * R * (W + 1)                                    # difference-array bins
    frame_row = (np.arange(T, dtype=np.float64) * R)[:, None, None]
    starts, ends = [], []
    # discs grouped by size, so that small ones scan few rows
    for g in np.array_split(np.argsort(rr.max(0)), 4):
        if g.size == 0:
            continue
        ug, vg, rg = (a[:, g, None].astype(np.float32) for a in (u, v, rr))
        first = np.floor(ug - rg - 0.5) + 1                # first sub-row the disc reaches
        rows = first + np.arange(int(np.ceil(2 * rg.max())) + 1, dtype=np.float32)
        dy = rows + 0.5 - ug
        h2 = rg * rg - dy * dy
        half = np.sqrt(np.maximum(h2, 0))
        jlo = np.clip(np.ceil(vg - half - 0.5), 0, W)
        jhi = np.clip(np.floor(vg + half + 0.5), jlo, W)   # an empty row: start == end
        line = (frame_row + rows) * (W + 1)                # float64: exact integers
        ok = (h2 > 0) & (rows >= 0) & (rows < R)
        starts.append(np.where(ok, line + jlo, n).ravel())  # bin n: discarded
        ends.append(np.where(ok, line + jhi, n).ravel())
    # +1 where an interval starts, -1 past its end; the running sum counts covers
    starts, ends = np.concatenate(starts), np.concatenate(ends)
    edges = np.bincount(np.concatenate([starts, ends]).astype(np.int64),
                        weights=np.repeat(np.array([1.0, -1.0]), starts.size), minlength=n + 1)
    fg = (edges[:n].reshape(T, R, W + 1)[..., :W].cumsum(-1) > 0.5).view(np.uint8)
    # half coverage of the ss x ss sub-pixels
    if ss == 2:  # strided adds: much faster than a reshaped sum
        pairs = fg[:, 0::2] + fg[:, 1::2]
        count = pairs[..., 0::2] + pairs[..., 1::2]
    else:
        count = fg.reshape(T, size, ss, canvas, ss).sum((2, 4), dtype=np.uint8)
    img = count * 2 >= ss * ss                             # at least half covered
    # OpenGait's centring: first column where the cumulative sum exceeds half the total
    cum = img.sum(1).cumsum(1)
    centre = (cum > cum[:, -1:] / 2).argmax(1)
    padded = np.pad(img, ((0, 0), (0, 0), (size // 2, size // 2)))
    out = np.stack([padded[t, :, c:c + size] for t, c in enumerate(centre)])
    return out.astype(np.uint8) * 255


def render_clip(person: Person, walk: Walk, kind: str, view: float, frames: int,
                rng: np.random.Generator) -> np.ndarray:
    """One clip: uint8 ``[frames, 64, 64]``.  ``kind`` is ``nm``, ``bg`` or ``cl``; ``rng``
    gives the start phase and the per-frame noise."""
    start = rng.random()
    phase = start + np.arange(frames) * walk.speed / person.stride_frames
    caps = pose_body(person, walk, phase, kind, rng)
    centres, radii = spheres(caps, rng)
    return rasterise(*project(centres, radii, view, person.stature))


# ---------------------------------------------------------------------------
# Dataset
# ---------------------------------------------------------------------------

def _select(value, allowed: Sequence[str], name: str, number: bool) -> list:
    """``None`` -> all of ``allowed``; else a list or comma string, checked."""
    if value is None:
        return list(allowed)
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in items:
        key = str(item).strip()
        if number and key.isdigit():
            key = f"{int(key):03d}"
        if key not in allowed:
            raise ValueError(f"{name}: unknown {name[:-1]} {item!r}; choose from {', '.join(allowed)}")
        if key not in out:
            out.append(key)
    if not out:
        raise ValueError(f"{name}: empty selection")
    return out


def generate(out_dir: Union[str, Path], ids: int = 8, seed: int = 0, frames: int = 40,
             views: Union[None, str, Iterable] = None, types: Union[None, str, Iterable] = None,
             train_ids: Optional[int] = None, progress: bool = True) -> Path:
    """Write a CASIA-B-layout dataset of articulated-body walkers and return its
    ``partition.json``.

    ``OUT/<id>/<type>/<view>/<view>.pkl`` holds a pickled uint8 array ``[frames, 64, 64]``
    (0 / 255); ids are ``001``...; ``views`` and ``types`` select subsets (list or comma
    string; ``None`` = all 11 views / all 10 types); the first ``train_ids`` ids
    (default ``ids // 2``) form ``TRAIN_SET``, the rest ``TEST_SET``.  The same ``seed``
    writes bit-identical files."""
    if isinstance(ids, bool) or not isinstance(ids, (int, np.integer)) or not 2 <= ids <= 999:
        raise ValueError(f"ids: need an integer from 2 to 999, got {ids!r}")
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"frames: need an integer >= 1, got {frames!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: need an integer >= 0, got {seed!r}")
    if train_ids is None:
        train_ids = ids // 2
    if isinstance(train_ids, bool) or not isinstance(train_ids, (int, np.integer)) \
            or not 1 <= train_ids < ids:
        raise ValueError(f"train_ids: need an integer from 1 to ids - 1 = {ids - 1}, got {train_ids!r}")
    view_list = _select(views, VIEWS, "views", number=True)
    type_list = _select(types, TYPES, "types", number=False)
    out = Path(out_dir)
    names = [f"{i + 1:03d}" for i in range(ids)]
    try:
        from tqdm import tqdm
        bar = tqdm(total=ids * len(type_list) * len(view_list), desc="bodies",
                   unit="seq", disable=not progress)
    except ImportError:  # the progress bar is a nicety
        bar = None
    for i, name in enumerate(names):
        person = draw_person(np.random.default_rng([seed, 0, i]))
        for ty in type_list:
            ti = TYPES.index(ty)
            walk = draw_walk(np.random.default_rng([seed, 1, i, ti]))
            for vw in view_list:
                clip_rng = np.random.default_rng([seed, 2, i, ti, VIEWS.index(vw)])
                seq = render_clip(person, walk, ty[:2], float(vw), frames, clip_rng)
                folder = out / name / ty / vw
                folder.mkdir(parents=True, exist_ok=True)
                with open(folder / f"{vw}.pkl", "wb") as f:
                    pickle.dump(seq, f, protocol=4)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    partition = out / "partition.json"
    partition.write_text(json.dumps({"TRAIN_SET": names[:train_ids], "TEST_SET": names[train_ids:]},
                                    indent=1))
    return partition


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m benchmarks.generators.bodies --out DIR [--ids N --seed S --frames F]``."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.generators.bodies",
        description="Write a synthetic CASIA-B-layout gait dataset of articulated 3D bodies.")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--ids", type=int, default=8, help="number of people (default 8)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--frames", type=int, default=40, help="frames per sequence (default 40)")
    ap.add_argument("--views", default=None, help="comma list of views, e.g. 000,090 (default all)")
    ap.add_argument("--types", default=None, help="comma list of types, e.g. nm-01,cl-01 (default all)")
    ap.add_argument("--train-ids", type=int, default=None, help="ids in TRAIN_SET (default ids // 2)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        path = generate(args.out, ids=args.ids, seed=args.seed, frames=args.frames, views=args.views,
                        types=args.types, train_ids=args.train_ids, progress=not args.quiet)
    except ValueError as exc:
        ap.error(str(exc))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
