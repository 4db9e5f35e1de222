"""The smallest set of patches that runs OpenGait's CUDA-only code on CPU with gloo.

Applied only in ``--device cpu`` worker processes, after OpenGait is importable
and before its main flow runs. Nothing of OpenGait is edited on disk. Each patch
names the OpenGait call sites it covers:

1. ``Tensor.cuda`` and ``Module.cuda`` return ``self``: ``ts2var`` (utils/common.py),
   ``cuda_dist`` (evaluation/metric.py), ``Loss(...).cuda()`` (modeling/loss_aggregator.py)
   and ``idx.cuda()`` in ``sync_random_sample_list`` (data/sampler.py, when CUDA is visible).
   In a CPU run the CPU is the only device, so ``.cuda()`` means "stay here".
2. ``modeling.base_model`` sees a ``torch`` whose ``device('cuda', r)`` is the CPU and
   whose ``cuda.set_device`` does nothing: ``BaseModel.__init__`` (set_device and
   ``self.to(cuda)``) and ``_load_ckpt`` (``map_location``).
3. ``get_ddp_module`` wraps in OpenGait's own ``DDPPassthrough`` without ``device_ids``
   (``torch.cuda.current_device()`` and ``device_ids=[...]`` are CUDA-only): used by
   ``main.run_model`` and ``LossAggregator``.

What cannot be patched away is refused earlier by the launcher with a clear
message: SyncBatchNorm (``trainer_cfg.sync_BN``) and fp16 (``enable_float16``).
"""
from __future__ import annotations

import types

import torch


class _CudaOnCpu:
    """``torch.cuda`` as seen by BaseModel on CPU: ``set_device`` is a no-op."""

    def __init__(self, cuda):
        self._cuda = cuda

    @staticmethod
    def set_device(device):
        return None

    def __getattr__(self, name):
        return getattr(self._cuda, name)


class _TorchOnCpu:
    """``torch`` as seen by BaseModel on CPU: CUDA devices map to the CPU."""

    def __init__(self, real_torch):
        self._torch = real_torch
        self.cuda = _CudaOnCpu(real_torch.cuda)

    def device(self, kind, index=None):
        if str(kind).startswith("cuda"):
            return self._torch.device("cpu")
        return self._torch.device(kind) if index is None else self._torch.device(kind, index)

    def __getattr__(self, name):
        return getattr(self._torch, name)


def _stay(self, *args, **kwargs):
    return self


def cpu_get_ddp_module(module, find_unused_parameters=False, **kwargs):
    """OpenGait's ``get_ddp_module`` for CPU: the same DDPPassthrough, no device ids."""
    from utils.common import DDPPassthrough  # OpenGait
    if len(list(module.parameters())) == 0:  # parameter-free losses stay unwrapped, as upstream
        return module
    return DDPPassthrough(module, find_unused_parameters=find_unused_parameters, **kwargs)


def apply(main_module: types.ModuleType = None) -> None:
    """Patch OpenGait's imported modules (and its ``main`` module, if given) for CPU."""
    import modeling.base_model as base_model  # OpenGait
    import modeling.loss_aggregator as loss_aggregator
    import utils
    import utils.common as common

    torch.Tensor.cuda = _stay
    torch.nn.Module.cuda = _stay
    base_model.torch = _TorchOnCpu(torch)
    for namespace in (utils, common, loss_aggregator, main_module):
        if namespace is not None and hasattr(namespace, "get_ddp_module"):
            namespace.get_ddp_module = cpu_get_ddp_module
