"""What the benchmarks share: sizes, the three models' configs, data, launches, tables, targets.

Models are always GaitBERT and OpenGait's own GaitBase (``Baseline`` with its
ResNet9 backbone) and GaitSet, each from its own YAML recipe:

* GaitBERT: ``configs/gaitbert/gaitbert_casiab.yaml`` (this repository);
* GaitBase: ``configs/gaitbase/gaitbase_da_casiab.yaml`` (the OpenGait clone);
* GaitSet:  ``configs/gaitset/gaitset.yaml`` (the OpenGait clone).

A size shrinks all three the same way: every channel width of each model's own
config is divided by ``Size.width_divisor`` (also the embedding widths), and the
budget (iterations, P x K x 30 frames) is the same for all. The changes are
expressed as launcher-style ``--set`` overrides (``KEY=VALUE``, YAML values) and
written into every result table.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_WORK = Path(os.environ.get("TMPDIR", "/tmp")) / "gaitbert-bench"

MODELS = ("GaitBERT", "GaitBase", "GaitSet")
REFERENCE = "GaitBase"  # every ratio is "model / GaitBase"
COLORS = {"GaitBERT": "#d62728", "GaitBase": "#1f77b4", "GaitSet": "#2ca02c"}
PROTOCOL_TYPES = ("NM", "BG", "CL")

#: Each model's own config: (where it lives, path inside).
CONFIG_FILES = {
    "GaitBERT": ("gaitbert", "gaitbert_casiab.yaml"),
    "GaitBase": ("opengait", "configs/gaitbase/gaitbase_da_casiab.yaml"),
    "GaitSet": ("opengait", "configs/gaitset/gaitset.yaml"),
}


@dataclass(frozen=True)
class Size:
    """One benchmark size. Every model gets exactly the same data, budget and width divisor."""

    name: str
    width_divisor: int            # each model's own channel widths / this
    ids: int                      # synthetic ids: first half train, second half test
    views: Tuple[str, ...]        # CASIA-B views rendered
    frames: int                   # frames per synthetic sequence
    iters: int                    # training iterations (accuracy), same for every model
    batch: Tuple[int, int]        # P x K sequences of `clip` frames per training iteration
    seeds: Tuple[int, ...]        # generator seeds (accuracy: mean and spread over them)
    robust_seeds: Tuple[int, ...]  # seeds whose checkpoints the robustness test reuses
    robust_levels: str = "all"    # robustness severities: "all", or "target" (one per kind: smoke)
    robust_pack: int = 0          # sequences per packed test forward (all_ordered); 0: 1 on CPU, 16 on CUDA
    speed_batch: Tuple[int, int] = (4, 4)
    clip: int = 30
    warmup: int = 2               # untimed training iterations per model
    train_rounds: int = 6         # timed training iterations per model (interleaved)
    lengths: Tuple[int, ...] = (30, 60, 120, 240, 720)
    infer_rounds: int = 5         # timed sequences per model and length (interleaved)
    jobs: int = 2                 # launcher runs in parallel (train/test; never during timing)
    generator: str = "synth"      # the data's generator: one of GENERATORS

    def view_text(self) -> str:
        if len(self.views) > 3:
            return f"{len(self.views)} views {self.views[0]}..{self.views[-1]}"
        return f"views {', '.join(self.views)}"

    def describe(self) -> str:
        p, k = self.batch
        return (f"size `{self.name}`: every channel width = each model's own full config / "
                f"{self.width_divisor}; synthetic CASIA-B protocol ({GENERATORS[self.generator]}), {self.ids} ids "
                f"({self.ids // 2} train / {self.ids - self.ids // 2} test), {self.view_text()}, "
                f"{self.frames} frames per sequence; training {self.iters} iterations of "
                f"{p}x{k}x{self.clip} frames for every model")


ALL_VIEWS = tuple(f"{d:03d}" for d in range(0, 181, 18))  # CASIA-B's 11 views

#: Two data generators built independently (``GENERATOR_MODULES``): a choice tuned
#: to one of them shows up on the other.
GENERATOR_MODULES = {"synth": "opengait_gaitbert.data.synth", "bodies": "benchmarks.generators.bodies"}
GENERATORS = {
    "synth": "`synth` generator",
    "bodies": "`bodies` generator: articulated tapered-capsule bodies",
}

SIZES: Dict[str, Size] = {
    # CI smoke: seconds of timing, 2 iterations, one severity per robustness kind; catches
    # breakage, says nothing about speed or accuracy. Two neighbouring views, so that even barely
    # trained models rank above chance and the in-process vs launcher rank-1 check means something.
    "smoke": Size("smoke", width_divisor=8, ids=8, views=("072", "090"), frames=32, iters=2, batch=(2, 2),
                  seeds=(0,), robust_seeds=(0,), robust_levels="target", robust_pack=4, speed_batch=(2, 2),
                  warmup=1, train_rounds=2, lengths=(30, 60), infer_rounds=2),
    # The small run: python -m benchmarks.run_all. 16 train / 16 test ids, all 11 views, 3 seeds.
    # Widths / 8: at / 4 one GaitBERT training iteration takes ~7 s on one core, too slow for CPU.
    "small": Size("small", width_divisor=8, ids=32, views=ALL_VIEWS, frames=40, iters=200,
                  batch=(4, 4), seeds=(0, 1, 2), robust_seeds=(0, 1, 2)),
    # --full: each model at its own full width, more data and iterations (hours on CPU).
    "full": Size("full", width_divisor=1, ids=32, views=ALL_VIEWS, frames=60, iters=3000, batch=(8, 8),
                 seeds=(0, 1, 2), robust_seeds=(0, 1, 2), train_rounds=5, infer_rounds=3, jobs=1),
}


def size_from_args(args) -> Size:
    name = "smoke" if getattr(args, "smoke", False) else "full" if getattr(args, "full", False) else "small"
    size = SIZES[name]
    if getattr(args, "iters", None):
        size = Size(**{**asdict(size), "iters": args.iters})
    if getattr(args, "seeds", None):
        seeds = tuple(int(s) for s in args.seeds.split(","))
        size = Size(**{**asdict(size), "seeds": seeds, "robust_seeds": seeds[:len(size.robust_seeds)]})
    if getattr(args, "jobs", None):
        size = Size(**{**asdict(size), "jobs": args.jobs})
    if getattr(args, "robust_levels", None):
        size = Size(**{**asdict(size), "robust_levels": args.robust_levels})
    if getattr(args, "generator", None):
        size = Size(**{**asdict(size), "generator": args.generator})
    return size


def add_common_arguments(parser) -> None:
    parser.add_argument("--opengait", help="OpenGait clone (default: $OPENGAIT_ROOT)")
    parser.add_argument("--workdir", default=str(DEFAULT_WORK),
                        help=f"data, configs, checkpoints and logs (default {DEFAULT_WORK}); keep it out of the repo")
    parser.add_argument("--results", help="where tables and plots go (default: benchmarks/results/ for the "
                                          "small size, results/full/ for --full, <workdir>/results-smoke for --smoke)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--smoke", action="store_true", help="seconds-long CI smoke run (no meaningful numbers)")
    group.add_argument("--full", action="store_true", help="full-width models, more data and iterations (hours on CPU)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu",
                        help="device of the launcher runs (training/testing); timing is CPU")
    parser.add_argument("--jobs", type=int, help="launcher runs in parallel (default: 2 small/smoke, 1 full)")
    parser.add_argument("--iters", type=int, help="override the size's training iterations")
    parser.add_argument("--generator", choices=sorted(GENERATORS), help="the data's generator (default synth)")
    parser.add_argument("--seeds", help="override the size's generator seeds, e.g. 0,1,2")
    parser.add_argument("--robust-levels", choices=("all", "target"),
                        help="robustness severities: every level of every kind, or only each kind's target level")


def results_dir(args, size: Size) -> Path:
    if getattr(args, "results", None):
        return Path(args.results).resolve()
    if size.name == "smoke":  # CI must not write into the repository
        return Path(args.workdir).resolve() / "results-smoke"
    return RESULTS if size.name == "small" else RESULTS / size.name


def opengait_root(path: Optional[str]) -> Path:
    from opengait_gaitbert.launcher.locate import locate_opengait
    return Path(locate_opengait(path)).resolve()


# ----------------------------------------------------------------------------------------
# Configs
# ----------------------------------------------------------------------------------------

def base_config_path(model: str, root: Path) -> Path:
    where, rel = CONFIG_FILES[model]
    if where == "gaitbert":
        from opengait_gaitbert import config_path
        return Path(str(config_path(rel)))
    return root / rel


def _div(value: int, divisor: int, what: str) -> int:
    if value % divisor:
        raise ValueError(f"{what} = {value} is not divisible by the width divisor {divisor}")
    return value // divisor


def width_overrides(model: str, cfg: dict, divisor: int) -> List[str]:
    """``--set`` overrides that divide every channel width of ``model``'s own config by ``divisor``."""
    m = cfg["model_cfg"]
    d = lambda v, what: _div(int(v), divisor, what)  # noqa: E731
    if model == "GaitBERT":
        sets = [f"model_cfg.channels={[d(c, 'channels') for c in m['channels']]}"]
        if "temporal_dim" in m:  # a recipe with a transformer (a conv context has no width of its own)
            dim = d(m["temporal_dim"], "temporal_dim")
            heads = int(m.get("temporal_heads", 4))
            while dim % heads:
                heads //= 2
            sets += [f"model_cfg.temporal_dim={dim}", f"model_cfg.temporal_heads={heads}"]
        return sets + [f"model_cfg.embed_dim={d(m['embed_dim'], 'embed_dim')}"]
    if model == "GaitBase":
        return [f"model_cfg.backbone_cfg.channels={[d(c, 'channels') for c in m['backbone_cfg']['channels']]}",
                f"model_cfg.SeparateFCs.in_channels={d(m['SeparateFCs']['in_channels'], 'in_channels')}",
                f"model_cfg.SeparateFCs.out_channels={d(m['SeparateFCs']['out_channels'], 'out_channels')}",
                f"model_cfg.SeparateBNNecks.in_channels={d(m['SeparateBNNecks']['in_channels'], 'in_channels')}"]
    if model == "GaitSet":
        channels = m["in_channels"]
        return [f"model_cfg.in_channels={[channels[0]] + [d(c, 'in_channels') for c in channels[1:]]}",
                f"model_cfg.SeparateFCs.in_channels={d(m['SeparateFCs']['in_channels'], 'in_channels')}",
                f"model_cfg.SeparateFCs.out_channels={d(m['SeparateFCs']['out_channels'], 'out_channels')}"]
    raise KeyError(model)


def class_num_override(model: str, class_num: int) -> List[str]:
    if model == "GaitBERT":
        return [f"model_cfg.class_num={class_num}"]
    if model == "GaitBase":
        return [f"model_cfg.SeparateBNNecks.class_num={class_num}"]
    return []  # GaitSet has no classifier


def budget_overrides(cfg: dict, iters: int, batch: Sequence[int], clip: int, device: str) -> List[str]:
    """Same iterations and P x K x clip for every model; each keeps its own optimizer recipe, with
    its LR milestones scaled from its own total_iter to ``iters``."""
    trainer = cfg["trainer_cfg"]
    full_total = int(trainer.get("total_iter") or iters)
    milestones = (cfg.get("scheduler_cfg") or {}).get("milestones") or []
    scaled = sorted({max(1, round(int(m) * iters / full_total)) for m in milestones})
    sets = [f"trainer_cfg.total_iter={iters}", f"trainer_cfg.save_iter={iters}",
            f"trainer_cfg.log_iter={max(1, iters // 10)}", "trainer_cfg.restore_hint=0",
            "trainer_cfg.with_test=false", f"trainer_cfg.sampler.batch_size=[{batch[0]}, {batch[1]}]",
            f"trainer_cfg.sampler.frames_num_fixed={clip}", f"evaluator_cfg.restore_hint={iters}",
            "evaluator_cfg.sampler.batch_size=1"]
    if scaled:
        sets.append(f"scheduler_cfg.milestones={scaled}")
    if device != "cuda":  # SyncBatchNorm and fp16 need CUDA; CPU runs are fp32 for every model
        sets += ["trainer_cfg.sync_BN=false", "trainer_cfg.enable_float16=false",
                 "evaluator_cfg.enable_float16=false"]
    return sets


def data_overrides(data_dir: Path, partition: Optional[Path] = None) -> List[str]:
    partition = partition or data_dir / "partition.json"
    return [f"data_cfg.dataset_root={data_dir}", f"data_cfg.dataset_partition={partition}",
            "data_cfg.num_workers=0"]


def build_config(model: str, root: Path, size: Size, data_dir: Path, class_num: int,
                 device: str = "cpu", batch: Optional[Sequence[int]] = None,
                 iters: Optional[int] = None, shape: Sequence[str] = (), base: Optional[Path] = None,
                 partition: Optional[Path] = None, extra: Sequence[str] = ()) -> Tuple[dict, List[str]]:
    """``model``'s own YAML (or ``base``, another recipe of it) with this size's overrides
    applied, then ``extra`` ones; returns (config, overrides).

    ``shape`` overrides (``model_cfg.*`` at full width, e.g. wider channels) apply to the
    YAML first, so this size divides their widths like the shipped ones.
    """
    from opengait_gaitbert.launcher.run import apply_overrides
    cfg = apply_overrides(yaml.safe_load((base or base_config_path(model, root)).read_text()), list(shape))
    overrides = (list(shape) + width_overrides(model, cfg, size.width_divisor) + class_num_override(model, class_num)
                 + budget_overrides(cfg, iters or size.iters, batch or size.batch, size.clip, device)
                 + data_overrides(data_dir, partition) + list(extra))
    return apply_overrides(cfg, overrides), overrides


def write_yaml(cfg: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def width_summary(root: Path, size: Size, gaitbert_cfg: Optional[Path] = None) -> str:
    """One line per model naming the widths it runs at (GaitBERT: ``gaitbert_cfg``, default the shipped recipe)."""
    parts = []
    for model in MODELS:
        path = gaitbert_cfg if model == "GaitBERT" and gaitbert_cfg else base_config_path(model, root)
        cfg = yaml.safe_load(path.read_text())
        sets = [s.split("model_cfg.", 1)[1] for s in width_overrides(model, cfg, size.width_divisor)]
        parts.append(f"{model}: " + ", ".join(sets))
    return "; ".join(parts)


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------

def synth_data(out: Path, size: Size, seed: int, ids: Optional[int] = None,
               types: Optional[Sequence[str]] = None, views: Optional[Sequence[str]] = None,
               train_ids: Optional[int] = None) -> Path:
    """The synthetic CASIA-B-protocol dataset of ``seed`` (written once, reused); the first
    ``train_ids`` ids (default half) train, the rest test."""
    import importlib
    generator = importlib.import_module(GENERATOR_MODULES[size.generator])
    ids = ids or size.ids
    views = tuple(views or size.views)
    stamp = {"ids": ids, "seed": seed, "frames": size.frames, "views": list(views),
             "types": list(types) if types else None}
    if size.generator != "synth":  # stamps written before the second generator name none
        stamp["generator"] = size.generator
    if train_ids:
        stamp["train_ids"] = train_ids
    marker = out / ".bench-stamp.json"
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return out
    generator.generate(out, ids=ids, seed=seed, frames=size.frames, views=list(views), types=types,
                       train_ids=train_ids, progress=False)
    marker.write_text(json.dumps(stamp))
    return out


def train_ids(data_dir: Path) -> List[str]:
    return json.loads((data_dir / "partition.json").read_text())["TRAIN_SET"]


def first_share(ids: Sequence[str], percent: int) -> List[str]:
    """The first ``percent`` % of ``ids``, two at least: a triplet needs a negative."""
    return list(ids[:max(2, round(len(ids) * percent / 100))])


def triplet_batch(batch: Sequence[int], class_num: int) -> Tuple[int, int]:
    """P x K for ``class_num`` training ids: OpenGait's TripletSampler draws P ids with replacement when
    there are fewer, and a batch of one id has no negative, so P shrinks to the ids and K grows."""
    p, k = batch
    ids = min(p, class_num)
    return ids, p * k // ids


# ----------------------------------------------------------------------------------------
# Launcher runs, optionally in parallel, each with its own log file
# ----------------------------------------------------------------------------------------

class _StdoutRouter(io.TextIOBase):
    """``sys.stdout`` that sends a thread's writes to that thread's log file, if it set one."""

    def __init__(self, real):
        self.real = real
        self.local = threading.local()

    def write(self, text):
        target = getattr(self.local, "file", None)
        (target or self.real).write(text)
        return len(text)

    def flush(self):
        target = getattr(self.local, "file", None)
        (target or self.real).flush()


_ROUTER: Optional[_StdoutRouter] = None
_PRINT_LOCK = threading.Lock()


def say(*args) -> None:
    with _PRINT_LOCK:
        real = _ROUTER.real if _ROUTER else sys.stdout
        print(*args, file=real, flush=True)


@contextlib.contextmanager
def routed_stdout(log_file: Path):
    global _ROUTER
    if _ROUTER is None or sys.stdout is not _ROUTER:
        _ROUTER = _StdoutRouter(sys.stdout)
        sys.stdout = _ROUTER
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "a", buffering=1) as fh:
        _ROUTER.local.file = fh
        try:
            yield
        finally:
            _ROUTER.local.file = None


class LaunchFailed(RuntimeError):
    pass


def launch_logged(phase: str, cfg_file: Path, root: Path, workdir: Path, log_file: Path,
                  device: str = "cpu") -> List[str]:
    """One launcher run (OpenGait's own train or test flow), output to ``log_file``; returns its lines."""
    from opengait_gaitbert.launcher.run import launch
    lines: List[str] = []
    with routed_stdout(log_file):
        code = launch(phase, str(cfg_file), opengait=str(root), device=device, nproc=1,
                      workdir=str(workdir), output=lines)
    if code:
        tail = "\n".join(lines[-25:])
        raise LaunchFailed(f"{phase} {cfg_file} exited with {code}; log {log_file}\n{tail}")
    return lines


def run_parallel(tasks: Sequence[Callable[[], object]], jobs: int) -> List[object]:
    """Run callables ``jobs`` at a time; each launcher process then gets cores / jobs threads."""
    jobs = max(1, min(jobs, len(tasks)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    old = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(task) for task in tasks]
            return [f.result() for f in futures]
    finally:
        if old is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = old


# ----------------------------------------------------------------------------------------
# OpenGait inside a benchmark worker process (speed timing, robustness evaluation)
# ----------------------------------------------------------------------------------------

def join_opengait(root: Path, threads: int, device: str = "cpu") -> None:
    """Make this process what a launcher worker of world size 1 is: OpenGait importable (its
    ``opengait/`` first on sys.path), a process group of size 1 (gloo on CPU), GaitBERT registered,
    and on CPU OpenGait's CPU patch (``adapters/patches.py``, P1) applied. OpenGait's own constructors then work unchanged."""
    import torch
    import torch.distributed as dist
    torch.set_num_threads(threads)
    sys.path.insert(0, str(Path(root) / "opengait"))
    if device == "cuda":
        torch.cuda.set_device(0)
    dist.init_process_group("nccl" if device == "cuda" else "gloo", store=dist.HashStore(), rank=0, world_size=1)
    import opengait_gaitbert
    opengait_gaitbert.register()
    if device != "cuda":
        from opengait_gaitbert.adapters import patches
        patches.run_on_cpu()


def worker_process_env(threads: int) -> dict:
    """The launcher's CPU environment (jemalloc when installed), with this repository importable."""
    from opengait_gaitbert.launcher.run import worker_env
    env = worker_env("cpu", 1, True)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = str(threads)
    return env


# ----------------------------------------------------------------------------------------
# Tables, statistics, targets
# ----------------------------------------------------------------------------------------

def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = ["| " + " | ".join(str(h) for h in header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def iqr(values: Sequence[float]) -> Tuple[float, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return v, v
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def fmt_si(value: float, unit: str = "") -> str:
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.0f} {unit}".strip()


@dataclass
class Target:
    """One benchmark target: PASS when ``value`` is on the right side of ``limit``."""

    name: str
    value: float
    limit: float
    lower_is_better: bool = True
    unit: str = ""
    note: str = ""

    @property
    def margin(self) -> float:
        return self.limit - self.value if self.lower_is_better else self.value - self.limit

    @property
    def passed(self) -> bool:
        return not math.isnan(self.value) and self.margin >= 0

    def as_dict(self) -> dict:
        """The fields plus the verdict, as the results' JSON stores a target."""
        return asdict(self) | {"passed": self.passed, "margin": self.margin}

    def row(self) -> List[str]:
        sign = "<=" if self.lower_is_better else ">="
        verdict = "PASS" if self.passed else "MISS"
        return [self.name, f"{fmt(self.value)}{self.unit}", f"{sign} {fmt(self.limit)}{self.unit}",
                f"**{verdict}**", f"{self.margin:+.2f}{self.unit}", self.note]


TARGET_HEADER = ["target", "GaitBERT", "limit", "verdict", "margin", "how measured"]


def add_targets(lines: List[str], data: dict, targets: Sequence[Target]) -> None:
    """Append the "## Targets" section to a report's ``lines`` and store the targets in its ``data``."""
    data["targets"] = [t.as_dict() for t in targets]
    if targets:
        lines += ["## Targets", "", targets_table(targets), ""]


def targets_table(targets: Sequence[Target]) -> str:
    return md_table(TARGET_HEADER, [t.row() for t in targets])


def print_targets(targets: Sequence[Target]) -> None:
    for t in targets:
        verdict = "PASS" if t.passed else "MISS"
        say(f"  {verdict}  {t.name}: {fmt(t.value)}{t.unit} (limit {fmt(t.limit)}{t.unit}, "
            f"margin {t.margin:+.2f}{t.unit})")


def write_result(results: Path, name: str, markdown: str, data: dict, workdir: Optional[Path] = None) -> Path:
    """``name``.md and ``name``.json under ``results``; paths inside ``workdir`` are written as
    ``<workdir>/...``, so that committed results name no machine's folders."""
    def portable(text: str) -> str:
        return text.replace(str(Path(workdir).resolve()), "<workdir>") if workdir else text
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{name}.md").write_text(portable(markdown.rstrip() + "\n"))
    (results / f"{name}.json").write_text(portable(json.dumps(data, indent=1, default=str) + "\n"))
    return results / f"{name}.md"


def publish(results: Path, name: str, markdown: str, data: dict, workdir: Optional[Path],
            draw: Callable[[Path], None]) -> str:
    """Write a report's ``name``.md/.json (see :func:`write_result`) and its plot ``name``.png
    (``draw(path)``); returns the markdown."""
    write_result(results, name, markdown, data, workdir)
    draw(results / f"{name}.png")
    return markdown


def environment_line() -> str:
    import ctypes.util
    import platform

    import torch
    allocator = ("jemalloc (preloaded by the launcher and the timing workers)"
                 if ctypes.util.find_library("jemalloc") else "glibc malloc (jemalloc not installed)")
    return (f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPU cores, "
            f"allocator: {allocator}, {time.strftime('%Y-%m-%d %H:%M')}")


def pyplot():
    """matplotlib's ``pyplot`` on the file-only Agg backend (benchmarks draw PNGs, never windows)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def small_png(fig, path: Path, limit: int = 200_000) -> Path:
    """Save a matplotlib figure as PNG under ``limit`` bytes (lowering the dpi if needed)."""
    for dpi in (110, 90, 72, 60):
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        if path.stat().st_size < limit:
            break
    return path
