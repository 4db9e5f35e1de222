"""The masked-frame sampler as an OpenGait transform (``trainer_cfg.transform``).

Data contract with :class:`~opengait_gaitbert.adapters.model.GaitBERT`, decided here
and read there: one sequence ``[s, h, w]`` becomes ``[s, 3, h, w]`` float32 with,
on the new axis after ``s``:

    0: the model's input   (hidden content zeroed)
    1: the clean target    (never masked)
    2: the mask            (1 = hidden, the loss is taken here; 0 = visible)

The extra axis sits after ``s``, so OpenGait's ``seqL`` slicing (``x[:, :sum]``)
and its batching keep the three aligned. In fine-tuning steps the model switches
masking off (:func:`set_masking`) and the sampler yields the clean ``[s, h, w]``
alone, as ``BaseSilCuttingTransform`` would: no mask is drawn that nothing reads.
The evaluator's transform stays OpenGait's ``BaseSilCuttingTransform``: no masking
at test time.

What the sampler takes in, so that it composes with OpenGait's augmentation:

- **integer frames** (OpenGait's uint8 pkl, raw): the sampler cuts and scales
  them itself, exactly like ``BaseSilCuttingTransform(divsor, cutting)``;
- **floating-point frames**: already cut and scaled by an earlier step, e.g. the
  ``BaseSilCuttingTransform`` that opens GaitBase's DA ``Compose``
  (``BaseSilCuttingTransform``, ``RandomRotate``, ``RandomErasing``); they are
  taken as they are, never cut twice. Setting ``divsor`` or ``cutting`` on the
  sampler then is a mistake, refused (config check and here).

So the sampler may stand alone or be the **last** step of a ``Compose``: any step
after it would receive ``[s, 3, h, w]``. The clean target (channel 1) is the
augmented sequence, i.e. what the steps before the sampler produced; the mask
hides content on top of that augmentation. :func:`~opengait_gaitbert.core.config.validate_cfgs`
enforces both rules before training starts.
"""
from __future__ import annotations

from typing import List

import numpy as np
from data.transform import BaseSilCuttingTransform  # OpenGait

from ..core.errors import DataError
from ..core.masking import MaskingPolicy, check_sequence, make_mask_fn

INPUT, TARGET, MASK = 0, 1, 2
DEFAULT_DIVSOR = 255.0
# The keys the sampler reads besides MaskingPolicy's fields (BaseSilCuttingTransform's spelling).
CUT_KEYS = ("divsor", "cutting")


class MaskedFrameSampler:
    """Cut and scale raw frames like ``BaseSilCuttingTransform``, then hide content.

    OpenGait builds transforms with ``get_valid_args``, which passes only keys named
    in ``__init__``'s signature; so every :class:`MaskingPolicy` field is listed here
    explicitly, ``None`` taking the policy's default (a test keeps the two in step).

    Args:
        mode, ratio, patch_size, patches_per_frame, band_sides, band_size, mode_weights, seed:
            see :class:`~opengait_gaitbert.core.masking.MaskingPolicy`.
        divsor, cutting: for integer (raw) frames, passed to OpenGait's
            ``BaseSilCuttingTransform`` (its spelling); ``divsor`` defaults to 255.
            Leave both unset when an earlier step of a ``Compose`` cuts and scales.
    """

    def __init__(self, mode=None, ratio=None, patch_size=None, patches_per_frame=None, band_sides=None,
                 band_size=None, mode_weights=None, seed=None, divsor=None, cutting=None):
        given = dict(locals())
        self.policy = MaskingPolicy(**{name: given[name] for name in MaskingPolicy.field_names()
                                       if given[name] is not None})
        self.cut_keys_set = [key for key in CUT_KEYS if given[key] is not None]
        self.cut = BaseSilCuttingTransform(divsor=DEFAULT_DIVSOR if divsor is None else divsor, cutting=cutting)
        self.mask_fn = make_mask_fn(self.policy)
        self.masking = True  # the model turns it off for fine-tuning steps (set_masking)

    def clean(self, seq) -> np.ndarray:
        """The clean target ``[s, h, w]`` float32: raw integer frames cut and scaled, float frames as given."""
        seq = np.asarray(seq)
        if np.issubdtype(seq.dtype, np.integer):
            return np.asarray(self.cut(seq), dtype=np.float32)
        if np.issubdtype(seq.dtype, np.floating) and self.cut_keys_set:
            raise DataError(
                f"MaskedFrameSampler got floating-point frames ({seq.dtype}), which it takes as already cut "
                f"and scaled by an earlier step, but `{'`, `'.join(self.cut_keys_set)}` is set on it. Remove "
                "them from the sampler (set them on the BaseSilCuttingTransform before it), or feed raw "
                "integer frames.")
        return np.asarray(seq, dtype=np.float32) if np.issubdtype(seq.dtype, np.floating) else seq

    def __call__(self, seq: np.ndarray) -> np.ndarray:
        """``[s, H, W]`` uint8 or ``[s, h, w]`` float -> ``[s, 3, h, w]`` float32 (input, target, mask);
        with masking off, the clean ``[s, h, w]`` alone (checked as a masked one would be)."""
        clean = self.clean(seq)
        if not self.masking:
            check_sequence(clean, self.policy)
            return clean
        corrupted, mask = self.mask_fn(clean)
        return np.stack([corrupted, clean, mask], axis=1)

    def __repr__(self) -> str:
        return f"MaskedFrameSampler({self.policy})"


def samplers_in(transforms) -> List[MaskedFrameSampler]:
    """Every :class:`MaskedFrameSampler` in OpenGait's per-feature transform list, inside a
    ``Compose`` (torchvision's, whose steps are ``.transforms``) too."""
    found = []
    for trf in transforms if isinstance(transforms, (list, tuple)) else [transforms]:
        if isinstance(trf, MaskedFrameSampler):
            found.append(trf)
        elif isinstance(getattr(trf, "transforms", None), (list, tuple)):
            found += samplers_in(trf.transforms)
    return found


def set_masking(transforms, on: bool) -> None:
    """Switch masking on (pretraining steps) or off (fine-tuning steps) in every sampler of ``transforms``."""
    for sampler in samplers_in(transforms):
        sampler.masking = on
