"""``opengait-gaitbert demo``: synthetic data -> GaitBERT training -> OpenGait's test table.

Everything runs through OpenGait's real pipeline (its data loader, sampler,
trainer, checkpoints and CASIA-B evaluator) via the launcher; only the data is
synthetic and the model narrow, so that it finishes in minutes on 2 CPU cores.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Dict, List

import yaml

from .. import config_path
from ..data import synth
from .locate import locate_opengait
from .preflight import checkpoint_path
from .run import launch

EPILOG = """examples:
  opengait-gaitbert demo --opengait ~/OpenGait
  opengait-gaitbert demo --device cpu --ids 24 --iters 600 --workdir /tmp/gaitbert-demo
"""
RESULT_LINE = re.compile(r"(NM|BG|CL)@R1:\s*([0-9.]+)%")


def add_arguments(parser) -> None:
    parser.add_argument("--opengait", help="OpenGait clone (default: $OPENGAIT_ROOT, then the current directory)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                        help="auto: CUDA when there is a GPU, else the CPU (default: %(default)s)")
    parser.add_argument("--workdir", default="gaitbert-demo",
                        help="where data, config, checkpoints and logs go: <workdir>/data, <workdir>/output "
                             "(default: %(default)s, in the current directory)")
    parser.add_argument("--ids", type=int, default=16, help="synthetic identities, half train, half test "
                                                             "(default: %(default)s)")
    parser.add_argument("--views", default="000,090,180", help="comma-separated CASIA-B views (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=40, help="frames per synthetic sequence (default: %(default)s)")
    parser.add_argument("--iters", type=int, default=200, help="training iterations, pretraining included "
                                                                "(default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic data (default: %(default)s)")


def demo_config(iters: int, class_num: int, nproc: int) -> dict:
    """The shipped gaitbert_demo.yaml with this run's sizes filled in."""
    cfg = yaml.safe_load(config_path("gaitbert_demo.yaml").read_text())
    cfg["data_cfg"].update(dataset_root="./data", dataset_partition="./data/partition.json")
    cfg["model_cfg"]["class_num"] = class_num
    cfg["trainer_cfg"].update(total_iter=iters, save_iter=iters)
    cfg["evaluator_cfg"]["restore_hint"] = iters
    cfg["evaluator_cfg"]["sampler"]["batch_size"] = nproc
    return cfg


def parse_rank1(lines: List[str]) -> Dict[str, float]:
    """NM/BG/CL mean rank-1 from OpenGait's evaluator log (its last such line wins)."""
    result: Dict[str, float] = {}
    for line in lines:
        for name, value in RESULT_LINE.findall(line):
            result[name] = float(value)
    return result


def main(args) -> int:
    from ..core.model import NetworkConfig  # torch: loaded when the demo runs, not for its --help

    started = time.time()
    root = locate_opengait(args.opengait)
    workdir = Path(args.workdir).resolve()
    data_dir = workdir / "data"
    views = [v.strip() for v in args.views.split(",") if v.strip()]
    print(f"[demo] 1/3 synthetic CASIA-B protocol: {args.ids} ids x 10 types x {len(views)} views -> {data_dir}")
    partition = synth.generate(data_dir, ids=args.ids, seed=args.seed, frames=args.frames, views=views)
    train_ids = len(yaml.safe_load(Path(partition).read_text())["TRAIN_SET"])
    cfg_file = workdir / "gaitbert_demo.yaml"
    cfg = demo_config(args.iters, train_ids, 1)
    cfg_file.write_text(yaml.safe_dump(cfg, sort_keys=False))

    common = dict(opengait=str(root), device=args.device, nproc=1, workdir=str(workdir))
    network = NetworkConfig.from_dict(cfg["model_cfg"])
    boundary = network.pretrain_iterations(args.iters)
    phases = (f"masked-frame pretraining for {boundary} iterations, then fine-tuning for {args.iters - boundary}"
              if boundary else f"{args.iters} iterations")
    print(f"[demo] 2/3 training GaitBERT with OpenGait ({cfg_file}): the recipe of gaitbert_casiab.yaml at "
          f"widths [{', '.join(map(str, network.channels))}], {phases}")
    code = launch("train", str(cfg_file), **common)
    if code:
        return code
    print("[demo] 3/3 testing with OpenGait's CASIA-B evaluator")
    lines: List[str] = []
    code = launch("test", str(cfg_file), output=lines, **common)
    if code:
        return code
    rank1 = parse_rank1(lines)
    chance = 100.0 / max(1, args.ids - train_ids)
    minutes = (time.time() - started) / 60
    print("\nGaitBERT demo, synthetic CASIA-B protocol, rank-1 (%), identical views excluded")
    print("| NM | BG | CL | chance |\n|---|---|---|---|")
    print("| " + " | ".join(f"{rank1.get(k, float('nan')):.2f}" for k in ("NM", "BG", "CL"))
          + f" | {chance:.2f} |")
    print(f"wall time: {minutes:.1f} min; checkpoint: {checkpoint_path(cfg, 'evaluator_cfg', args.iters, workdir)}")
    return 0 if len(rank1) == 3 else 1
