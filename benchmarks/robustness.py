"""Robustness: rank-1 when probe sequences are corrupted the ways users meet, as severity curves.

    python -m benchmarks.robustness --opengait PATH [--smoke | --full]

What is corrupted
-----------------
Probe sequences only (nm-05/06, bg-01/02, cl-01/02 of the test ids); the gallery
(nm-01..04) stays clean. Every kind has a severity axis (``KINDS``). The
corruptions are defined HERE, in plain numpy on OpenGait's uint8 ``[T, 64, 64]``
pkl frames (the models see columns 10..54 after ``BaseSilCuttingTransform``), and
deliberately not with the package's training masking code: the test must not be
defined by what GaitBERT trains on. Each sequence gets its own generator, seeded
by (seed, id/type/view, kind, severity), so the files are reproducible. Corrupted
copies are written once per (seed, kind, severity) into a separate folder with a
stamp; reruns reuse them (``corrupt``'s source is part of the stamp).

How it is evaluated
-------------------
In-process, once per (model, seed), in a fresh worker process that is what a
launcher test worker is: OpenGait importable, a gloo group of size 1,
OpenGait's CPU patch (``adapters/patches.py``) applied, the model built by OpenGait's own constructor
(``models.<Model>(cfgs, training=False)``, which restores the accuracy benchmark's
checkpoint of that seed through ``evaluator_cfg.restore_hint``). Embeddings come from
the model's own ``inference`` (its test loop: OpenGait's ``DataSet``,
``InferenceSampler``, ``CollateFn`` with ``all_ordered``, ``inputs_pretreament``,
``forward`` under ``no_grad`` in eval mode, ``inference_feat['embeddings']``). The
gallery (and the clean probes) are embedded ONCE; each corruption embeds only its
probe folder. The combined feature dict goes to the config's evaluator function
(``evaluate_indoor_dataset``, CASIA-B, metric euc) exactly as ``run_test`` calls it,
so the numbers are those OpenGait's test phase prints; the smoke test checks that the
clean rank-1 equals the launcher test phase's for the same checkpoint.

Sequences can be packed several per forward (OpenGait's all_ordered layout
``[1, sum(seqL), h, w]`` with ``seqL``, as a multi-sequence test batch is): 16 on
CUDA, one on CPU, where packing made every model slower per frame (``pack_size``).
Every worker checks that packed and one-at-a-time embeddings agree on clean
sequences and refuses to report otherwise.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import yaml

if __package__ in (None, ""):  # python benchmarks/robustness.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import accuracy, common  # noqa: E402
from benchmarks.common import MODELS, PROTOCOL_TYPES, REFERENCE, Size, Target, md_table, say  # noqa: E402
from opengait_gaitbert.data.safe_pickle import load_pickle  # noqa: E402

GALLERY_TYPES = ("nm-01", "nm-02", "nm-03", "nm-04")
CUT = 10  # BaseSilCuttingTransform keeps columns 10..54 of OpenGait's 64x64 frames
PATCH_SIZE, PATCHES_PER_FRAME = 16, 4
BODY_THRESHOLD, BODY_PERCENTILES = 128, (1, 99)  # the body's box: see body_box
#: packed and one-at-a-time embeddings must agree to this (relative to the embeddings' scale)
PACK_TOLERANCE = 1e-4
PACK_TOLERANCE_FP16 = 5e-3  # fp16 inference (CUDA): packing changes kernels, fp16 rounds at ~1e-3
PACK_CHECK_SEQUENCES = 6
#: expected relative evaluation cost per (model, seed), to start the longest workers first
COST = {"GaitBERT": 3, "GaitBase": 2.5, "GaitSet": 1}  # measured CPU s: 139, 113, 67


@dataclass(frozen=True)
class Kind:
    """One corruption kind and its severity axis."""

    name: str
    levels: tuple        # severities, mildest first (fractions; `short`: probe length in frames)
    target: float        # the severity the target is checked at
    axis: str            # x-axis of its curve
    definition: str      # exact definition, for tables and the README

    def label(self, level: float) -> str:
        return f"{int(level)} frames" if self.name == "short" else f"{round(level * 100)}%"

    def x(self, level: Optional[float], frames: int) -> float:
        """Position on the curve's x-axis; ``None`` is the clean point."""
        if self.name == "short":
            return float(frames if level is None else level)
        return 0.0 if level is None else level * 100


KINDS: Dict[str, Kind] = {k.name: k for k in (
    Kind("drop", (0.25, 0.5, 0.75), 0.5, "% of frames removed",
         "round(f*T) frames, chosen at random, removed (order kept; >= 1 frame survives)"),
    Kind("rate", (0.5, 0.75), 0.5, "% of frames removed (lower frame rate)",
         "every 2nd (50%) / 4th (75%) frame kept, from a random phase: frame rate / 2, / 4"),
    Kind("short", (20, 15, 10), 15, "probe length (frames)",
         "one contiguous window of 20 / 15 / 10 frames at a random offset (whole sequence if shorter)"),
    Kind("span", (0.25, 0.5, 0.75), 0.5, "% of frames blanked (one run)",
         "one contiguous run of round(f*T) frames, at a random start, set to 0 (>= 1 frame survives)"),
    Kind("occlude-top", (0.25, 0.5), 0.5, "% of the body's height hidden",
         "static: the top round(f*h) rows of the body's bounding box blanked in every frame"),
    Kind("occlude-bottom", (0.25, 0.5), 0.5, "% of the body's height hidden",
         "static: the bottom round(f*h) rows of the body's bounding box blanked in every frame"),
    Kind("occlude-side", (0.25, 0.5), 0.5, "% of the body's width hidden",
         "static: round(f*w) columns at the left or right (random) edge of the body's box blanked in every frame"),
    Kind("moving", (0.25, 0.5), 0.5, "bar width, % of the body's width",
         "a full-height bar round(f*w) columns wide slides across the body's box, edge to edge over the "
         "sequence (direction random), blanking what it covers"),
    Kind("patch", (0.25, 0.5, 0.75), 0.5, "% of frames with holes",
         f"in round(f*T) random frames, {PATCHES_PER_FRAME} random {PATCH_SIZE}x{PATCH_SIZE} squares blanked "
         "inside the 64x44 region the models see"),
)}


@dataclass(frozen=True)
class Condition:
    kind: str
    level: float

    @property
    def name(self) -> str:
        return f"short-{int(self.level)}f" if self.kind == "short" else f"{self.kind}-{round(self.level * 100):02d}"


def conditions(size: Size) -> List[Condition]:
    if size.robust_levels == "target":
        return [Condition(k.name, k.target) for k in KINDS.values()]
    return [Condition(k.name, level) for k in KINDS.values() for level in k.levels]


# ----------------------------------------------------------------------------------------
# The corruptions (plain numpy, independent of the package's training masks)
# ----------------------------------------------------------------------------------------

def body_box(seq: np.ndarray):
    """(top, bottom, left, right), end exclusive, of the body over the whole sequence; None if empty.

    The box spans the 1st to the 99th percentile of the foreground pixels' (value >= 128) rows and
    columns over all frames, so that stray noise pixels far from the body do not stretch it.
    """
    _, rows, cols = np.nonzero(seq >= BODY_THRESHOLD)
    if rows.size == 0:
        return None
    (top, bottom), (left, right) = np.percentile(rows, BODY_PERCENTILES), np.percentile(cols, BODY_PERCENTILES)
    return int(np.floor(top)), int(np.ceil(bottom)) + 1, int(np.floor(left)), int(np.ceil(right)) + 1


def corrupt(seq: np.ndarray, kind: str, level: float, rng: np.random.Generator) -> np.ndarray:
    """A corrupted copy of one uint8 sequence ``[T, H, W]`` (``KINDS[kind].definition``)."""
    frames, height, width = seq.shape
    if kind == "drop":
        gone = rng.choice(frames, min(frames - 1, round(level * frames)), replace=False)
        return seq[np.setdiff1d(np.arange(frames), gone)].copy()
    if kind == "rate":
        step = round(1 / (1 - level))
        return seq[int(rng.integers(min(step, frames)))::step].copy()
    if kind == "short":
        n = min(frames, int(level))
        start = int(rng.integers(frames - n + 1))
        return seq[start:start + n].copy()
    out = seq.copy()
    if kind == "span":
        n = min(frames - 1, round(level * frames))
        start = int(rng.integers(frames - n + 1))
        out[start:start + n] = 0
    elif kind == "patch":
        lo, hi = (CUT, width - CUT) if width >= 2 * CUT + PATCH_SIZE else (0, width)
        for t in rng.choice(frames, round(level * frames), replace=False):
            for _ in range(PATCHES_PER_FRAME):
                r, c = int(rng.integers(height - PATCH_SIZE + 1)), int(rng.integers(lo, hi - PATCH_SIZE + 1))
                out[t, r:r + PATCH_SIZE, c:c + PATCH_SIZE] = 0
    else:
        box = body_box(seq)
        if box is None:
            return out
        top, bottom, left, right = box
        rows, cols = round(level * (bottom - top)), round(level * (right - left))
        if kind == "occlude-top":
            out[:, top:top + rows] = 0
        elif kind == "occlude-bottom":
            out[:, bottom - rows:bottom] = 0
        elif kind == "occlude-side":
            if rng.random() < 0.5:
                out[:, :, left:left + cols] = 0
            else:
                out[:, :, right - cols:right] = 0
        elif kind == "moving":
            cols = max(1, cols)
            starts = left + np.rint(np.linspace(0, right - left - cols, frames)).astype(int)
            if rng.random() < 0.5:
                starts = starts[::-1]
            column = np.arange(width)
            bar = (column >= starts[:, None]) & (column < starts[:, None] + cols)  # [T, W]
            out[np.broadcast_to(bar[:, None, :], out.shape)] = 0
        else:
            raise KeyError(f"unknown corruption kind {kind!r}; known: {', '.join(KINDS)}")
    return out


def sequence_rng(seed: int, pid: str, typ: str, view: str, condition: Condition) -> np.random.Generator:
    """The generator of one probe sequence under one condition: seeded by (seed, sequence, kind, severity)."""
    return np.random.default_rng([seed, zlib.crc32(f"{pid}/{typ}/{view}".encode()),
                                  zlib.crc32(condition.kind.encode()), round(condition.level * 1000)])


def _stamp(src: Path, condition: Condition, seed: int) -> dict:
    marker = src / ".bench-stamp.json"
    return {"src": str(src), "kind": condition.kind, "level": condition.level, "seed": seed,
            "definition": zlib.crc32((inspect.getsource(corrupt) + inspect.getsource(sequence_rng)
                                      + inspect.getsource(body_box)).encode()),
            "constants": [PATCH_SIZE, PATCHES_PER_FRAME, CUT, BODY_THRESHOLD, list(BODY_PERCENTILES)],
            "src_stamp": json.loads(marker.read_text()) if marker.is_file() else None}


def corrupted_datasets(src: Path, dst_root: Path, conds: Sequence[Condition], seed: int) -> Dict[str, str]:
    """For each condition, a dataset folder holding corrupted copies of the test ids' probes.

    Folders whose stamp matches are reused; the others are (re)written, reading each probe once.
    Returns condition name -> folder.
    """
    out, todo = {}, []
    for cond in conds:
        dst = dst_root / cond.name
        out[cond.name] = str(dst)
        stamp = _stamp(src, cond, seed)
        marker = dst / ".bench-stamp.json"
        if marker.is_file() and json.loads(marker.read_text()) == stamp:
            continue
        if dst.exists():
            shutil.rmtree(dst)
        dst.mkdir(parents=True)
        todo.append((cond, dst, stamp))
    if not todo:
        return out
    test_ids = json.loads((src / "partition.json").read_text())["TEST_SET"]
    for pid in test_ids:
        for typ_dir in sorted((src / pid).iterdir()):
            if typ_dir.name in GALLERY_TYPES:
                continue  # the gallery stays clean (and is embedded once, from the clean data)
            for pkl in sorted(typ_dir.glob("*/*.pkl")):
                seq = np.asarray(load_pickle(pkl))  # the safe loader, even for our own synthetic data
                view = pkl.parent.name
                for cond, dst, _ in todo:
                    target = dst / pid / typ_dir.name / view / pkl.name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    corrupted = corrupt(seq, cond.kind, cond.level, sequence_rng(seed, pid, typ_dir.name, view, cond))
                    with open(target, "wb") as fh:
                        pickle.dump(corrupted, fh, protocol=pickle.HIGHEST_PROTOCOL)
    for cond, dst, stamp in todo:
        (dst / "partition.json").write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": test_ids}))
        (dst / ".bench-stamp.json").write_text(json.dumps(stamp))
    return out


# ----------------------------------------------------------------------------------------
# Worker process: one (model, seed), evaluated in-process with OpenGait's own test path
# ----------------------------------------------------------------------------------------

def _test_loader(model, dataset_root: str, pack: int):
    """OpenGait's own test loader (DataSet, InferenceSampler, CollateFn all_ordered) on ``dataset_root``,
    ``pack`` sequences per batch."""
    model.cfgs["evaluator_cfg"]["sampler"]["batch_size"] = pack
    data_cfg = dict(model.cfgs["data_cfg"], dataset_root=dataset_root,
                    dataset_partition=str(Path(dataset_root) / "partition.json"))
    return model.get_loader(data_cfg, train=False)


def _features(model, loader) -> dict:
    """``BaseModel.inference`` over ``loader``, with the labels, types and views ``run_test`` adds."""
    import torch
    model.test_loader = loader
    with torch.no_grad():
        info = model.inference(0)
    dataset = loader.dataset
    info.update({"labels": list(dataset.label_list), "types": list(dataset.types_list),
                 "views": list(dataset.views_list)})
    return info


def _evaluate(model, info: dict) -> Dict[str, float]:
    """What ``BaseModel.run_test`` does with the features: the config's eval_func, its valid args."""
    from evaluation import evaluator as eval_functions  # OpenGait
    from utils import get_valid_args  # OpenGait
    evaluator_cfg = model.cfgs["evaluator_cfg"]
    eval_func = getattr(eval_functions, evaluator_cfg.get("eval_func", "identification"))
    valid_args = get_valid_args(eval_func, evaluator_cfg, ["metric"])
    data_cfg = model.cfgs["data_cfg"]
    result = eval_func(info, data_cfg.get("test_dataset_name", data_cfg["dataset_name"]), **valid_args)
    return {c: float(result[f"scalar/test_accuracy/{c}@R1"]) for c in PROTOCOL_TYPES}


def _with_gallery(clean: dict, probes: dict) -> dict:
    """The clean gallery's features plus corrupted probes' features, as one ``run_test`` feature dict."""
    gallery = np.isin(np.asarray(clean["types"]), GALLERY_TYPES)
    keys = ("labels", "types", "views")
    clean_probes = sorted(zip(*(np.asarray(clean[k])[~gallery].tolist() for k in keys)))
    if sorted(zip(*(probes[k] for k in keys))) != clean_probes:
        raise RuntimeError("the corrupted folder does not hold exactly the clean probe sequences")
    out = {"embeddings": np.concatenate([clean["embeddings"][gallery], probes["embeddings"]])}
    for k in keys:
        out[k] = np.asarray(clean[k])[gallery].tolist() + list(probes[k])
    return out


def _pack_check(model, clean_root: str, packed: np.ndarray, n: int) -> dict:
    """Embed the first ``n`` test sequences one at a time (OpenGait's batch of one) and compare."""
    import torch
    single = []
    fp16 = bool(model.engine_cfg.get("enable_float16"))  # as BaseModel.inference runs (CUDA only)
    with torch.no_grad(), torch.autocast("cuda", enabled=fp16 and torch.cuda.is_available()):
        for i, inputs in enumerate(_test_loader(model, clean_root, 1)):
            if i >= n:
                break
            single.append(model.forward(model.inputs_pretreament(inputs))["inference_feat"]["embeddings"])
    single = torch.cat(single).cpu().numpy()
    diff = float(np.abs(single - packed[:len(single)]).max())
    scale = float(np.abs(single).max()) or 1.0
    return {"sequences": len(single), "max_abs_diff": diff, "max_rel_diff": diff / scale,
            "tolerance": PACK_TOLERANCE_FP16 if fp16 else PACK_TOLERANCE}


def _spent(wall: float, cpu: float, eval_cpu: float) -> dict:
    """Seconds since ``wall``/``cpu`` (wall, CPU) and CPU seconds since ``eval_cpu`` (the evaluator's share)."""
    now = time.process_time()
    return {"wall_s": round(time.time() - wall, 2), "cpu_s": round(now - cpu, 2),
            "eval_cpu_s": round(now - eval_cpu, 2)}


def worker_main(args) -> int:
    spec = json.loads(Path(args.spec).read_text())
    common.join_opengait(Path(spec["opengait"]), args.threads, spec["device"])
    from modeling import models  # OpenGait
    from utils import config_loader, get_msg_mgr  # OpenGait
    get_msg_mgr().init_logger(str(Path.cwd() / "output" / "robustness-logs"), False)
    timings, started, cpu_started = {}, time.time(), time.process_time()
    cfgs = config_loader(spec["cfg"])  # the model's YAML over ./configs/default.yaml, as main.py does
    model = getattr(models, cfgs["model_cfg"]["model"])(cfgs, False)  # restores evaluator_cfg.restore_hint
    model.eval()
    timings["build_s"] = time.time() - started
    pack = spec["pack"]

    t, cpu = time.time(), time.process_time()
    clean = _features(model, _test_loader(model, spec["clean"], pack))
    check = _pack_check(model, spec["clean"], clean["embeddings"], spec["check"])
    if not check["max_rel_diff"] <= check["tolerance"]:
        raise RuntimeError(f"packed ({pack} per forward) and one-at-a-time embeddings differ: {check}")
    eval_cpu = time.process_time()
    result = {"clean": _evaluate(model, clean), "conditions": {}, "pack_check": check, "pack": pack}
    timings["clean"] = _spent(t, cpu, eval_cpu)
    print(f"[robustness] clean: {result['clean']} ({timings['clean']}); pack check {check}", flush=True)
    for name, folder in spec["conditions"].items():
        t, cpu = time.time(), time.process_time()
        probes = _features(model, _test_loader(model, folder, pack))
        eval_cpu = time.process_time()
        result["conditions"][name] = _evaluate(model, _with_gallery(clean, probes))
        timings[name] = _spent(t, cpu, eval_cpu)
        print(f"[robustness] {name}: {result['conditions'][name]} ({timings[name]})", flush=True)
    timings["total"] = {"wall_s": round(time.time() - started, 2),
                        "cpu_s": round(time.process_time() - cpu_started, 2)}
    result["timings"] = timings
    Path(spec["out"]).write_text(json.dumps(result, indent=1))
    return 0


# ----------------------------------------------------------------------------------------
# Parent: corrupted data, one worker per (model, seed), tables and plots
# ----------------------------------------------------------------------------------------

def pack_size(size: Size, device: str) -> int:
    """Sequences per test forward. On CPU one: packing 4-16 sequences made every model slower per frame
    (GaitBase 1.5-2x: the activations of a packed batch no longer fit the caches); on CUDA 16."""
    return size.robust_pack or (16 if device == "cuda" else 1)


def evaluate_run(run: dict, folders: Dict[str, str], root: Path, work: Path, size: Size,
                 device: str = "cpu", threads: int = 1) -> dict:
    """In-process evaluation of one trained run (``accuracy.train_and_test``'s result: model, seed,
    workdir, cfg_file) on clean data and every corrupted folder; returns rank-1 per condition."""
    name = run.get("variant", run["model"])
    workdir = Path(run["workdir"])
    cfg = yaml.safe_load(Path(run["cfg_file"]).read_text())
    out_dir = workdir / run.get("robust_dir", "robustness")  # a test-time variant of the run: its own folder
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = {"opengait": str(root), "device": device, "cfg": str(run["cfg_file"]), "pack": pack_size(size, device),
            "check": PACK_CHECK_SEQUENCES, "clean": cfg["data_cfg"]["dataset_root"], "conditions": folders,
            "out": str(out_dir / "result.json"), "checkpoint_mtime": Path(run["checkpoint"]).stat().st_mtime}
    spec_file = out_dir / "spec.json"
    if spec_file.is_file() and json.loads(spec_file.read_text()) == spec and Path(spec["out"]).is_file():
        result = json.loads(Path(spec["out"]).read_text())  # same checkpoint, data and code path: done
        result.update(model=run["model"], name=name, seed=run["seed"], wall_s=0.0)
        say(f"[robustness] seed {run['seed']} {name}: reusing {spec['out']}")
        return result
    Path(spec["out"]).unlink(missing_ok=True)
    spec_file.write_text(json.dumps(spec, indent=1))
    log = work / "logs" / f"robust-seed{run['seed']}-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    from opengait_gaitbert.launcher.run import ensure_default_config
    ensure_default_config(workdir, root)  # OpenGait's config_loader reads ./configs/default.yaml
    say(f"[robustness] seed {run['seed']} {name}: {len(folders)} corruptions, in-process (log {log})")
    started = time.time()
    with open(log, "w") as fh:
        code = subprocess.call([sys.executable, "-m", "benchmarks.robustness", "--worker", "--spec", str(spec_file),
                                "--threads", str(threads)], cwd=workdir, env=common.worker_process_env(threads),
                               stdout=fh, stderr=subprocess.STDOUT)
    if code:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise common.LaunchFailed(f"robustness worker {name} seed {run['seed']} exited with {code}; log {log}\n{tail}")
    result = json.loads(Path(spec["out"]).read_text())
    result.update(model=run["model"], name=name, seed=run["seed"], wall_s=time.time() - started)
    say(f"[robustness] seed {run['seed']} {name}: clean " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                                      result["clean"].items())
        + f"; {result['wall_s']:.0f}s wall")
    return result


def _prepare_seed(src: Path, dst_root: Path, conds: Sequence[Condition], seed: int, log: Path) -> None:
    """``corrupted_datasets`` in a child process (so that seeds run in parallel, whatever the caller's main)."""
    spec = {"src": str(src), "dst": str(dst_root), "seed": seed, "conditions": [c.__dict__ for c in conds]}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as fh:
        code = subprocess.call([sys.executable, "-m", "benchmarks.robustness", "--prepare", json.dumps(spec)],
                               cwd=common.REPO, env=common.worker_process_env(1), stdout=fh, stderr=subprocess.STDOUT)
    if code:
        raise common.LaunchFailed(f"writing the corrupted probes of seed {seed} failed ({code}); log {log}\n"
                                  + "\n".join(log.read_text().splitlines()[-20:]))


def prepare_data(size: Size, work: Path, data_dirs: Dict[str, str]) -> Dict[str, Dict[str, str]]:
    """Corrupted probe folders of every robustness seed (seeds in parallel, ``size.jobs`` at a time);
    returns seed -> condition name -> folder."""
    conds = conditions(size)
    started = time.time()
    roots = {seed: work / "robust-data" / f"seed{seed}" for seed in size.robust_seeds}
    common.run_parallel([partial(_prepare_seed, Path(data_dirs[str(seed)]), roots[seed], conds, seed,
                                 work / "logs" / f"robust-data-seed{seed}.log") for seed in size.robust_seeds],
                        size.jobs)
    say(f"[robustness] corrupted probe folders: {len(conds)} per seed, ready in {time.time() - started:.0f}s")
    return {str(seed): {c.name: str(roots[seed] / c.name) for c in conds} for seed in size.robust_seeds}


def evaluate_runs(root: Path, size: Size, work: Path, runs: Sequence[dict], device: str = "cpu") -> List[dict]:
    """Evaluate trained runs (``accuracy.train_and_test`` results) on every corruption of their seed's data,
    ``size.jobs`` workers at a time with cores / jobs threads each."""
    data_dirs = {str(r["seed"]): yaml.safe_load(Path(r["cfg_file"]).read_text())["data_cfg"]["dataset_root"]
                 for r in runs}
    seeds_size = Size(**{**common.asdict(size), "robust_seeds": tuple(sorted({r["seed"] for r in runs}))})
    folders = prepare_data(seeds_size, work, data_dirs)
    threads = max(1, (os.cpu_count() or 1) // max(1, min(size.jobs, len(runs))))
    ordered = sorted(runs, key=lambda r: -COST.get(r["model"], 2))
    tasks = [partial(evaluate_run, r, folders[str(r["seed"])], root, work, size, device, threads) for r in ordered]
    say(f"[robustness] {len(tasks)} in-process evaluations ((model, seed) pairs), {size.jobs} at a time")
    return common.run_parallel(tasks, size.jobs)


def measure(root: Path, size: Size, work: Path, acc: dict, device: str = "cpu") -> dict:
    runs = [acc["runs"][m][str(s)] for s in size.robust_seeds for m in MODELS]
    started = time.time()
    results = evaluate_runs(root, size, work, runs, device)
    per = {m: {} for m in MODELS}
    for res in results:
        per[res["model"]][str(res["seed"])] = res
    return {"runs": per, "conditions": [c.__dict__ | {"name": c.name} for c in conditions(size)],
            "seeds": list(size.robust_seeds), "frames": size.frames, "chance": acc.get("chance"),
            "wall_s": time.time() - started,
            "launcher_clean": {m: {str(s): acc["runs"][m][str(s)]["rank1"] for s in size.robust_seeds}
                               for m in MODELS}}


# ----------------------------------------------------------------------------------------
# Statistics, tables, targets, plot
# ----------------------------------------------------------------------------------------

def mean3(rank1: dict) -> float:
    return sum(rank1[c] for c in PROTOCOL_TYPES) / len(PROTOCOL_TYPES)


def curve(data: dict, model: str, kind: Kind) -> List[dict]:
    """The clean point and every measured severity of ``kind``: rank-1 (mean of NM/BG/CL) and the points
    lost against clean, each as mean ± std over seeds."""
    runs = data["runs"][model]
    names = {c["level"]: c["name"] for c in data["conditions"] if c["kind"] == kind.name}
    clean_label = f"clean ({data['frames']} frames)" if kind.name == "short" else "clean"
    points = [{"level": None, "label": clean_label, "x": kind.x(None, data["frames"]),
               "values": [mean3(r["clean"]) for r in runs.values()]}]
    for level in kind.levels:
        if level in names:
            points.append({"level": level, "label": kind.label(level), "x": kind.x(level, data["frames"]),
                           "values": [mean3(r["conditions"][names[level]]) for r in runs.values()]})
    clean = points[0]["values"]
    for p in points:
        p["rank1"] = common.mean_std(p["values"])
        p["lost"] = common.mean_std([c - v for c, v in zip(clean, p["values"])])
    return points


def summarise(data: dict) -> dict:
    return {m: {k.name: curve(data, m, k) for k in KINDS.values()} for m in MODELS}


def target_point(points: List[dict], kind: Kind) -> Optional[dict]:
    return next((p for p in points if p["level"] == kind.target), None)


def targets(data: dict) -> List[Target]:
    summary = data.get("summary") or summarise(data)
    out = []
    for kind in KINDS.values():
        lost = {m: target_point(summary[m][kind.name], kind) for m in MODELS}
        if any(p is None for p in lost.values()):
            continue
        (bert, bert_sd), (base, base_sd) = lost["GaitBERT"]["lost"], lost[REFERENCE]["lost"]
        out.append(Target(f"{kind.name} {kind.label(kind.target)}: rank-1 points lost <= GaitBase's", bert, base,
                          unit=" pts", note=f"mean of NM/BG/CL; mean ± std over seeds "
                          f"{', '.join(str(x) for x in data['seeds'])}: "
                          f"GaitBERT {bert:.2f} ± {bert_sd:.2f}, GaitBase {base:.2f} ± {base_sd:.2f}, GaitSet "
                          f"{lost['GaitSet']['lost'][0]:.2f} ± {lost['GaitSet']['lost'][1]:.2f}"))
    return out


def plus_minus(value: tuple, digits: int = 1) -> str:
    """``(mean, std)`` -> ``"mean ± std"``."""
    return f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def report(data: dict, size: Size, root: Path, results: Path, work: Path) -> str:
    summary = data["summary"] = summarise(data)
    seeds = ", ".join(str(s) for s in data["seeds"])
    lines = [f"# Robustness to corrupted probes ({size.name} size)", "",
             "Rank-1 (%, mean of NM/BG/CL, identical views excluded) when every probe sequence (nm-05/06, bg-*, "
             "cl-*) is corrupted; the gallery (nm-01..04) stays clean. Each point is the mean ± std over seeds "
             f"{seeds} (one checkpoint per seed, from the accuracy benchmark); the change from clean, "
             "(mean over seeds of the per-seed change), in brackets. Evaluated in-process with OpenGait's own "
             "test loop and `evaluate_indoor_dataset` (see the README); the gallery is embedded once. "
             f"{size.describe()}.", "", f"Widths: {common.width_summary(root, size)}.", "",
             f"Machine: {common.environment_line()}. Wall time of this stage: {data['wall_s'] / 60:.1f} min.", "",
             "## Overview: points lost at the target severity", ""]
    tgts = targets(data)
    verdicts = {t.name.split(" ")[0]: ("PASS" if t.passed else "MISS") for t in tgts}
    rows = []
    for kind in KINDS.values():
        cells = [target_point(summary[m][kind.name], kind) for m in MODELS]
        if any(c is None for c in cells):
            continue
        rows.append([kind.name, kind.label(kind.target)] + [plus_minus(c["lost"]) for c in cells]
                    + [verdicts.get(kind.name, "")])
    lines += [md_table(["kind", "severity"] + [f"{m} lost" for m in MODELS] + ["GaitBERT <= GaitBase"], rows), ""]
    for kind in KINDS.values():
        target = Condition(kind.name, kind.target).name
        rows = []
        for m in MODELS:
            cells = [plus_minus(p["rank1"]) + ("" if p["level"] is None else f" ({-p['lost'][0] + 0.0:+.1f})")
                     for p in summary[m][kind.name]]
            runs = data["runs"][m].values()
            by_cond = [common.mean_std([r["conditions"][target][c] for r in runs])[0]
                       for c in PROTOCOL_TYPES] if all(target in r["conditions"] for r in runs) else []
            rows.append([m] + cells + [" / ".join(f"{v:.1f}" for v in by_cond)])
        header = (["model"] + [p["label"] for p in summary[MODELS[0]][kind.name]]
                  + [f"NM / BG / CL at {kind.label(kind.target)}"])
        lines += [f"## {kind.name}", "", f"{kind.definition}.", "", md_table(header, rows), ""]
    common.add_targets(lines, data, tgts)
    rows = []
    for m in MODELS:
        for seed, run in data["runs"][m].items():
            launcher = data["launcher_clean"][m][seed]
            rows.append([m, seed, " / ".join(f"{run['clean'][c]:.2f}" for c in PROTOCOL_TYPES),
                         " / ".join(f"{launcher[c]:.2f}" for c in PROTOCOL_TYPES),
                         f"{run['pack_check']['max_rel_diff']:.1e}", f"{run['timings']['total']['wall_s']:.0f}"])
    lines += ["## Checks and cost", "", "Clean rank-1 (NM / BG / CL) in-process and from the launcher's test phase "
              "(OpenGait's main flow) for the same checkpoint; largest difference between packed and "
              "one-at-a-time embeddings (relative); worker seconds.", "",
              md_table(["model", "seed", "in-process", "launcher test", "pack diff", "s"], rows), ""]
    markdown = "\n".join(lines)
    return common.publish(results, "robustness", markdown, data, work, lambda png: plot(data, size, png))


def plot(data: dict, size: Size, path: Path) -> None:
    plt = common.pyplot()
    summary = data["summary"]
    kinds = list(KINDS.values())
    cols = 5
    rows = -(-len(kinds) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.4 * rows), sharey=True, squeeze=False)
    for ax, kind in zip(axes.flat, kinds):
        xs = [p["x"] for p in summary[MODELS[0]][kind.name]]
        dodge = 0.015 * (max(xs) - min(xs) or 1)  # keep the three models' error bars apart
        for i, m in enumerate(MODELS):
            points = summary[m][kind.name]
            ax.errorbar([p["x"] + (i - 1) * dodge for p in points], [p["rank1"][0] for p in points],
                        yerr=[p["rank1"][1] for p in points], fmt="o-", markersize=3, capsize=2, linewidth=1.2,
                        color=common.COLORS[m], label=m)
        if data.get("chance"):
            ax.axhline(data["chance"], color="grey", linestyle=":", linewidth=1)
        if kind.name == "short":
            ax.invert_xaxis()
        ax.set_title(kind.name, fontsize=9)
        ax.set_xlabel(kind.axis, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(kinds):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("rank-1 % (NM/BG/CL)", fontsize=7)
    axes[0, 0].set_ylim(0, 100)
    axes[0, 0].legend(fontsize=6, loc="lower left")
    fig.suptitle(f"{size.name} size (widths / {size.width_divisor}): probes corrupted, gallery clean; "
                 f"mean ± std over seeds {', '.join(str(s) for s in data['seeds'])}; dotted: chance", fontsize=9)
    fig.tight_layout()
    common.small_png(fig, path)
    plt.close(fig)


def run(root: Path, size: Size, work: Path, results: Path, device: str = "cpu", acc: dict = None,
        reuse: bool = True) -> dict:
    if acc is None:  # train (or reuse) the checkpoints of the robustness seeds
        seeds_size = Size(**{**common.asdict(size), "seeds": size.robust_seeds})
        acc = accuracy.measure(root, seeds_size, work, device, reuse=reuse)
    data = measure(root, size, work, acc, device)
    say(report(data, size, root, results, work))
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    common.add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args)
    if args.prepare:
        spec = json.loads(args.prepare)
        corrupted_datasets(Path(spec["src"]), Path(spec["dst"]), [Condition(**c) for c in spec["conditions"]],
                           spec["seed"])
        return 0
    size = common.size_from_args(args)
    root = common.opengait_root(args.opengait)
    run(root, size, Path(args.workdir).resolve(), common.results_dir(args, size), args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
