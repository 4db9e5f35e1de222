"""The masked-frame sampler as an OpenGait transform (``trainer_cfg.transform``).

Data contract with :class:`~opengait_gaitbert.adapters.model.GaitBERT`, decided here
and read there: one sequence ``[s, h, w]`` becomes ``[s, 3, h, w]`` float32 with,
on the new axis after ``s``:

    0: the model's input   (hidden content zeroed / BERT-replaced)
    1: the clean target    (never masked)
    2: the mask            (1 = hidden, the loss is taken here; 0 = visible)

The extra axis sits after ``s``, so OpenGait's ``seqL`` slicing (``x[:, :sum]``)
and its batching keep the three aligned. The evaluator's transform stays
OpenGait's ``BaseSilCuttingTransform``: no masking at test time.
"""
from __future__ import annotations

import numpy as np
from data.transform import BaseSilCuttingTransform  # OpenGait

from ..core.masking import MaskingPolicy, make_mask_fn

INPUT, TARGET, MASK = 0, 1, 2


class MaskedFrameSampler:
    """Cut and scale like ``BaseSilCuttingTransform``, then hide frames, patches or spans.

    Args:
        mode, ratio, patch_size, patches_per_frame, span_count, bert_policy, seed:
            see :class:`~opengait_gaitbert.core.masking.MaskingPolicy`.
        divsor, cutting: passed to OpenGait's ``BaseSilCuttingTransform`` (its spelling).
    """

    def __init__(self, mode="frame", ratio=0.3, patch_size=16, patches_per_frame=2, span_count=1,
                 bert_policy=False, seed=None, divsor=255.0, cutting=None):
        self.policy = MaskingPolicy(mode=mode, ratio=ratio, patch_size=patch_size,
                                    patches_per_frame=patches_per_frame, span_count=span_count,
                                    bert_policy=bert_policy, seed=seed)
        self.cut = BaseSilCuttingTransform(divsor=divsor, cutting=cutting)
        self.mask_fn = make_mask_fn(self.policy)

    def __call__(self, seq: np.ndarray) -> np.ndarray:
        """``[s, H, W]`` uint8 -> ``[s, 3, h, w]`` float32 (input, target, mask)."""
        clean = np.asarray(self.cut(seq), dtype=np.float32)
        corrupted, mask = self.mask_fn(clean)
        return np.stack([corrupted, clean, mask], axis=1)

    def __repr__(self) -> str:
        return f"MaskedFrameSampler({self.policy})"
