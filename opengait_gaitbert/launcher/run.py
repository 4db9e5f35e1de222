"""``opengait-gaitbert train|test``: OpenGait's own main flow on CUDA (nccl) or CPU (gloo).

The parent process locates OpenGait, checks the config (:mod:`.preflight`) and
starts ``torch.distributed.run`` (torchrun) with :mod:`.worker`, one process per
GPU or ``--nproc`` CPU processes; multi-node runs take torchrun's usual flags.
"""
from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import yaml

from ..core.errors import ConfigError
from .locate import locate_opengait
from .preflight import deep_merge, preflight

EPILOG = """examples:
  opengait-gaitbert train --cfgs configs/gaitbert/gaitbert_casiab.yaml --opengait ~/OpenGait
  opengait-gaitbert train --cfgs my.yaml --device cpu --nproc 2 --set trainer_cfg.total_iter=200
  opengait-gaitbert test  --cfgs my.yaml --iter 60000
"""
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"


def add_arguments(parser, phase: str = "train") -> None:
    parser.add_argument("--cfgs", required=True, help="OpenGait YAML config")
    parser.add_argument("--opengait", help="OpenGait clone (default: $OPENGAIT_ROOT, then the current directory)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                        help="auto: CUDA when available, else CPU (gloo)")
    parser.add_argument("--nproc", type=int, help="processes on this node (default: GPU count, or 1 on CPU)")
    parser.add_argument("--iter", type=int, default=0, help="checkpoint iteration to restore, as OpenGait's --iter")
    parser.add_argument("--workdir", help="folder OpenGait runs in: relative data paths and output/ "
                                          "(default: the OpenGait clone, as OpenGait expects)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. trainer_cfg.total_iter=200 (YAML value)")
    parser.add_argument("--log-to-file", action="store_true", help="OpenGait's --log_to_file")
    parser.add_argument("--no-jemalloc", action="store_true", help="CPU: do not preload jemalloc")
    parser.add_argument("--nnodes", default="1", help="torchrun --nnodes (multi-node)")
    parser.add_argument("--node-rank", type=int, default=0, help="torchrun --node_rank")
    parser.add_argument("--master-addr", help="torchrun --master_addr (multi-node)")
    parser.add_argument("--master-port", type=int, help="torchrun --master_port (multi-node)")


def main(args) -> int:
    return launch(args.command, args.cfgs, opengait=args.opengait, device=args.device, nproc=args.nproc,
                  iteration=args.iter, workdir=args.workdir, overrides=args.set,
                  log_to_file=args.log_to_file, jemalloc=not args.no_jemalloc,
                  torchrun_args=_multinode_args(args))


def _multinode_args(args) -> List[str]:
    if str(args.nnodes) == "1":
        return ["--standalone"]
    extra = ["--nnodes", str(args.nnodes), "--node_rank", str(args.node_rank)]
    if args.master_addr:
        extra += ["--master_addr", args.master_addr]
    if args.master_port:
        extra += ["--master_port", str(args.master_port)]
    return extra


def parse_override(item: str):
    """``a.b.c=value`` -> (["a", "b", "c"], YAML-parsed value)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. trainer_cfg.total_iter=200.")
    key, value = item.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value)


def apply_overrides(cfg: dict, overrides: Sequence[str]) -> dict:
    """Set each ``a.b.c=value``; a numeric key indexes a list (``loss_cfg.0.margin=0.3``)."""
    for item in overrides:
        keys, value = parse_override(item)
        node = cfg
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            if isinstance(node, list):
                if not (key.isdigit() and int(key) < len(node)):
                    raise ConfigError(f"--set {item}: `{'.'.join(keys[:depth])}` is a list of {len(node)} "
                                      f"entries; `{key}` must be an index from 0 to {len(node) - 1}.")
                key = int(key)
            elif not last:
                node = node.setdefault(key, {})
                continue
            if last:
                node[key] = value
            else:
                node = node[key]
    return cfg


def resolve_device(device: str) -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is visible to PyTorch; use --device cpu.")
    return device


def ensure_default_config(workdir: Path, root: Path) -> None:
    """OpenGait's config_loader reads ./configs/default.yaml from the working directory."""
    target = workdir / "configs" / "default.yaml"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(root / "configs" / "default.yaml")


def worker_env(device: str, nproc: int, jemalloc: bool) -> dict:
    env = dict(os.environ)
    if device == "cpu":
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
        library = ctypes.util.find_library("jemalloc") if jemalloc else None
        if library:
            # Glibc malloc spends ~1/3 of a CPU iteration in page faults on large activations;
            # jemalloc keeps pages (PyTorch's CPU performance guide recommends it).
            path = _library_path(library)
            if path:
                env["LD_PRELOAD"] = ":".join(filter(None, [env.get("LD_PRELOAD"), path]))
                env.setdefault("MALLOC_CONF", JEMALLOC_CONF)
                print(f"[opengait-gaitbert] CPU run: preloading jemalloc ({path})", flush=True)
    return env


def _library_path(name: str) -> Optional[str]:
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def launch(phase: str, cfgs: str, opengait: Optional[str] = None, device: str = "auto",
           nproc: Optional[int] = None, iteration: int = 0, workdir: Optional[str] = None,
           overrides: Sequence[str] = (), log_to_file: bool = False, jemalloc: bool = True,
           torchrun_args: Sequence[str] = ("--standalone",), output: Optional[List[str]] = None) -> int:
    """Run OpenGait's train or test phase; returns the exit code.

    Args:
        output: if a list, the run's output lines are also appended to it.
    """
    root = locate_opengait(opengait)
    cfg_path = Path(cfgs).expanduser().resolve()
    if not cfg_path.is_file():
        raise ConfigError(f"--cfgs {cfgs}: no such file.")
    device = resolve_device(device)
    if nproc is None:
        import torch
        nproc = torch.cuda.device_count() if device == "cuda" else 1
    workdir_path = Path(workdir).resolve() if workdir else root
    ensure_default_config(workdir_path, root)

    with open(cfg_path) as stream:
        user_cfg = yaml.safe_load(stream) or {}
    if overrides:
        user_cfg = apply_overrides(user_cfg, overrides)
        run_dir = workdir_path / "output" / "gaitbert-launcher"
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg_path = run_dir / cfg_path.name
        cfg_path.write_text(yaml.safe_dump(user_cfg, sort_keys=False))
    with open(root / "configs" / "default.yaml") as stream:
        merged = deep_merge(user_cfg, yaml.safe_load(stream))
    nnodes = 1
    if "--nnodes" in torchrun_args:
        nnodes = int(str(torchrun_args[list(torchrun_args).index("--nnodes") + 1]).split(":")[-1])
    preflight(merged, str(cfgs), phase, device, nproc * nnodes, workdir_path, iteration)

    cmd = [sys.executable, "-m", "torch.distributed.run", *torchrun_args, "--nproc_per_node", str(nproc),
           "-m", "opengait_gaitbert.launcher.worker", "--opengait", str(root), "--device", device,
           "--cfgs", str(cfg_path), "--phase", phase, "--iter", str(iteration)]
    if log_to_file:
        cmd.append("--log_to_file")
    env = worker_env(device, nproc, jemalloc)
    if output is None:
        return subprocess.call(cmd, cwd=workdir_path, env=env)
    with subprocess.Popen(cmd, cwd=workdir_path, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            output.append(line.rstrip("\n"))
    return proc.returncode
