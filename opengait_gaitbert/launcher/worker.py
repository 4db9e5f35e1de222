"""One torchrun worker: register GaitBERT, then run OpenGait's ``initialization`` and ``run_model``.

Nothing of OpenGait's main flow is copied: its ``main.py`` is loaded as a module
(argv set to what its own parser expects) and its two functions are called. Only
the process-group start differs: ``gloo`` on CPU instead of the hard-coded
``nccl``, which is why this file exists at all.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path


def load_opengait_main(root: Path, argv):
    """Import ``opengait/main.py`` as a module; its parser reads ``argv``."""
    sys.argv = ["opengait/main.py", *argv]
    spec = importlib.util.spec_from_file_location("opengait_main", root / "opengait" / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opengait", required=True)
    parser.add_argument("--device", choices=("cuda", "cpu"), required=True)
    parser.add_argument("--cfgs", required=True)
    parser.add_argument("--phase", choices=("train", "test"), required=True)
    parser.add_argument("--iter", type=int, default=0)
    parser.add_argument("--log_to_file", action="store_true")
    args = parser.parse_args(argv)

    root = Path(args.opengait)
    sys.path.insert(0, str(root / "opengait"))
    import torch

    import opengait_gaitbert
    opengait_gaitbert.register()
    og_argv = ["--cfgs", args.cfgs, "--phase", args.phase, "--iter", str(args.iter)]
    og_main = load_opengait_main(root, og_argv + (["--log_to_file"] if args.log_to_file else []))
    if args.device == "cpu":
        from . import cpu_compat
        cpu_compat.apply(og_main)
        torch.distributed.init_process_group("gloo", init_method="env://")
    else:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        torch.distributed.init_process_group("nccl", init_method="env://")

    cfgs = og_main.config_loader(args.cfgs)
    if args.iter != 0:  # what main.py's __main__ block does with --iter
        cfgs["evaluator_cfg"]["restore_hint"] = args.iter
        cfgs["trainer_cfg"]["restore_hint"] = args.iter
    training = args.phase == "train"
    og_main.initialization(cfgs, training)
    og_main.run_model(cfgs, training)
    torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
