"""BatchNorm running statistics that only the clean clips write.

In training, the masked pass and the clean pass go through the same encoder. BatchNorm
normalises each pass with its own batch statistics, so the gradients are unaffected, but both
passes also update the running statistics that inference uses. The masked pass sees an eighth
of the batch with half of its frames hidden, so its statistics are few and shifted: left in,
they bias every test-time layer towards inputs the tests never show. As in AdvProp (Xie et
al., CVPR 2020), which keeps auxiliary BatchNorms for its shifted inputs, the shifted pass here
keeps out of the statistics; it needs no second set because nothing uses them at inference.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


@contextmanager
def running_statistics_frozen(module: nn.Module) -> Iterator[None]:
    """Inside, every BatchNorm of ``module`` (SyncBatchNorm too) normalises with its batch's
    statistics, as in training, but leaves ``running_mean``/``running_var`` as they were.

    Momentum 0 makes PyTorch's update ``(1 - m) * running + m * batch`` the identity (for the
    cumulative average, ``momentum: None``, as well). The momenta are restored on exit, also
    after an exception.
    """
    norms = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    saved = [m.momentum for m in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        yield
    finally:
        for norm, momentum in zip(norms, saved):
            norm.momentum = momentum
