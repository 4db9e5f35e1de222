"""Every change this package makes to OpenGait's code at run time, in one place.

Nothing of OpenGait is edited on disk: each patch replaces one attribute of an imported
OpenGait module or class. Each relies on a detail of OpenGait's code that
``tests/integration/test_opengait_patches.py`` checks against the real clone, so an
OpenGait change that breaks a patch fails there first, by name.

=====  =====================================  ==============================================  =========================
patch  what it changes                        why                                             what would let us drop it
=====  =====================================  ==============================================  =========================
P1     :func:`run_on_cpu`: ``Tensor.cuda`` /  OpenGait calls ``.cuda()``, ``torch.cuda.       OpenGait choosing its
       ``Module.cuda`` stay; ``base_model``   set_device`` and ``device_ids=[...]`` in        device from the config
       sees a ``torch`` whose CUDA device is  ``BaseModel.__init__``, ``_load_ckpt``,         (a ``device`` key) instead
       the CPU; ``get_ddp_module`` without    ``ts2var``, ``cuda_dist``, ``LossAggregator``   of hard-coding CUDA.
       device ids (launcher ``--device cpu``  and ``main.run_model``: CPU runs (laptops,
       only)                                  CI) would fail at the first call.
P2     :func:`checkpoint_already_read`:       ``resume_ckpt`` has already read and checked    ``BaseModel._load_ckpt``
       ``base_model.torch.load`` of one path  the file (weights_only, CRC, world size):       taking a loaded dict, or
       returns the dict already read, for     OpenGait's ``_load_ckpt`` then restores it      a loader hook.
       the duration of one restore            without a second, unchecked read. Overriding
                                              ``_load_ckpt`` would copy its body.
P3     :func:`name_unreadable_sequences`:     OpenGait's error names only the path, deep in   A DataSet that names the
       ``DataSet.__getitem__`` names the      a loader worker's traceback.                    sequence itself.
       sequence of a file that vanished or
       became unreadable mid-run (training)
P4     :func:`mark_progress`: the model       The launcher names the rank that fell behind    A callback hook in
       class's ``inputs_pretreament``,        when a collective times out, and the last       ``BaseModel.run_train``.
       ``train_step``, ``save_ckpt`` report   iteration every rank completed.
       each stage of an iteration (training)
P5     :func:`load_pickles_safely`:           ``pickle.load`` runs any code a downloaded      OpenGait loading pkl
       ``data.dataset``'s ``pickle`` global   dataset file carries, and numpy's own state     files without numpy's
       is the safe loader, its ``open``       restoring crashes on crafted arrays; ``open``   unpickling (or storing
       refuses FIFOs and devices, and         of a FIFO blocks forever (see                   ``.npy``).
       ``DataSet.__init__`` checks the        ``docs/data-safety.md``).
       listed files before any is loaded
       (every run, by ``register()`` and
       the startup hook)
P6     :func:`load_checkpoints_weights_only`: ``_load_ckpt`` calls ``torch.load`` without    ``BaseModel._load_ckpt``
       ``base_model.torch.load`` is           ``weights_only``: safe only where torch's       passing
       :func:`..core.training_state.          default is True (2.6 on), and the test phase    ``weights_only=True``.
       load_checkpoint` (every run, by        restores an integer ``restore_hint`` through
       ``register()`` and the startup hook)   it; torch 2.5 would run a checkpoint's code.
=====  =====================================  ==============================================  =========================
"""
from __future__ import annotations

import functools
import json
import os
import os.path as osp
import pickle
import sys
import types
from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from ..core.errors import DataError


# -- P1: OpenGait's CUDA-only calls on the CPU ----------------------------------------------

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
        self._torch = real_torch  # torch, or P6's torch around it
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


def run_on_cpu(main_module: types.ModuleType = None) -> None:
    """P1: patch OpenGait's imported modules (and its ``main`` module, if given) for CPU.

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

    What cannot be patched away is refused earlier by the launcher with a clear message:
    SyncBatchNorm (``trainer_cfg.sync_BN``) and fp16 (``enable_float16``).
    """
    import modeling.base_model as base_model  # OpenGait
    import modeling.loss_aggregator as loss_aggregator
    import utils
    import utils.common as common

    torch.Tensor.cuda = _stay
    torch.nn.Module.cuda = _stay
    base_model.torch = _TorchOnCpu(base_model.torch)  # over P6's torch, if it is there
    for namespace in (utils, common, loss_aggregator, main_module):
        if namespace is not None and hasattr(namespace, "get_ddp_module"):
            namespace.get_ddp_module = cpu_get_ddp_module


# -- P2: a checkpoint read once ---------------------------------------------------------------

class _TorchWithLoadedCheckpoint:
    """``torch`` as OpenGait's ``base_model`` sees it while it restores a checkpoint already
    read: ``load`` of that file returns the read dict."""

    def __init__(self, real_torch, path: str, checkpoint: dict):
        self._torch, self._path, self._checkpoint = real_torch, path, checkpoint

    def load(self, f, *args, **kwargs):
        if osp.abspath(str(f)) == osp.abspath(self._path):
            return self._checkpoint
        return self._torch.load(f, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._torch, name)


@contextmanager
def checkpoint_already_read(path, checkpoint: dict) -> Iterator[None]:
    """P2: inside, ``BaseModel._load_ckpt(path)`` restores ``checkpoint`` instead of reading ``path``."""
    from modeling.base_model import BaseModel  # OpenGait
    base_model = sys.modules[BaseModel.__module__]
    real_torch = base_model.torch  # P1 may have wrapped it already
    base_model.torch = _TorchWithLoadedCheckpoint(real_torch, str(path), checkpoint)
    try:
        yield
    finally:
        base_model.torch = real_torch


# -- P3: a sequence that cannot be read mid-run is named ----------------------------------------

def name_unreadable_sequences() -> None:
    """P3: a pkl that cannot be read mid-run is named with its sequence; idempotent."""
    from data.dataset import DataSet  # OpenGait

    if getattr(DataSet, "_gaitbert_named", False):
        return
    getitem = DataSet.__getitem__

    @functools.wraps(getitem)
    def __getitem__(self, idx):
        try:
            return getitem(self, idx)
        except (OSError, EOFError, pickle.UnpicklingError) as err:
            label, typ, view, paths = self.seqs_info[idx]
            where = getattr(err, "filename", None) or ", ".join(paths)
            raise DataError(
                f"{where}: cannot be read ({type(err).__name__}: {getattr(err, 'strerror', None) or err}); "
                f"sequence id {label}, type {typ}, view {view}. It was listed when the run started, so it "
                "disappeared or became unreadable since. Restore it (or remove the sequence from the partition "
                "JSON), check every file with `opengait-gaitbert check-data --cfgs <config>`, then resume "
                "from the last checkpoint with --iter.") from err

    DataSet.__getitem__ = __getitem__
    DataSet._gaitbert_named = True


# -- P4: progress marks for the launcher --------------------------------------------------------

def mark_progress(cls, mark: Callable[[int, int], None], before_step: Callable[[int], None],
                  stages) -> None:
    """P4: ``mark(completed_iteration, stage)`` around the steps ``BaseModel.run_train`` calls
    on ``cls``, and ``before_step(next_iteration)`` once a batch is taken; idempotent.

    ``stages``: the launcher's ``(AFTER_STEP, SAVING, LOADING, PREPARING, STEPPING)``.
    """
    if getattr(cls, "_gaitbert_marked", False):
        return
    after_step, saving, loading, preparing, stepping = stages
    pretreat, train_step, save_ckpt = cls.inputs_pretreament, cls.train_step, cls.save_ckpt

    @functools.wraps(pretreat)
    def inputs_pretreament(self, inputs):
        if not self.training:
            return pretreat(self, inputs)
        mark(self.iteration, preparing)
        before_step(self.iteration + 1)
        result = pretreat(self, inputs)
        mark(self.iteration, stepping)
        return result

    @functools.wraps(train_step)
    def marked_train_step(self, loss_sum):
        stepped = train_step(self, loss_sum)
        mark(self.iteration, after_step)
        return stepped

    @functools.wraps(save_ckpt)
    def marked_save_ckpt(self, iteration):
        mark(self.iteration, saving)
        save_ckpt(self, iteration)
        mark(self.iteration, loading)

    cls.inputs_pretreament, cls.train_step, cls.save_ckpt = inputs_pretreament, marked_train_step, marked_save_ckpt
    cls._gaitbert_marked = True


# -- P5: pkl files through the allow-list loader -------------------------------------------------

_TRUST_SAID: list = []  # filled when this process has logged its trust decision

def load_pickles_safely(dataset_module) -> None:
    """P5: route ``dataset_module`` (OpenGait's ``data.dataset``) through the safe loader; idempotent.

    Its ``pickle`` global becomes :class:`~.dataset.SafePickle`, and ``DataSet.__init__``
    checks every listed file (:func:`~.dataset.check_listed_files`) before any is loaded;
    a listing that fails or a malformed partition JSON becomes a DataError naming the path.
    """
    from ..data.safe_pickle import trust_decision
    from .dataset import TRUST_SAID_ENV, SafePickle, check_listed_files, log, open_regular_file

    dataset_module.pickle = SafePickle()
    dataset_module.open = open_regular_file
    cls = dataset_module.DataSet
    if getattr(cls, "_gaitbert_safe", False):
        return
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, data_cfg, training):
        try:
            init(self, data_cfg, training)
        except OSError as err:  # os.listdir of the root, an id, type or view folder
            raise DataError(
                f"{err.filename}: cannot be listed ({err.strerror or err}): a symbolic link loop, a broken link or "
                f"an unreadable folder under data_cfg.dataset_root. Fix or remove it; `opengait-gaitbert check-data "
                f"--cfgs <config>` lists every such path.") from err
        except (json.JSONDecodeError, UnicodeDecodeError) as err:  # OpenGait's json.load of the partition
            raise DataError(
                f"{data_cfg.get('dataset_partition')}: not a partition JSON ({type(err).__name__}: {err}); "
                'expected {"TRAIN_SET": [...], "TEST_SET": [...]} (data_cfg.dataset_partition; write one with '
                "`opengait-gaitbert partition`).") from err
        trust, line = trust_decision()  # ConfigError naming the variable for a value like "false"
        if not _TRUST_SAID and os.environ.get(TRUST_SAID_ENV) != "1":  # once: what was decided and why
            _TRUST_SAID.append(trust)
            log(line, warning=trust)
        if not trust:
            checked = check_listed_files(self.seqs_info, data_cfg.get("dataset_root"))
            log(f"safe pkl loading: the {checked} listed pkl file(s) of {self.dataset_name} passed the checks")

    cls.__init__ = __init__
    cls._gaitbert_safe = True


# -- P6: checkpoints read weights-only on every torch -------------------------------------------

class _TorchLoadingWeightsOnly:
    """``torch`` as OpenGait's ``base_model`` sees it: ``load`` is the package's one checkpoint
    loader, ``torch.load(weights_only=True)`` whatever the torch version's default."""

    def __init__(self, real_torch):
        self._torch = real_torch

    @staticmethod
    def load(f, map_location=None, **kwargs):
        from ..core.training_state import load_checkpoint
        return load_checkpoint(f, map_location=map_location if map_location is not None else "cpu")

    def __getattr__(self, name):
        return getattr(self._torch, name)


def load_checkpoints_weights_only() -> None:
    """P6: ``BaseModel._load_ckpt`` (every restore: training, the test phase's integer or path
    ``restore_hint``, any model) reads through :func:`..core.training_state.load_checkpoint`;
    idempotent, and kept by P1 and P2, which wrap whatever ``base_model.torch`` is."""
    from modeling.base_model import BaseModel  # OpenGait
    base_model = sys.modules[BaseModel.__module__]
    if getattr(base_model, "_gaitbert_weights_only", False):
        return
    base_model.torch = _TorchLoadingWeightsOnly(base_model.torch)
    base_model._gaitbert_weights_only = True
