"""The synthetic walkers of ``synth``: each id's body and gait, each (id, type)'s clothing and
carrying, and each sequence's nuisance, drawn from generators keyed by (seed, id, ...).

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

Covariates change appearance, not identity:

* ``bg-*``: a bag, per (id, type) either a shoulder bag at the hip with a
  strap, or a backpack; it swings a little with the gait;
* ``cl-*``: a coat, per (id, type): wider torso, thicker sleeves and a skirt
  that covers the thighs down to a random hem length.

Per sequence (id, type, view) a further generator adds nuisance: random
start phase, cadence jitter (sd 3 %), swing amplitude jitter (sd 4 %), view
and lean jitter (sd 1.5 and 1 degree), ragged edges (20 % of boundary pixels
flipped) and a few holes and specks.  Two sequences of the same id, type and view therefore differ.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layouts import CASIAB_TYPES, covariate_of, keyed_rng


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
