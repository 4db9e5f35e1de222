"""Speed and memory: training iteration, inference vs sequence length, parameters, FLOPs.

    python -m benchmarks.speed --opengait PATH [--smoke | --full]

How it measures
---------------
* Models are OpenGait's own classes built by OpenGait's own constructor:
  ``models.Baseline(cfgs, training)``, ``models.GaitSet(...)`` and the registered
  ``GaitBERT(BaseModel)``, with ``cfgs`` = each model's YAML (shrunk as the size
  says) merged over OpenGait's ``configs/default.yaml`` by OpenGait's
  ``config_loader``. The process joins a gloo group of size 1 and applies
  ``opengait_gaitbert.adapters.patches.run_on_cpu`` exactly as a launcher CPU worker does;
  the training model is wrapped by the same ``get_ddp_module`` replacement.
* One training iteration is what OpenGait's ``run_train`` does per batch, minus the
  data loading and logging: ``inputs_pretreament`` (each model's own training
  transform, so GaitBERT's masking is included), ``forward``,
  ``loss_aggregator`` (each model's own losses; GaitBERT's includes the
  reconstruction and the decoder), ``train_step`` (backward + optimizer step).
  The batch is one P x K x 30-frame batch drawn once from the model's own
  ``train_loader`` (its own sampler) and reused.
* Inference is OpenGait's test step for one sequence (its test batch is one
  sequence per process): ``inputs_pretreament`` + ``forward`` under ``no_grad``,
  on a real synthetic sequence tiled to s frames (``seqL = [[s]]``). GaitBERT's
  test forward runs the encoder and the head only.
* Every model runs in its own fresh worker process, so that its peak memory is its
  own: peak RSS is read from ``/proc/self/status`` (``VmHWM``) after resetting it
  (``/proc/self/clear_refs``) just before the first measured step, minus the RSS
  at that moment. That is what the OS had to give the training step: activations,
  gradients, optimizer state, allocator slack (tracemalloc does not see torch's
  allocations; torch has no CPU allocator statistics). Where the reset is refused,
  ``ru_maxrss`` is used and the table says so.
* Timings interleave the models: round r runs one step of every model, in an order
  rotated every round, and only one worker runs at a time. Ratios are taken per
  round ("model / GaitBase" in the same round) and their median reported, so slow
  drifts of a shared machine cancel out.
* FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (FLOPs = 2 x MACs):
  attention is forced onto the math SDPA backend and PyTorch's fused transformer
  fast path is switched off while counting, so that neither hides matmuls from
  the counter. Inference FLOPs are counted at every length s.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

if __package__ in (None, ""):  # python benchmarks/speed.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import common  # noqa: E402
from benchmarks.common import MODELS, REFERENCE, Size, Target, fmt_si, md_table, say  # noqa: E402

# "Linear in s": FLOPs per frame may grow at most 5% from the shortest to the longest s, and the
# log-log slope of time vs s (longest lengths) may exceed GaitBase's by at most 0.10. GaitBase is
# a per-frame CNN (linear by construction); its own slope above 1.00 is the machine (allocator,
# caches), which is why the time criterion is relative to it.
LINEAR_FLOPS_LIMIT = 1.05
LINEAR_SLOPE_EXCESS = 0.10


# ----------------------------------------------------------------------------------------
# Worker process (one model, one mode)
# ----------------------------------------------------------------------------------------

def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class PeakMemory:
    """Peak RSS above a baseline, via VmHWM reset (else ru_maxrss, which cannot be reset)."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS
            self.method = "VmHWM reset"
        except OSError:
            self.method = "ru_maxrss"
        self.base_kb = _status_kb("VmRSS")

    def peak_mb(self) -> float:
        peak_kb = (_status_kb("VmHWM") if self.method == "VmHWM reset"
                   else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return max(0, peak_kb - self.base_kb) / 1024.0


def _count_flops(fn, grad: bool) -> float:
    """FLOPs (2 x MACs) of ``fn()``, with attention on the math backend and the fused
    transformer fast path off, so that the counter sees every matmul."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.set_grad_enabled(grad), sdpa_kernel(SDPBackend.MATH), \
                FlopCounterMode(display=False) as counter:
            fn()
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return float(counter.get_total_flops())


def worker_main(args) -> int:
    """Build one OpenGait model in this process and answer timing requests on stdin/stdout."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed (OpenGait, tqdm, C libraries) goes to stderr
    sys.stdout = sys.stderr

    def reply(**payload):
        proto.write(json.dumps(payload) + "\n")
        proto.flush()

    import random

    import numpy as np
    import torch
    common.join_opengait(Path(args.opengait), args.threads)  # gloo group of 1, CPU patch, registered
    from opengait_gaitbert.adapters import patches
    from modeling import models  # OpenGait
    from utils import config_loader, get_msg_mgr  # OpenGait

    get_msg_mgr().init_logger(str(Path.cwd() / "output" / "speed-logs"), False)
    logging.getLogger("opengait").setLevel(logging.WARNING)
    cfgs = config_loader(args.cfg)  # the model's YAML over ./configs/default.yaml, as main.py does
    training = args.mode == "train"
    Model = getattr(models, cfgs["model_cfg"]["model"])
    model = Model(cfgs, training)
    params = sum(p.numel() for p in model.parameters())

    if training:
        net = patches.cpu_get_ddp_module(model, cfgs["trainer_cfg"]["find_unused_parameters"])
        # Seeded: each model's sampler draws its clip lengths (GaitBERT's 10-40 frames) and sequences
        # at random, so an unseeded draw made the timed batch, hence the ratio, differ between runs.
        random.seed(0)
        np.random.seed(0)
        torch.manual_seed(0)
        batch = next(iter(model.train_loader))
        batch_frames = int(sum(np.asarray(batch[4]).reshape(-1))) if batch[4] is not None \
            else int(sum(len(s) for s in batch[0][0]))

        def enter(phase: Optional[str]) -> None:
            """GaitBERT's steps differ by phase: the step after ``iteration`` completed ones is timed."""
            if phase is not None:
                model.iteration = 0 if phase == "pretrain" else model.engine_cfg["total_iter"] - 1

        def step(phase: Optional[str] = None):
            enter(phase)
            ipts = model.inputs_pretreament(batch)
            retval = net(ipts)
            loss_sum, _ = model.loss_aggregator(retval["training_feat"])
            model.train_step(loss_sum)

        def fwd_bwd(phase: Optional[str] = None):
            enter(phase)
            ipts = model.inputs_pretreament(batch)
            loss_sum, _ = model.loss_aggregator(net(ipts)["training_feat"])
            loss_sum.backward()
    else:
        model.eval()
        seqs, labs, typs, vies, _ = next(iter(model.test_loader))
        frames = np.asarray(seqs[0][0])  # one whole test sequence [T, 64, 64] uint8
        cache: Dict[int, tuple] = {}

        def inputs(s: int):
            if s not in cache:
                tiled = np.take(frames, np.arange(s) % len(frames), axis=0)
                cache[s] = ([[tiled]], labs, typs, vies, np.asarray([[s]]))
            return cache[s]

        def infer(s: int):
            ipts = model.inputs_pretreament(inputs(s))
            return model.forward(ipts)["inference_feat"]["embeddings"]

    memory = PeakMemory()
    reply(ready=True, params=params, pid=os.getpid(), frames=batch_frames if training else None)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        if cmd[0] == "reset_peak":
            memory.reset()
            reply(ok=True, method=memory.method)
        elif cmd[0] == "peak":
            reply(peak_mb=memory.peak_mb(), method=memory.method)
        elif cmd[0] == "train":
            start = time.perf_counter()
            step(cmd[1] if len(cmd) > 1 else None)
            reply(t=time.perf_counter() - start)
        elif cmd[0] == "infer":
            s = int(cmd[1])
            inputs(s)  # building the tiled test input is the data loader's work, not the model's
            with torch.no_grad():
                start = time.perf_counter()
                emb = infer(s)
                elapsed = time.perf_counter() - start
            reply(t=elapsed, shape=list(emb.shape))
        elif cmd[0] == "flops":
            if training:
                flops = _count_flops(lambda: fwd_bwd(cmd[1] if len(cmd) > 1 else None), grad=True)
                model.optimizer.zero_grad()
                reply(flops=flops)
            else:
                reply(flops=_count_flops(lambda: infer(int(cmd[1])), grad=False))
        elif cmd[0] == "used_params":
            # parameters the inference path touches: those that receive a gradient from it
            model.zero_grad(set_to_none=True)
            with torch.enable_grad():
                infer(int(cmd[1])).float().sum().backward()
            used = sum(p.numel() for p in model.parameters() if p.grad is not None)
            model.zero_grad(set_to_none=True)
            reply(inference_params=used)
        else:
            reply(error=f"unknown command {cmd}")
    return 0


# ----------------------------------------------------------------------------------------
# Parent: start workers, interleave, tabulate
# ----------------------------------------------------------------------------------------

class Worker:
    def __init__(self, model: str, mode: str, cfg: Path, root: Path, cwd: Path, threads: int, log: Path):
        env = common.worker_process_env(threads)  # the launcher's CPU environment (jemalloc when installed)
        self.model, self.mode, self.log = model, mode, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self.stderr = open(log, "w")
        cmd = [sys.executable, "-m", "benchmarks.speed", "--worker", "--mode", mode, "--cfg", str(cfg),
               "--opengait", str(root), "--threads", str(threads)]
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)
        self.info = None

    def ready(self) -> dict:
        if self.info is None:
            self.info = self._read()
        return self.info

    def call(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.stderr.flush()
            tail = "\n".join(self.log.read_text().splitlines()[-30:])
            raise RuntimeError(f"{self.model} {self.mode} worker died (exit {self.proc.returncode}); "
                               f"log {self.log}:\n{tail}")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=60)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.stderr.close()


def rounds_for(size: Size, s: int) -> int:
    """Timed sequences per model at length s: fewer for the longest (they take seconds each)."""
    return max(2, min(size.infer_rounds, round(size.infer_rounds * 240 / s)))


def _rotation(r: int, names: Sequence[str] = MODELS) -> List[str]:
    k = r % len(names)
    return list(names[k:]) + list(names[:k])


#: GaitBERT's pretraining step, timed beside its fine-tuning step (``GaitBERT``) when the recipe has one
PRETRAIN_ENTRY = "GaitBERT-pretrain"


def training_entries(cfg_file: Path) -> Tuple[Dict[str, Tuple[str, Optional[str]]], float]:
    """What the training rounds time, name -> (model worker, GaitBERT phase or None), and the share of
    pretraining steps in the GaitBERT recipe ``cfg_file``."""
    import yaml
    from opengait_gaitbert.core.model import NetworkConfig
    fraction = NetworkConfig.from_dict(yaml.safe_load(cfg_file.read_text())["model_cfg"]).pretrain_fraction
    entries: Dict[str, Tuple[str, Optional[str]]] = {}
    if fraction > 0:
        entries[PRETRAIN_ENTRY] = ("GaitBERT", "pretrain")
    entries["GaitBERT"] = ("GaitBERT", "finetune" if fraction > 0 else None)
    entries.update({m: (m, None) for m in MODELS if m != "GaitBERT"})
    return entries, fraction


def _setup(root: Path, size: Size, work: Path, gaitbert_cfg: Optional[Path] = None) -> Dict[str, Path]:
    speed_dir = work / "speed"
    data = common.synth_data(speed_dir / "data", size, seed=0, types=["nm-01", "nm-02", "nm-03", "nm-04"],
                             views=[size.views[0]])
    class_num = len(common.train_ids(data))
    from opengait_gaitbert.launcher.run import ensure_default_config
    ensure_default_config(speed_dir, root)  # OpenGait's config_loader reads ./configs/default.yaml
    cfgs = {}
    for model in MODELS:
        base = gaitbert_cfg if model == "GaitBERT" else None
        cfg, _ = common.build_config(model, root, size, data, class_num, batch=size.speed_batch, iters=1000,
                                     base=base)
        cfg["evaluator_cfg"]["restore_hint"] = 0  # random weights: speed does not depend on them
        cfgs[model] = common.write_yaml(cfg, speed_dir / "configs" / f"{model}.yaml")
    return cfgs


def _repo_relative(path: Path) -> str:
    """``path`` relative to the repository when inside it (results must not name this machine's folders)."""
    return str(path.relative_to(common.REPO)) if path.is_relative_to(common.REPO) else str(path)


def measure(root: Path, size: Size, work: Path, threads: int, gaitbert_cfg: Optional[Path] = None) -> dict:
    speed_dir = work / "speed"
    cfgs = _setup(root, size, work, gaitbert_cfg)
    out: dict = {"threads": threads, "train": {}, "infer": {},
                 # None: the shipped recipe
                 "gaitbert_config": _repo_relative(gaitbert_cfg) if gaitbert_cfg else None}

    say(f"[speed] training: {size.warmup} warm-up + {size.train_rounds} timed iterations per model, "
        f"{size.speed_batch[0]}x{size.speed_batch[1]}x{size.clip}, interleaved")
    workers = {m: Worker(m, "train", cfgs[m], root, speed_dir, threads, work / "logs" / f"speed-train-{m}.log")
               for m in MODELS}
    entries, out["pretrain_fraction"] = training_entries(cfgs["GaitBERT"])
    try:
        for name, (m, _) in entries.items():
            info = workers[m].ready()
            out["train"][name] = {"params": info["params"], "frames": info["frames"], "times": []}
        for m in MODELS:
            workers[m].call("reset_peak")
        for r in range(size.warmup + size.train_rounds):
            for name in _rotation(r, list(entries)):
                m, phase = entries[name]
                t = workers[m].call(f"train {phase}" if phase else "train")["t"]
                if r >= size.warmup:
                    out["train"][name]["times"].append(t)
            say(f"[speed]   round {r + 1}: " + ", ".join(
                f"{name} {out['train'][name]['times'][-1]:.2f}s" if r >= size.warmup else f"{name} warm-up"
                for name in entries))
        for name, (m, phase) in entries.items():  # a worker's peak: the largest step of either phase
            peak = workers[m].call("peak")
            out["train"][name].update(peak_mb=peak["peak_mb"], memory_method=peak["method"])
            out["train"][name]["flops"] = workers[m].call(f"flops {phase}" if phase else "flops")["flops"]
    finally:
        for w in workers.values():
            w.close()

    say(f"[speed] inference: s = {list(size.lengths)}, {size.infer_rounds} sequences per model and length, interleaved")
    workers = {m: Worker(m, "infer", cfgs[m], root, speed_dir, threads, work / "logs" / f"speed-infer-{m}.log")
               for m in MODELS}
    try:
        for m in MODELS:
            workers[m].ready()
            out["infer"][m] = {"times": {}, "peak_mb": {}}
            workers[m].call("reset_peak")
        for s in size.lengths:  # ascending, so the peak after each length is that length's peak
            for r in range(rounds_for(size, s) + 1):  # the first round warms up this length
                for m in _rotation(r):
                    t = workers[m].call(f"infer {s}")["t"]
                    if r > 0:
                        out["infer"][m]["times"].setdefault(str(s), []).append(t)
                if r == 0:
                    for m in MODELS:
                        out["infer"][m]["peak_mb"][str(s)] = workers[m].call("peak")["peak_mb"]
            say(f"[speed]   s={s}: " + ", ".join(
                f"{m} {common.median(out['infer'][m]['times'][str(s)]) * 1000:.1f} ms" for m in MODELS))
        for m in MODELS:
            inf = out["infer"][m]
            inf["flops"] = workers[m].call(f"flops {size.clip}")["flops"]
            inf["inference_params"] = workers[m].call(f"used_params {size.clip}")["inference_params"]
            inf["flops_by_s"] = {str(s): workers[m].call(f"flops {s}")["flops"] for s in size.lengths}
    finally:
        for w in workers.values():
            w.close()
    return out


def _ratios(a: List[float], b: List[float]) -> List[float]:
    return [x / y for x, y in zip(a, b) if y > 0]


def loglog_slope(lengths: List[int], times: List[float]) -> float:
    import math
    xs, ys = [math.log(s) for s in lengths], [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def analyse(data: dict, size: Size) -> dict:
    """Medians, per-round ratios against GaitBase, slopes; adds them to ``data``."""
    ref_train = data["train"][REFERENCE]["times"]
    for tr in data["train"].values():
        tr["median_s"] = common.median(tr["times"])
        tr["iqr_s"] = common.iqr(tr["times"])
        tr["time_ratio"] = common.median(_ratios(tr["times"], ref_train))
        tr["memory_ratio"] = tr["peak_mb"] / data["train"][REFERENCE]["peak_mb"]
    fraction = data.get("pretrain_fraction", 0.0)
    bert = data["train"]["GaitBERT"]
    # the recipe's mean step: a share ``fraction`` of pretraining steps, the rest fine-tuning steps
    recipe = [fraction * pre + (1 - fraction) * fine for pre, fine in
              zip(data["train"].get(PRETRAIN_ENTRY, bert)["times"], bert["times"])]
    bert["recipe_time_ratio"] = common.median(_ratios(recipe, ref_train))
    for m in MODELS:
        inf = data["infer"][m]
        inf["median_s"] = {s: common.median(v) for s, v in inf["times"].items()}
        inf["ratio"] = {s: common.median(_ratios(v, data["infer"][REFERENCE]["times"][s]))
                        for s, v in inf["times"].items()}
        lengths = [s for s in size.lengths if s >= max(size.lengths) / 3] or list(size.lengths)
        if len(lengths) < 2:
            lengths = list(size.lengths)
        inf["slope"] = loglog_slope(lengths, [inf["median_s"][str(s)] for s in lengths])
        inf["slope_lengths"] = lengths
        short, long_ = min(size.lengths), max(size.lengths)
        inf["flops_per_frame_growth"] = ((inf["flops_by_s"][str(long_)] / long_)
                                         / (inf["flops_by_s"][str(short)] / short))
    return data


def targets(data: dict, size: Size) -> List[Target]:
    bert = data["train"]["GaitBERT"]
    inf, ref = data["infer"]["GaitBERT"], data["infer"][REFERENCE]
    worst_s = max(inf["ratio"], key=lambda s: inf["ratio"][s])
    span = f"s = {inf['slope_lengths'][0]}..{inf['slope_lengths'][-1]}"
    short, long_ = min(size.lengths), max(size.lengths)
    fraction = data.get("pretrain_fraction", 0.0)
    return [
        Target("training iteration time / GaitBase", bert["recipe_time_ratio"], 1.5, unit="x",
               note=f"median of per-round ratios, {size.speed_batch[0]}x{size.speed_batch[1]}x{size.clip}"
               + (f"; the recipe's mean step: {fraction:g} pretraining, {1 - fraction:g} fine-tuning" if fraction
                  else "")),
        Target("training peak memory / GaitBase", bert["memory_ratio"], 1.5, unit="x",
               note="peak RSS above the pre-training RSS, fresh process per model"),
        Target("inference time per sequence / GaitBase (worst s)", inf["ratio"][worst_s], 1.25, unit="x",
               note=f"worst over s = {', '.join(str(s) for s in size.lengths)} (at s = {worst_s})"),
        Target(f"inference linear in s: FLOPs per frame at s={long_} / at s={short}", inf["flops_per_frame_growth"],
               LINEAR_FLOPS_LIMIT, unit="x", note="exact count; 1.00 = linear (GaitBase "
               f"{ref['flops_per_frame_growth']:.2f}x)"),
        Target("inference linear in s: time slope minus GaitBase's", inf["slope"] - ref["slope"],
               LINEAR_SLOPE_EXCESS, note=f"log-log slope of time vs s over {span}: GaitBERT {inf['slope']:.2f}, "
               f"GaitBase {ref['slope']:.2f} (a per-frame CNN: its excess over 1.00 is the machine)"),
    ]


def report(data: dict, size: Size, root: Path, results: Path, work: Path) -> str:
    analyse(data, size)
    p, k = size.speed_batch
    method = data["train"][REFERENCE]["memory_method"]
    gaitbert_cfg = (common.REPO / data["gaitbert_config"] if data.get("gaitbert_config")
                    else common.base_config_path("GaitBERT", root))
    lines = [f"# Speed and memory ({size.name} size)", "",
             f"GaitBERT vs OpenGait's GaitBase (`Baseline`, ResNet9) and GaitSet, built by OpenGait's own "
             f"constructors from their own configs (GaitBERT: `{gaitbert_cfg.name}`); {size.describe()}.", "",
             f"Widths: {common.width_summary(root, size, gaitbert_cfg)}.", "",
             f"Machine: {common.environment_line()}; torch threads per model: {data['threads']}; fp32. "
             "Ratios are model / GaitBase, medians of per-round ratios (models interleaved in one run).", "",
             f"## Training iteration ({p}x{k} sequences x {size.clip} frames)", "",
             "Time: `inputs_pretreament` (own transform) + forward + own losses + backward + optimizer step, "
             f"median of {size.train_rounds} interleaved iterations after {size.warmup} warm-up. Memory: "
             f"peak RSS above the RSS before training ({method}), fresh process per model. "
             "FLOPs: forward + backward of one iteration.", ""]
    rows = []
    for m, tr in data["train"].items():
        lo, hi = tr["iqr_s"]
        m = {PRETRAIN_ENTRY: "GaitBERT, pretraining step", "GaitBERT": "GaitBERT, fine-tuning step"}.get(m, m) \
            if PRETRAIN_ENTRY in data["train"] else m
        rows.append([m, fmt_si(tr["params"]), str(tr.get("frames", "")), fmt_si(tr["flops"], "FLOP"),
                     f"{tr['median_s']:.3f} ({lo:.3f}-{hi:.3f})",
                     f"{tr['time_ratio']:.2f}x", f"{tr['peak_mb']:.0f}", f"{tr['memory_ratio']:.2f}x"])
    lines += [md_table(["model", "params", "frames / batch", "FLOPs / iteration", "s / iteration (IQR)", "time / GaitBase",
                        "peak MB", "memory / GaitBase"], rows), ""]

    lines += ["## Inference: one sequence of s frames (OpenGait's test step, batch 1)", "",
              "Time per sequence in ms (ratio to GaitBase); GaitBERT runs its encoder and head only. "
              f"Median of {', '.join(str(rounds_for(size, s)) for s in size.lengths)} interleaved sequences "
              f"at s = {', '.join(str(s) for s in size.lengths)} after one warm-up each. "
              f"FLOPs and parameters for one {size.clip}-frame sequence.", ""]
    header = (["model", f"FLOPs / {size.clip}-frame seq", "params used"] + [f"s={s}" for s in size.lengths]
              + ["time slope", f"FLOPs/frame s={max(size.lengths)} vs {min(size.lengths)}"])
    rows = []
    for m in MODELS:
        inf = data["infer"][m]
        cells = [f"{inf['median_s'][str(s)] * 1000:.1f} ({inf['ratio'][str(s)]:.2f}x)" for s in size.lengths]
        rows.append([m, fmt_si(inf["flops"], "FLOP"), fmt_si(inf["inference_params"])] + cells
                    + [f"{inf['slope']:.2f}", f"{inf['flops_per_frame_growth']:.2f}x"])
    lines += [md_table(header, rows), "",
              "Sequences per second (1 / time per sequence) and peak memory above the idle model:", ""]
    rows = []
    for m in MODELS:
        inf = data["infer"][m]
        rows.append([m] + [f"{1.0 / inf['median_s'][str(s)]:.1f}" for s in size.lengths]
                    + [f"{inf['peak_mb'][str(max(size.lengths))]:.0f}"])
    lines += [md_table(["model"] + [f"seq/s s={s}" for s in size.lengths] + [f"peak MB s={max(size.lengths)}"], rows),
              "", f"time slope: log-log slope of time vs s over s = "
                  f"{', '.join(str(s) for s in data['infer']['GaitBERT']['slope_lengths'])} "
                  f"(1.00 linear, 2.00 quadratic). FLOPs/frame: FLOPs per frame at the longest s over those "
                  f"at the shortest (1.00 = linear; exact count).", ""]
    tgts = targets(data, size)
    common.add_targets(lines, data, tgts)
    markdown = "\n".join(lines)
    return common.publish(results, "speed", markdown, data, work, lambda png: plot(data, size, png))


def plot(data: dict, size: Size, path: Path) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    colors = [common.COLORS[m] for m in MODELS]
    ax = axes[0]
    ax.bar(MODELS, [data["train"][m]["median_s"] for m in MODELS], color=colors)
    ax.set_ylabel("s / training iteration")
    ax.set_ylim(0, 1.15 * max(data["train"][m]["median_s"] for m in MODELS))
    ax.set_title(f"training {size.speed_batch[0]}x{size.speed_batch[1]}x{size.clip}")
    for i, m in enumerate(MODELS):
        ax.text(i, data["train"][m]["median_s"], f"{data['train'][m]['time_ratio']:.2f}x", ha="center", va="bottom")
    ax = axes[1]
    ax.bar(MODELS, [data["train"][m]["peak_mb"] for m in MODELS], color=colors)
    ax.set_ylabel("peak MB (training)")
    ax.set_ylim(0, 1.15 * max(data["train"][m]["peak_mb"] for m in MODELS))
    ax.set_title("training peak memory")
    for i, m in enumerate(MODELS):
        ax.text(i, data["train"][m]["peak_mb"], f"{data['train'][m]['memory_ratio']:.2f}x", ha="center", va="bottom")
    ax = axes[2]
    for m in MODELS:
        ax.plot(size.lengths, [data["infer"][m]["median_s"][str(s)] * 1000 for s in size.lengths], "o-",
                color=common.COLORS[m], label=f"{m} (time slope {data['infer'][m]['slope']:.2f})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(size.lengths))
    ax.set_xticklabels([str(s) for s in size.lengths])
    ax.minorticks_off()
    ax.set_xlabel("sequence length s (frames)")
    ax.set_ylabel("ms / sequence")
    ax.set_title("inference (encoder only for GaitBERT)")
    ax.legend(fontsize=8)
    fig.suptitle(f"{size.name} size: widths / {size.width_divisor} of each model's own config", fontsize=10)
    fig.tight_layout()
    common.small_png(fig, path)
    plt.close(fig)


def run(root: Path, size: Size, work: Path, results: Path, threads: int = 1,
        gaitbert_cfg: Optional[Path] = None) -> dict:
    data = measure(root, size, work, threads, gaitbert_cfg)
    markdown = report(data, size, root, results, work)
    say(markdown)
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("train", "infer"), help=argparse.SUPPRESS)
    parser.add_argument("--cfg", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads per model (default 1: on a shared machine, 2 threads with one core "
                             "taken by another job ran up to 40x slower than 1)")
    parser.add_argument("--gaitbert-config", type=Path,
                        help="time this GaitBERT recipe instead of the shipped gaitbert_casiab.yaml "
                             "(e.g. configs/gaitbert/gaitbert_casiab_transformer.yaml)")
    common.add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    size = common.size_from_args(args)
    root = common.opengait_root(args.opengait)
    gaitbert_cfg = args.gaitbert_config.resolve() if args.gaitbert_config else None
    run(root, size, Path(args.workdir).resolve(), common.results_dir(args, size), args.threads, gaitbert_cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
