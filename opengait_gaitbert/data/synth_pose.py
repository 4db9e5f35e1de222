"""A synthetic walker's pose: its joints in 3-D over a sequence, all frames at once.

A pose is computed analytically per frame: the thigh swings as
``A sin(phase)``, the knee flexes during swing, the foot stays roughly
perpendicular to the shin, each arm swings against the leg on its side.
Joints live in 3-D (x forward, y up, z lateral).
"""
from __future__ import annotations

import numpy as np

from .synth_walkers import Identity, Nuisance


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
