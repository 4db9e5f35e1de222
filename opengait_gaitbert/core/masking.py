"""The masked-frame sampler: which content of a silhouette sequence the model may not see.

Mask convention (as in MAE): **0 = keep, 1 = hidden / predicted**. The loss is
computed where the mask is 1, against the *clean* target, never against a
target that was masked too.

Four modes, each a small generator callable in the VideoMAE style that returns
units ``(frame index, row slice, column slice)``:

- ``frame``:  whole frames hidden, BERT-like;
- ``patch``:  square patches (32x32 by default) hidden in randomly chosen frames;
- ``band``:   a static occluder (a wall, a car, a crowd): a band along one side of
  the frame (``band_sides``), ``band_size`` thick, hidden in one contiguous run
  of frames;
- ``moving``: a moving occluder (a passer-by, a pole as the camera pans): a
  full-height vertical bar, ``band_size`` of the width wide, that slides at
  constant speed from one edge to the other during one contiguous run of frames.

``mode`` may also be a list of these: each sequence then draws one of them
(weighted by ``mode_weights``), so one batch mixes occlusion kinds.

Chosen content is zeroed, as MAE hides patches; the loss covers all of it.

Guarantees, for every mode and ratio: at least one unit is chosen (so the loss
is never empty); ``frame`` never hides every frame; the region modes
(``patch``, ``band``, ``moving``) may touch every frame but never hide a whole
frame. Randomness comes from an explicit ``numpy.random.Generator``; see
:func:`rng_for_sequence`.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, fields
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .errors import ConfigError, DataError, close_match_hint, config_error, location, reject_retired_values

MODES = ("frame", "patch", "band", "moving")
# Modes that hide whole frames (never all of them) and modes that hide part of frames.
FRAME_MODES = ("frame",)
REGION_MODES = ("patch", "band", "moving")
SIDES = ("top", "bottom", "left", "right")
WHERE = "MaskedFrameSampler (trainer_cfg.transform)"
_UNUSED = ("was removed on 2026-12-07: no shipped recipe used it and no measurement showed it helping "
           "(BERT's recipe masks with a mixture of patch, band, moving and frame; "
           "configs/gaitbert/gaitbert_casiab_bert.yaml).")
#: sampler keys and modes that no longer exist, and what became of them
RETIRED_SAMPLER_KEYS = {
    "bert_policy": "(BERT's 80/10/10 hide / replace / keep rule) " + _UNUSED + " Delete the key.",
    "span_count": "(the runs of the `span` mode) " + _UNUSED + " Delete the key.",
}
RETIRED_MODES = {
    "span": "(contiguous runs of whole frames) " + _UNUSED + " The `band` and `moving` modes hide "
            "contiguous runs; `frame` hides whole frames.",
}

# A unit is one chosen region: (frame index, row slice, column slice).
Unit = Tuple[int, slice, slice]


@dataclass
class MaskingPolicy:
    """What to hide, held as validated fields (like HF's DataCollatorForLanguageModeling).

    Attributes:
        mode: ``frame`` | ``patch`` | ``band`` | ``moving``, or a list of
            them: each sequence then draws one (see ``mode_weights``).
        ratio: fraction of the frames chosen, in [0, 1], or with a list ``mode`` a
            list of them, one per mode (a static occluder covers a whole clip, a
            dropped-frame run does not). The count is rounded and clipped to at least
            one frame; ``frame`` clips it to at most ``s - 1`` (they hide
            whole frames), the region modes to ``s``.
        patch_size: side of a square patch in pixels (``patch`` mode).
        patches_per_frame: patches per chosen frame (``patch`` mode).
        band_sides: sides a ``band`` may sit on, a subset of top/bottom/left/right;
            one is drawn per sequence.
        band_size: ``[min, max]`` fractions in (0, 1): the band's thickness as a
            fraction of the frame height (top/bottom) or width (left/right), and the
            ``moving`` bar's width as a fraction of the frame width; drawn per sequence.
        mode_weights: with a list ``mode``, positive weights of its modes (same
            length); ``None`` draws them uniformly.
        seed: ``None`` draws from numpy's global RNG (which OpenGait seeds per rank);
            an int makes each sequence's mask a function of (seed, content), so the
            same clip gets the same mask whatever the world size.
    """

    # The defaults are BERT's recipe's (configs/gaitbert/gaitbert_casiab_bert.yaml; a test holds them equal).
    mode: Union[str, Sequence[str]] = ("patch", "band", "moving", "frame")
    ratio: Union[float, Sequence[float]] = 0.5
    patch_size: int = 32
    patches_per_frame: int = 1
    band_sides: Sequence[str] = SIDES
    band_size: Sequence[float] = (0.2, 0.5)
    mode_weights: Optional[Sequence[float]] = None
    seed: Optional[int] = None

    def __post_init__(self) -> None:
        self._check_mode()
        checks = [
            ("ratio", _is_fraction(self.ratio) or (
                _is_list(self.ratio) and len(self.ratio) == len(self.modes) and all(map(_is_fraction, self.ratio))),
             f"a number in [0, 1], or a list of {len(self.modes)} such number(s), one per mode in `mode`"),
            ("patch_size", _is_int(self.patch_size) and self.patch_size >= 1, "an int >= 1"),
            ("patches_per_frame", _is_int(self.patches_per_frame) and self.patches_per_frame >= 1,
             "an int >= 1"),
            ("band_sides", _is_list(self.band_sides) and len(self.band_sides) >= 1
             and all(isinstance(s, str) and s in SIDES for s in self.band_sides)
             and len(set(self.band_sides)) == len(self.band_sides),
             f"a list of distinct sides from {', '.join(SIDES)}, e.g. [bottom, left]"),
            ("band_size", _is_list(self.band_size) and len(self.band_size) == 2
             and all(_is_number(v) for v in self.band_size)
             and 0.0 < float(self.band_size[0]) <= float(self.band_size[1]) < 1.0,
             "[min, max] fractions with 0 < min <= max < 1, e.g. [0.2, 0.5]"),
            ("mode_weights", self.mode_weights is None or (
                _is_list(self.mode_weights) and len(self.mode_weights) == len(self.modes)
                and all(_is_number(v) and math.isfinite(float(v)) and float(v) > 0 for v in self.mode_weights)),
             f"null (uniform) or a list of {len(self.modes)} positive number(s), one per mode in `mode`"),
            ("seed", self.seed is None or _is_int(self.seed), "null or an int"),
        ]
        for key, ok, allowed in checks:
            if not ok:
                raise config_error(location(WHERE), key, getattr(self, key), allowed)
        self.ratio = float(self.ratio) if _is_number(self.ratio) else tuple(float(v) for v in self.ratio)
        self.band_sides = tuple(self.band_sides)
        self.band_size = tuple(float(v) for v in self.band_size)
        if self.mode_weights is not None:
            self.mode_weights = tuple(float(v) for v in self.mode_weights)

    def _check_mode(self) -> None:
        where = location(WHERE)
        reject_retired_values(where, "mode", self.mode, RETIRED_MODES)
        if isinstance(self.mode, str):
            if self.mode not in MODES:
                raise config_error(where, "mode", self.mode, f"{', '.join(MODES)}, or a list of them",
                                   close_match_hint(self.mode, MODES))
            return
        if not _is_list(self.mode) or not self.mode:
            raise config_error(where, "mode", self.mode,
                               f"one of {', '.join(MODES)}, or a non-empty list of them, e.g. [band, moving]")
        for entry in self.mode:
            if not isinstance(entry, str) or entry not in MODES:
                raise ConfigError(f"{where}: `mode` = {list(self.mode)!r} is invalid: {entry!r} is not a "
                                  f"mode; allowed: {', '.join(MODES)}." + close_match_hint(entry, MODES))
        if len(set(self.mode)) != len(self.mode):
            raise ConfigError(f"{where}: `mode` = {list(self.mode)!r} is invalid: a mode is listed twice; "
                              "allowed: distinct modes (weigh them with `mode_weights`).")
        self.mode = tuple(self.mode)

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in fields(cls)]

    @property
    def modes(self) -> Tuple[str, ...]:
        """The modes a sequence may draw: ``(mode,)`` for a single mode."""
        return (self.mode,) if isinstance(self.mode, str) else tuple(self.mode)

    def ratio_of(self, mode: str) -> float:
        """The fraction of frames ``mode`` chooses (``ratio``, or its entry for ``mode``)."""
        return self.ratio if isinstance(self.ratio, float) else self.ratio[self.modes.index(mode)]

    @property
    def mode_probabilities(self) -> np.ndarray:
        """Each mode's chance per sequence (``mode_weights`` normalised, or uniform)."""
        weights = np.ones(len(self.modes)) if self.mode_weights is None else np.asarray(self.mode_weights)
        return weights / weights.sum()

    @property
    def min_frames(self) -> int:
        """Shortest sequence this policy can mask without hiding every frame.

        A mixture needs what its most demanding mode needs, since any sequence may draw it.
        """
        return max(2 if mode in FRAME_MODES else 1 for mode in self.modes)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_fraction(value) -> bool:
    return _is_number(value) and 0.0 <= float(value) <= 1.0


def _is_list(value) -> bool:
    return isinstance(value, (list, tuple))


def rng_for_sequence(policy: MaskingPolicy, seq: np.ndarray) -> np.random.Generator:
    """The generator for one sequence's mask.

    With ``policy.seed = None`` it is drawn from numpy's global state, which
    OpenGait's ``init_seeds(rank)`` seeds, so a run is reproducible. With an int
    seed it is keyed on (seed, the clip's bytes): independent of world size and
    of the order in which ranks see clips.
    """
    if policy.seed is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1, size=4))
    digest = zlib.crc32(np.ascontiguousarray(seq).tobytes())
    return np.random.default_rng([int(policy.seed), digest])


def count_chosen_frames(num_frames: int, policy: MaskingPolicy, mode: Optional[str] = None) -> int:
    """How many frames ``mode`` chooses: round(ratio of ``mode`` * s), at least 1.

    ``frame`` hides whole frames and stops at ``s - 1``; the region modes
    hide part of each frame and may touch all ``s``. ``mode`` defaults to the
    policy's mode and must be given for a mixture.
    """
    if mode is None:
        if len(policy.modes) != 1:
            raise ValueError(f"count_chosen_frames: the policy mixes {policy.modes}; pass `mode`.")
        mode = policy.modes[0]
    upper = num_frames - 1 if mode in FRAME_MODES else num_frames
    return int(np.clip(round(policy.ratio_of(mode) * num_frames), 1, upper))


def choose_mode(policy: MaskingPolicy, rng: np.random.Generator) -> str:
    """The mode of one sequence: the policy's mode, or a weighted draw from its list.

    A single mode draws nothing from ``rng``, so its masks do not depend on mixtures existing.
    """
    if len(policy.modes) == 1:
        return policy.modes[0]
    return policy.modes[int(rng.choice(len(policy.modes), p=policy.mode_probabilities))]


def _contiguous_run(num_frames: int, policy: MaskingPolicy, mode: str, rng: np.random.Generator) -> range:
    """One run of round(ratio * s) consecutive frames at a random place."""
    k = count_chosen_frames(num_frames, policy, mode)
    start = int(rng.integers(0, num_frames - k + 1))
    return range(start, start + k)


def _thickness(extent: int, policy: MaskingPolicy, rng: np.random.Generator) -> int:
    """A ``band_size`` fraction of ``extent`` pixels: at least 1, never the whole extent."""
    low, high = policy.band_size
    return int(np.clip(round(rng.uniform(low, high) * extent), 1, extent - 1))


def _check_region_frame(mode: str, height: int, width: int) -> None:
    if min(height, width) < 2:
        raise DataError(f"MaskedFrameSampler: mode `{mode}` hides part of each frame and needs frames of at "
                        f"least 2x2 pixels; got {height}x{width}.")


def frame_units(num_frames: int, height: int, width: int, policy: MaskingPolicy,
                rng: np.random.Generator) -> List[Unit]:
    """``frame`` mode: whole frames, chosen uniformly without replacement."""
    k = count_chosen_frames(num_frames, policy, "frame")
    frames = np.sort(rng.choice(num_frames, size=k, replace=False))
    return [(int(t), slice(None), slice(None)) for t in frames]


def patch_units(num_frames: int, height: int, width: int, policy: MaskingPolicy,
                rng: np.random.Generator) -> List[Unit]:
    """``patch`` mode: ``patches_per_frame`` squares at random places in the chosen frames.

    ``ceil(h / size) * ceil(w / size)`` squares are the fewest that can cover an
    ``h x w`` frame, so fewer per frame can never hide a whole frame.
    """
    size = policy.patch_size
    if size >= min(height, width):
        raise ConfigError(
            f"{WHERE}: `patch_size` = {size} covers a whole {height}x{width} frame; "
            f"allowed: less than {min(height, width)}.")
    cover = math.ceil(height / size) * math.ceil(width / size)
    if policy.patches_per_frame >= cover:
        raise ConfigError(
            f"{WHERE}: `patches_per_frame` = {policy.patches_per_frame} squares of {size} px can cover a "
            f"whole {height}x{width} frame; allowed: at most {cover - 1}.")
    k = count_chosen_frames(num_frames, policy, "patch")
    frames = np.sort(rng.choice(num_frames, size=k, replace=False))
    units = []
    for t in frames:
        tops = rng.integers(0, height - size + 1, size=policy.patches_per_frame)
        lefts = rng.integers(0, width - size + 1, size=policy.patches_per_frame)
        units += [(int(t), slice(int(y), int(y) + size), slice(int(x), int(x) + size))
                  for y, x in zip(tops, lefts)]
    return units


def band_units(num_frames: int, height: int, width: int, policy: MaskingPolicy,
               rng: np.random.Generator) -> List[Unit]:
    """``band`` mode: a static band along one side, in one contiguous run of frames.

    Per sequence: the side is drawn from ``band_sides``, the thickness from
    ``band_size`` (a fraction of the height for top/bottom, of the width for
    left/right; at least 1 pixel, never the whole frame), and the run of
    round(ratio * s) frames is placed at random. The band stays put during the run.
    """
    _check_region_frame("band", height, width)
    side = policy.band_sides[int(rng.integers(0, len(policy.band_sides)))]
    extent = height if side in ("top", "bottom") else width
    size = _thickness(extent, policy, rng)
    run = _contiguous_run(num_frames, policy, "band", rng)
    region = {"top": (slice(0, size), slice(None)), "bottom": (slice(height - size, height), slice(None)),
              "left": (slice(None), slice(0, size)), "right": (slice(None), slice(width - size, width))}[side]
    return [(t, *region) for t in run]


def moving_bar_lefts(run_length: int, width: int, bar: int, rightwards: bool) -> np.ndarray:
    """Left columns of a ``bar``-wide bar crossing a ``width``-wide frame in ``run_length`` steps.

    The bar enters at one edge (one column of it visible) and leaves at the other
    (one column visible) at constant speed; positions are rounded to pixels, so
    they are monotonic. A one-frame run puts the bar in the middle.
    """
    first, last = 1 - bar, width - 1  # one column visible at the left / right edge
    if run_length == 1:
        lefts = np.array([round((first + last) / 2)])
    else:
        lefts = np.rint(np.linspace(first, last, run_length)).astype(int)
    return lefts if rightwards else lefts[::-1]


def moving_units(num_frames: int, height: int, width: int, policy: MaskingPolicy,
                 rng: np.random.Generator) -> List[Unit]:
    """``moving`` mode: a full-height vertical bar sliding across the frame during one run.

    Per sequence: the bar's width is a ``band_size`` fraction of the frame width
    (at least 1 pixel, never the whole width), the direction is left-to-right or
    right-to-left at random, and the run of round(ratio * s) frames is placed at
    random. Within the run the bar moves at constant speed from one edge to the other.
    """
    _check_region_frame("moving", height, width)
    bar = _thickness(width, policy, rng)
    rightwards = bool(rng.integers(0, 2))
    run = _contiguous_run(num_frames, policy, "moving", rng)
    lefts = moving_bar_lefts(len(run), width, bar, rightwards)
    return [(t, slice(None), slice(max(int(x), 0), min(int(x) + bar, width))) for t, x in zip(run, lefts)]


UNIT_GENERATORS: dict = {"frame": frame_units, "patch": patch_units, "band": band_units,
                         "moving": moving_units}


def mask_sequence(seq: np.ndarray, policy: MaskingPolicy,
                  rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Choose units and corrupt a copy of the sequence.

    Args:
        seq: clean silhouettes ``[s, h, w]`` in [0, 1].
        policy: the masking policy (a mixture draws this sequence's mode first).
        rng: the generator (see :func:`rng_for_sequence`).

    Returns:
        ``(corrupted, mask)``, both ``[s, h, w]`` float32. ``mask`` is 1 on chosen
        positions (the loss is taken there) and 0 elsewhere; ``corrupted`` is the
        model's input: chosen positions zeroed. ``seq`` itself is never modified.
    """
    num_frames, height, width = seq.shape
    units = UNIT_GENERATORS[choose_mode(policy, rng)](num_frames, height, width, policy, rng)
    mask = np.zeros(seq.shape, dtype=np.float32)
    for t, rows, cols in units:
        mask[t, rows, cols] = 1.0
    return np.asarray(seq, dtype=np.float32) * (1.0 - mask), mask  # a new array: seq is left as it is


def check_sequence(seq: np.ndarray, policy: MaskingPolicy) -> None:
    """Reject a sequence the sampler cannot mask, with a message that says why.

    Args:
        seq: ``[s, h, w]`` silhouettes, already scaled to [0, 1].
    """
    if not isinstance(seq, np.ndarray) or seq.ndim != 3:
        shape = getattr(seq, "shape", type(seq).__name__)
        hint = (" A 4-d input means a step before it already produced [s, 3, h, w]: the sampler must be "
                "the last step of its Compose, and there only once." if getattr(seq, "ndim", 0) == 4 else "")
        raise DataError(f"MaskedFrameSampler expects one sequence [s, h, w]; got {shape}. "
                        "Check that data_cfg points at OpenGait pkl files of [T, 64, 64] uint8 arrays." + hint)
    if not np.issubdtype(seq.dtype, np.number) or np.issubdtype(seq.dtype, np.complexfloating):
        raise DataError(f"MaskedFrameSampler expects a real numeric sequence; got dtype {seq.dtype}.")
    if seq.shape[0] < policy.min_frames:
        raise DataError(
            f"MaskedFrameSampler: a sequence of {seq.shape[0]} frame(s) is too short for mode "
            f"`{', '.join(policy.modes)}`, which needs at least {policy.min_frames} so that not every frame is "
            "hidden. Raise trainer_cfg.sampler.frames_num_fixed or drop such sequences.")
    if not np.isfinite(seq).all():
        raise DataError("MaskedFrameSampler: the sequence holds NaN or infinite values.")
    low, high = float(seq.min()), float(seq.max())
    if low < 0.0 or high > 1.0 + 1e-6:
        raise DataError(
            f"MaskedFrameSampler: values must lie in [0, 1] after scaling; got [{low:g}, {high:g}]. "
            "Integer frames are divided by `divsor` (255 for OpenGait's uint8 pkl); floating-point "
            "frames are taken as already scaled by an earlier step (e.g. BaseSilCuttingTransform in a Compose).")
    if high == 0.0:
        raise DataError(
            f"MaskedFrameSampler: all {seq.shape[0]} frames are background (all zero); "
            "there is no silhouette to learn from. Re-run the pretreatment or remove the sequence.")


MaskFn = Callable[[np.ndarray], Tuple[np.ndarray, np.ndarray]]


def make_mask_fn(policy: MaskingPolicy) -> MaskFn:
    """A callable ``seq [s, h, w] -> (corrupted, mask)`` that checks, seeds and masks."""
    def mask_fn(seq: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        check_sequence(seq, policy)
        return mask_sequence(seq, policy, rng_for_sequence(policy, seq))
    return mask_fn
