"""``opengait-gaitbert train|test``: OpenGait's own main flow on CUDA (nccl) or CPU (gloo).

The parent process locates OpenGait, checks the config (:mod:`.preflight`) and
starts ``torch.distributed.run`` (torchrun) with :mod:`.worker`, one process per
GPU or ``--nproc`` CPU processes; multi-node runs take torchrun's usual flags.

Faults: a SIGTERM to this process is passed to torchrun, which stops the workers
(a checkpoint being written is removed, not left half-written). When a training
run fails, the workers' progress marks (see :mod:`.worker`) name the rank that
fell behind, the last iteration every rank completed, and the ``--iter`` that
resumes from the last checkpoint.
"""
from __future__ import annotations

import ctypes.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import List, Optional, Sequence

import yaml

from ..core.errors import ConfigError
from ..core.training_state import ALLOW_WORLD_SIZE_CHANGE_ENV, checkpoint_iteration, saved_checkpoints
from .locate import locate_opengait
from ..compat import merge_cfgs, read_yaml, yaml_problem
from ..adapters.dataset import TRUST_SAID_ENV
from ..data.safe_pickle import TRUST_ENV, trust_decision
from .checkdata import refuse_unsafe_files
from .preflight import checkpoint_path, check_writable, preflight
from .worker import COLLECTIVE_TIMEOUT, HEARTBEAT_ENV, STAGES

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
    parser.add_argument("--collective-timeout", type=float, default=COLLECTIVE_TIMEOUT, metavar="SECONDS",
                        help="how long a rank waits for the others in a collective before the run ends "
                             f"(default {COLLECTIVE_TIMEOUT:.0f}): bounds the cost of a hung rank")
    parser.add_argument("--allow-world-size-change", action="store_true",
                        help="resume a checkpoint saved by another number of processes: weights, optimizer "
                             "and schedule are restored, the random streams are not (approximate resume)")
    parser.add_argument("--trust-data", action="store_true",
                        help="load the dataset's pkl files with plain pickle, which runs any code a file carries "
                             "(default: an allow-list of numpy arrays; see docs/data-safety.md)")
    parser.add_argument("--nnodes", default="1", help="torchrun --nnodes (multi-node)")
    parser.add_argument("--node-rank", type=int, default=0, help="torchrun --node_rank")
    parser.add_argument("--master-addr", help="torchrun --master_addr (multi-node)")
    parser.add_argument("--master-port", type=int, help="torchrun --master_port (multi-node)")


def main(args) -> int:
    return launch(args.command, args.cfgs, opengait=args.opengait, device=args.device, nproc=args.nproc,
                  iteration=args.iter, workdir=args.workdir, overrides=args.set,
                  log_to_file=args.log_to_file, jemalloc=not args.no_jemalloc,
                  torchrun_args=_multinode_args(args), collective_timeout=args.collective_timeout,
                  allow_world_size_change=args.allow_world_size_change, trust_data=args.trust_data)


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
    try:
        return key.strip().split("."), yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise ConfigError(f"--set {item!r}: the value {yaml_problem(err)}") from err


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
           torchrun_args: Sequence[str] = ("--standalone",), output: Optional[List[str]] = None,
           collective_timeout: float = COLLECTIVE_TIMEOUT, allow_world_size_change: bool = False,
           trust_data: bool = False) -> int:
    """Run OpenGait's train or test phase; returns the exit code.

    Args:
        output: if a list, the run's output lines are also appended to it.
        collective_timeout: seconds a collective waits for the other ranks before the run ends.
        allow_world_size_change: resume a checkpoint of another world size, approximately.
        trust_data: unpickle the dataset with plain pickle (default: the safe loader, after
            every file was checked here, before any process starts); so does
            ``OPENGAIT_GAITBERT_TRUST_DATA=1`` in the environment, and any other value but 0 is refused.
    """
    trust_data, trust_line = trust_decision(trust_data)  # ConfigError for a value like "false"
    cfg_path = Path(cfgs).expanduser().resolve()
    if not cfg_path.is_file():
        raise ConfigError(f"--cfgs {cfgs}: no such file.")
    user_cfg = apply_overrides(read_yaml(cfg_path), overrides)  # a YAML tag in either: ConfigError, first
    root = locate_opengait(opengait)
    device = resolve_device(device)
    if nproc is None:
        import torch
        nproc = torch.cuda.device_count() if device == "cuda" else 1
    if not collective_timeout > 0:
        raise ConfigError(f"--collective-timeout {collective_timeout}: must be a positive number of seconds.")
    workdir_path = Path(workdir).resolve() if workdir else root
    check_writable(workdir_path / "output", "output folder (under --workdir)")
    ensure_default_config(workdir_path, root)

    if overrides:
        run_dir = workdir_path / "output" / "gaitbert-launcher"
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg_path = run_dir / cfg_path.name
        cfg_path.write_text(yaml.safe_dump(user_cfg, sort_keys=False))
    with open(root / "configs" / "default.yaml") as stream:
        merged = merge_cfgs(user_cfg, yaml.safe_load(stream))
    nnodes = 1
    if "--nnodes" in torchrun_args:
        nnodes = int(str(torchrun_args[list(torchrun_args).index("--nnodes") + 1]).split(":")[-1])
    preflight(merged, str(cfgs), phase, device, nproc * nnodes, workdir_path, iteration,
              allow_world_size_change=allow_world_size_change)
    if not trust_data:
        checked = refuse_unsafe_files(merged, phase, workdir_path, str(cfgs))
        trust_line += f"; {checked} pkl file(s) checked before the start"
    _say(trust_line, output)

    cmd = [sys.executable, "-m", "torch.distributed.run", *torchrun_args, "--nproc_per_node", str(nproc),
           "-m", "opengait_gaitbert.launcher.worker", "--opengait", str(root), "--device", device,
           "--cfgs", str(cfg_path), "--phase", phase, "--iter", str(iteration),
           "--collective-timeout", str(collective_timeout)]
    if log_to_file:
        cmd.append("--log_to_file")
    env = worker_env(device, nproc, jemalloc)
    if allow_world_size_change:
        env[ALLOW_WORLD_SIZE_CHANGE_ENV] = "1"
    env[TRUST_ENV] = "1" if trust_data else "0"
    env[TRUST_SAID_ENV] = "1"  # said above: the workers' DataSet does not repeat it
    heartbeats = Path(tempfile.mkdtemp(prefix="gaitbert-progress-"))
    env[HEARTBEAT_ENV] = str(heartbeats)
    try:
        code, terminated = _run(cmd, workdir_path, env, output)
        if code != 0 and phase == "train":
            report = failure_report(heartbeats, merged, workdir_path, collective_timeout, terminated)
            for line in report:
                print(f"[opengait-gaitbert] {line}", file=sys.stderr, flush=True)
                if output is not None:
                    output.append(f"[opengait-gaitbert] {line}")
    finally:
        shutil.rmtree(heartbeats, ignore_errors=True)
    return code


def _say(line: str, output: Optional[List[str]]) -> None:
    print(f"[opengait-gaitbert] {line}", flush=True)
    if output is not None:
        output.append(f"[opengait-gaitbert] {line}")


def _run(cmd, cwd, env, output: Optional[List[str]]):
    """Run torchrun; a SIGTERM to this process is passed on to it. Returns (exit code, terminated)."""
    terminated = []
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=None if output is None else subprocess.PIPE,
                          stderr=None if output is None else subprocess.STDOUT, text=True, bufsize=1) as proc:
        def forward(signum, frame):
            # torchrun sends it to every worker, waits for them (30 s at most), then exits.
            terminated.append(signum)
            proc.send_signal(signum)

        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, forward) if in_main else None
        try:
            if output is not None:
                for line in proc.stdout:
                    sys.stdout.write(line)
                    output.append(line.rstrip("\n"))
            proc.wait()
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
    return proc.returncode, bool(terminated)


def read_progress(folder: Path) -> List[dict]:
    """The workers' last progress marks, one per rank that wrote any, by rank."""
    marks = []
    for path in sorted(Path(folder).glob("rank*.json")):
        try:
            marks.append(json.loads(path.read_text()))
        except (OSError, ValueError):  # a worker killed mid-write leaves no file or an old one, never half
            continue
    return sorted(marks, key=lambda m: m["rank"])


def latest_checkpoint(cfgs: dict, workdir: Path) -> Optional[Path]:
    """The newest ``<save_name>-<iteration>.pt`` of the training run, if any."""
    return next(iter(saved_checkpoints(checkpoint_path(cfgs, "trainer_cfg", 0, workdir))), None)


def _describe(progress: dict) -> str:
    done = progress["completed"]
    return STAGES[progress["stage"]].format(done=done, next=done + 1)


def failure_report(heartbeats: Path, cfgs: dict, workdir: Path, timeout: float, terminated: bool) -> List[str]:
    """Lines saying where each rank stopped and how to resume (empty if no rank had started training)."""
    marks = read_progress(heartbeats)
    lines = []
    if terminated:
        lines.append("stopped by SIGTERM: the workers were stopped.")
    if marks:
        completed = min(m["completed"] for m in marks)
        lines.append(f"training stopped; the last iteration every rank completed is {completed}.")
        behind = min((m["completed"], m["stage"]) for m in marks)
        laggards = [m for m in marks if (m["completed"], m["stage"]) == behind]
        if len(laggards) < len(marks) and not terminated:
            others = [m for m in marks if m not in laggards]
            names = ", ".join(str(m["rank"]) for m in laggards)
            lines.append(f"rank {names} made the least progress: it stopped in {_describe(laggards[0])}, while "
                         + "; ".join(f"rank {m['rank']} was in {_describe(m)}" for m in others)
                         + f". Unless it died (see above), it hung, and the others waited for it until the "
                         f"collective timeout ({timeout:g} s, --collective-timeout) ended the run.")
    latest = latest_checkpoint(cfgs, workdir)
    if latest is not None:
        lines.append(f"resume from the last checkpoint with --iter {checkpoint_iteration(latest)} ({latest}).")
    elif marks:
        lines.append("no checkpoint was saved yet: start again with --iter 0.")
    return lines
