"""One torchrun worker: register GaitBERT, then run OpenGait's ``initialization`` and ``run_model``.

Nothing of OpenGait's main flow is copied: its ``main.py`` is loaded as a module
(argv set to what its own parser expects) and its two functions are called. Only
the process-group start differs: ``gloo`` on CPU instead of the hard-coded
``nccl``, and a collective timeout (``--collective-timeout``), so that a rank
that hangs ends the run instead of leaving the others waiting for 30 minutes.

Hooks into OpenGait's training loop, none of them editing OpenGait on disk
(installed by :func:`install_hooks`, in training only; the patches themselves are
in :mod:`opengait_gaitbert.adapters.patches`, with every other change to OpenGait):

1. Progress marks (``GAITBERT_HEARTBEAT_DIR``, set by the launcher): the model
   class's ``inputs_pretreament`` (entry and exit), ``train_step`` and
   ``save_ckpt`` (entry and exit), all called by ``BaseModel.run_train``, write
   where each rank is in the loop. When a collective times out, the launcher
   names the rank that fell behind and the last iteration every rank completed.
2. ``data.dataset.DataSet.__getitem__`` (called by the DataLoader, in this process
   or a loader worker): a pkl that disappeared or became unreadable after the
   dataset was listed raises a DataError naming the file and its id, type and view.
3. SIGTERM raises SystemExit (status 143), so a checkpoint being written is
   removed by ``atomic_save`` instead of being left half-written.
4. ``GAITBERT_FAULT_STALL=<rank|*>:<iteration>:<seconds>``, for fault drills and
   tests only: that rank sleeps inside that training step (after taking its batch).
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path

HEARTBEAT_ENV = "GAITBERT_HEARTBEAT_DIR"
COLLECTIVE_TIMEOUT = 600.0  # seconds (--collective-timeout); a GPU iteration or checkpoint write takes far less
STALL_ENV = "GAITBERT_FAULT_STALL"
# Stages of one iteration, in the order a rank passes them; (completed iteration, stage) orders progress.
AFTER_STEP, SAVING, LOADING, PREPARING, STEPPING = range(5)
STAGES = {
    AFTER_STEP: "the end of iteration {done} (checkpoint, log, loading batch {next})",
    SAVING: "saving checkpoint {done}",
    LOADING: "loading batch {next}",
    PREPARING: "preparing batch {next}",
    STEPPING: "forward, loss and backward of iteration {next}",
}


def load_opengait_main(root: Path, argv):
    """Import ``opengait/main.py`` as a module; its parser reads ``argv``."""
    sys.argv = ["opengait/main.py", *argv]
    spec = importlib.util.spec_from_file_location("opengait_main", root / "opengait" / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def heartbeat_file(folder, rank: int) -> Path:
    return Path(folder) / f"rank{rank}.json"


def mark(iteration: int, stage: int) -> None:
    """Record (atomically) that this rank completed ``iteration`` and is now at ``stage``."""
    folder = os.environ.get(HEARTBEAT_ENV)
    if not folder:
        return
    rank = int(os.environ.get("RANK", 0))
    path = heartbeat_file(folder, rank)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"rank": rank, "completed": iteration, "stage": stage, "time": time.time()}))
    os.replace(tmp, path)


def _stall(iteration: int) -> None:
    """The fault drill of ``GAITBERT_FAULT_STALL``: sleep inside this step on the chosen rank."""
    spec = os.environ.get(STALL_ENV)
    if not spec:
        return
    rank, at, seconds = spec.split(":")
    if rank in ("*", os.environ.get("RANK", "0")) and int(at) == iteration:
        print(f"[opengait-gaitbert] fault drill: rank {os.environ.get('RANK', '0')} sleeps {seconds} s "
              f"in iteration {iteration}", file=sys.stderr, flush=True)
        time.sleep(float(seconds))


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def install_hooks(model_class) -> None:
    """Hooks 1 and 2 of this module's docstring (training runs only): patches P4 and P3 of
    :mod:`opengait_gaitbert.adapters.patches`."""
    from ..adapters import patches
    patches.mark_progress(model_class, mark, _stall, (AFTER_STEP, SAVING, LOADING, PREPARING, STEPPING))
    patches.name_unreadable_sequences()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opengait", required=True)
    parser.add_argument("--device", choices=("cuda", "cpu"), required=True)
    parser.add_argument("--cfgs", required=True)
    parser.add_argument("--phase", choices=("train", "test"), required=True)
    parser.add_argument("--iter", type=int, default=0)
    parser.add_argument("--log_to_file", action="store_true")
    parser.add_argument("--collective-timeout", type=float, default=COLLECTIVE_TIMEOUT,
                        help="seconds a collective may wait for the other ranks before the run ends")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _terminate)
    root = Path(args.opengait)
    sys.path.insert(0, str(root / "opengait"))
    import torch

    import opengait_gaitbert
    opengait_gaitbert.register()
    og_argv = ["--cfgs", args.cfgs, "--phase", args.phase, "--iter", str(args.iter)]
    og_main = load_opengait_main(root, og_argv + (["--log_to_file"] if args.log_to_file else []))
    timeout = datetime.timedelta(seconds=args.collective_timeout)
    if args.device == "cpu":
        from ..adapters import patches
        patches.run_on_cpu(og_main)  # patch P1
        torch.distributed.init_process_group("gloo", init_method="env://", timeout=timeout)
    else:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        torch.distributed.init_process_group("nccl", init_method="env://", timeout=timeout)

    cfgs = og_main.config_loader(args.cfgs)
    if args.iter != 0:  # what main.py's __main__ block does with --iter
        cfgs["evaluator_cfg"]["restore_hint"] = args.iter
        cfgs["trainer_cfg"]["restore_hint"] = args.iter
    training = args.phase == "train"
    if training:
        install_hooks(getattr(og_main.models, cfgs["model_cfg"]["model"]))
    og_main.initialization(cfgs, training)
    og_main.run_model(cfgs, training)
    torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
