"""The masked-frame sampler: which content of a silhouette sequence the model may not see.

Mask convention (as in MAE): **0 = keep, 1 = hidden / predicted**. The loss is
computed where the mask is 1, against the *clean* target, never against a
target that was masked too.

Three modes, each a small generator callable in the VideoMAE style:

- ``frame``: whole frames hidden, BERT-like;
- ``patch``: square patches (16x16 by default) hidden in randomly chosen frames;
- ``span``:  contiguous runs of frames hidden, like occlusion or dropped frames.

With ``bert_policy`` the chosen units follow BERT's 80/10/10 rule: 80% are
hidden (zeroed), 10% are replaced by the same region of another frame, 10%
are left as they are; the loss covers all chosen units.

Guarantees, for every mode and ratio: at least one unit is chosen (so the loss
is never empty), and no mode can hide every frame. Randomness comes from an
explicit ``numpy.random.Generator``; see :func:`rng_for_sequence`.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, fields
from typing import Callable, List, Optional, Tuple

import numpy as np

from .errors import ConfigError, DataError, close_match_hint

MODES = ("frame", "patch", "span")
# BERT's split of the chosen units: hide, replace with another frame, keep.
BERT_HIDE, BERT_REPLACE = 0.8, 0.1

# A unit is one chosen region: (frame index, row slice, column slice).
Unit = Tuple[int, slice, slice]


@dataclass
class MaskingPolicy:
    """What to hide, held as validated fields (like HF's DataCollatorForLanguageModeling).

    Attributes:
        mode: ``frame`` | ``patch`` | ``span``.
        ratio: fraction of the frames chosen, in [0, 1). The count is rounded and
            clipped to at least one frame and (frame/span) at most ``s - 1``.
        patch_size: side of a square patch in pixels (``patch`` mode).
        patches_per_frame: patches per chosen frame (``patch`` mode).
        span_count: number of contiguous runs the chosen frames form (``span`` mode).
        bert_policy: apply BERT's 80/10/10 hide/replace/keep rule to the chosen units.
        seed: ``None`` draws from numpy's global RNG (which OpenGait seeds per rank);
            an int makes each sequence's mask a function of (seed, content), so the
            same clip gets the same mask whatever the world size.
    """

    mode: str = "frame"
    ratio: float = 0.3
    patch_size: int = 16
    patches_per_frame: int = 2
    span_count: int = 1
    bert_policy: bool = False
    seed: Optional[int] = None

    def __post_init__(self) -> None:
        where = "MaskedFrameSampler (trainer_cfg.transform)"
        if self.mode not in MODES:
            raise ConfigError(
                f"{where}: `mode` = {self.mode!r} is invalid; allowed: {', '.join(MODES)}."
                + close_match_hint(self.mode, MODES))
        checks = [
            ("ratio", isinstance(self.ratio, (int, float)) and not isinstance(self.ratio, bool)
             and 0.0 <= float(self.ratio) < 1.0, "a number in [0, 1)"),
            ("patch_size", _is_int(self.patch_size) and self.patch_size >= 1, "an int >= 1"),
            ("patches_per_frame", _is_int(self.patches_per_frame) and self.patches_per_frame >= 1,
             "an int >= 1"),
            ("span_count", _is_int(self.span_count) and self.span_count >= 1, "an int >= 1"),
            ("bert_policy", isinstance(self.bert_policy, bool), "true or false"),
            ("seed", self.seed is None or _is_int(self.seed), "null or an int"),
        ]
        for key, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"{where}: `{key}` = {getattr(self, key)!r} is invalid; allowed: {allowed}.")
        self.ratio = float(self.ratio)

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in fields(cls)]

    @property
    def min_frames(self) -> int:
        """Shortest sequence this policy can mask without hiding every frame."""
        return 1 if self.mode == "patch" else 2


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


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


def count_chosen_frames(num_frames: int, policy: MaskingPolicy) -> int:
    """How many frames a policy chooses: round(ratio * s), at least 1, never all (frame/span)."""
    upper = num_frames if policy.mode == "patch" else num_frames - 1
    return int(np.clip(round(policy.ratio * num_frames), 1, upper))


def frame_units(num_frames: int, height: int, width: int, policy: MaskingPolicy,
                rng: np.random.Generator) -> List[Unit]:
    """``frame`` mode: whole frames, chosen uniformly without replacement."""
    k = count_chosen_frames(num_frames, policy)
    frames = np.sort(rng.choice(num_frames, size=k, replace=False))
    return [(int(t), slice(None), slice(None)) for t in frames]


def span_units(num_frames: int, height: int, width: int, policy: MaskingPolicy,
               rng: np.random.Generator) -> List[Unit]:
    """``span`` mode: the chosen frames form ``span_count`` contiguous runs.

    The k chosen frames are split into runs of near-equal length; the s - k free
    frames are spread into the gaps before, between and after the runs at random,
    with at least one free frame between two runs so runs stay distinct.
    """
    k = count_chosen_frames(num_frames, policy)
    runs = int(min(policy.span_count, k, num_frames - k))  # each inner gap needs a free frame
    lengths = np.full(runs, k // runs) + (np.arange(runs) < k % runs)
    free = num_frames - k - (runs - 1)  # free frames left after the mandatory inner gaps
    gaps = rng.multinomial(free, np.full(runs + 1, 1.0 / (runs + 1)))
    gaps[1:-1] += 1
    units, start = [], 0
    for gap, length in zip(gaps[:-1], lengths):
        start += int(gap)
        units += [(t, slice(None), slice(None)) for t in range(start, start + int(length))]
        start += int(length)
    return units


def patch_units(num_frames: int, height: int, width: int, policy: MaskingPolicy,
                rng: np.random.Generator) -> List[Unit]:
    """``patch`` mode: ``patches_per_frame`` squares at random places in the chosen frames."""
    if policy.patch_size >= min(height, width):
        raise ConfigError(
            f"MaskedFrameSampler (trainer_cfg.transform): `patch_size` = {policy.patch_size} "
            f"covers a whole {height}x{width} frame; allowed: less than {min(height, width)}.")
    k = count_chosen_frames(num_frames, policy)
    frames = np.sort(rng.choice(num_frames, size=k, replace=False))
    size = policy.patch_size
    units = []
    for t in frames:
        tops = rng.integers(0, height - size + 1, size=policy.patches_per_frame)
        lefts = rng.integers(0, width - size + 1, size=policy.patches_per_frame)
        units += [(int(t), slice(int(y), int(y) + size), slice(int(x), int(x) + size))
                  for y, x in zip(tops, lefts)]
    return units


UNIT_GENERATORS: dict = {"frame": frame_units, "patch": patch_units, "span": span_units}


def mask_sequence(seq: np.ndarray, policy: MaskingPolicy,
                  rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Choose units and corrupt a copy of the sequence.

    Args:
        seq: clean silhouettes ``[s, h, w]`` in [0, 1].
        policy: the masking policy.
        rng: the generator (see :func:`rng_for_sequence`).

    Returns:
        ``(corrupted, mask)``, both ``[s, h, w]`` float32. ``mask`` is 1 on chosen
        positions (the loss is taken there) and 0 elsewhere; ``corrupted`` is the
        model's input: chosen positions zeroed, or under the BERT policy zeroed /
        replaced by another frame / kept. ``seq`` itself is never modified.
    """
    num_frames, height, width = seq.shape
    units = UNIT_GENERATORS[policy.mode](num_frames, height, width, policy, rng)
    corrupted = np.array(seq, dtype=np.float32, copy=True)
    mask = np.zeros(seq.shape, dtype=np.float32)
    actions = rng.random(len(units)) if policy.bert_policy else np.zeros(len(units))
    for (t, rows, cols), action in zip(units, actions):
        mask[t, rows, cols] = 1.0
        if action < BERT_HIDE:
            corrupted[t, rows, cols] = 0.0
        elif action < BERT_HIDE + BERT_REPLACE and num_frames > 1:
            other = (t + 1 + int(rng.integers(0, num_frames - 1))) % num_frames  # any frame but t
            corrupted[t, rows, cols] = seq[other, rows, cols]
        # else: BERT's "keep" share: input unchanged, still predicted.
    return corrupted, mask


def check_sequence(seq: np.ndarray, policy: MaskingPolicy) -> None:
    """Reject a sequence the sampler cannot mask, with a message that says why.

    Args:
        seq: ``[s, h, w]`` silhouettes, already scaled to [0, 1].
    """
    if not isinstance(seq, np.ndarray) or seq.ndim != 3:
        shape = getattr(seq, "shape", type(seq).__name__)
        raise DataError(f"MaskedFrameSampler expects one sequence [s, h, w]; got {shape}. "
                        "Check that data_cfg points at OpenGait pkl files of [T, 64, 64] uint8 arrays.")
    if not np.issubdtype(seq.dtype, np.number) or np.issubdtype(seq.dtype, np.complexfloating):
        raise DataError(f"MaskedFrameSampler expects a real numeric sequence; got dtype {seq.dtype}.")
    if seq.shape[0] < policy.min_frames:
        raise DataError(
            f"MaskedFrameSampler: a sequence of {seq.shape[0]} frame(s) is too short for mode "
            f"`{policy.mode}`, which needs at least {policy.min_frames} so that not every frame is "
            "hidden. Raise trainer_cfg.sampler.frames_num_fixed or drop such sequences.")
    if not np.isfinite(seq).all():
        raise DataError("MaskedFrameSampler: the sequence holds NaN or infinite values.")
    low, high = float(seq.min()), float(seq.max())
    if low < 0.0 or high > 1.0 + 1e-6:
        raise DataError(
            f"MaskedFrameSampler: values must lie in [0, 1] after `divsor`; got [{low:g}, {high:g}]. "
            "Set `divsor` to the data's maximum (255 for OpenGait's uint8 pkl).")
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
