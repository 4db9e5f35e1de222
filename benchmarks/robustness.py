"""Robustness to hidden frames: rank-1 when probe sequences lose a fraction of their frames.

    python -m benchmarks.robustness --opengait PATH [--smoke | --full]

The masking is an option of this benchmark, not of the evaluator users run: for
each corruption (kind, fraction) it writes corrupted *copies* of the probe pkl
files into a separate dataset folder. Gallery sequences (nm-01..04) are linked
unchanged; probes (nm-05/06, bg-01/02, cl-01/02) are corrupted. Then OpenGait's
own test phase runs, through the launcher, with the checkpoints that
``benchmarks.accuracy`` trained (it trains them first when they are missing), on
that folder. The 0% point is the accuracy benchmark's clean test of the same
checkpoint.

Kinds (a fraction f of the frames, chosen per sequence by a seeded generator,
with the package's own masking units, so GaitBERT's training masks and these
test corruptions are defined by the same code):

* ``drop``:  round(f * T) frames removed, the sequence gets shorter (frame mode);
* ``span``:  one contiguous run of round(f * T) frames blanked (span mode);
* ``patch``: in round(f * T) frames, 4 random 16x16 squares blanked inside the
  64x44 region the models see (patch mode).

At least one frame always survives.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sys
import zlib
from functools import partial
from pathlib import Path
from typing import Dict, List

import numpy as np
import yaml

if __package__ in (None, ""):  # python benchmarks/robustness.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import accuracy, common  # noqa: E402
from benchmarks.common import MODELS, PROTOCOL_TYPES, REFERENCE, Size, Target, md_table, say  # noqa: E402

KINDS = ("drop", "span", "patch")
GALLERY_TYPES = ("nm-01", "nm-02", "nm-03", "nm-04")
PATCH_SIZE, PATCHES_PER_FRAME = 16, 4
CUT = 10  # BaseSilCuttingTransform keeps columns 10..54 of OpenGait's 64x64 frames
TARGET_FRACTION = 0.5


def corrupt(seq: np.ndarray, kind: str, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A corrupted copy of one uint8 sequence ``[T, 64, 64]``."""
    from opengait_gaitbert.core.masking import UNIT_GENERATORS, MaskingPolicy
    mode = {"drop": "frame", "span": "span", "patch": "patch"}[kind]
    policy = MaskingPolicy(mode=mode, ratio=fraction, patch_size=PATCH_SIZE,
                           patches_per_frame=PATCHES_PER_FRAME, span_count=1)
    frames, height, width = seq.shape
    inner = width - 2 * CUT if width > 2 * CUT + PATCH_SIZE else width
    offset = (width - inner) // 2
    units = UNIT_GENERATORS[mode](frames, height, inner, policy, rng)
    if kind == "drop":
        gone = {t for t, _, _ in units}
        return seq[[t for t in range(frames) if t not in gone]].copy()
    out = seq.copy()
    for t, rows, cols in units:
        if cols.start is not None:
            cols = slice(cols.start + offset, cols.stop + offset)
        out[t, rows, cols] = 0
    return out


def corrupted_dataset(src: Path, dst: Path, kind: str, fraction: float, seed: int) -> Path:
    """Test ids of ``src`` with probes corrupted and gallery linked; returns ``dst``."""
    stamp = {"src": str(src), "kind": kind, "fraction": fraction, "seed": seed,
             "patch": [PATCH_SIZE, PATCHES_PER_FRAME],
             "src_stamp": json.loads((src / ".bench-stamp.json").read_text())
             if (src / ".bench-stamp.json").is_file() else None}
    marker = dst / ".bench-stamp.json"
    if marker.is_file() and json.loads(marker.read_text()) == stamp:
        return dst
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    partition = json.loads((src / "partition.json").read_text())
    for pid in partition["TEST_SET"]:
        for typ_dir in sorted((src / pid).iterdir()):
            target = dst / pid / typ_dir.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if typ_dir.name in GALLERY_TYPES:
                os.symlink(typ_dir.resolve(), target)  # gallery untouched
                continue
            for pkl in sorted(typ_dir.glob("*/*.pkl")):
                with open(pkl, "rb") as fh:
                    seq = pickle.load(fh)  # our own synthetic data
                key = zlib.crc32(f"{pid}/{typ_dir.name}/{pkl.parent.name}".encode())
                rng = np.random.default_rng([seed, key, KINDS.index(kind), int(round(fraction * 1000))])
                out = target / pkl.parent.name / pkl.name
                out.parent.mkdir(parents=True, exist_ok=True)
                with open(out, "wb") as fh:
                    pickle.dump(corrupt(np.asarray(seq), kind, fraction, rng), fh)
    (dst / "partition.json").write_text(json.dumps({"TRAIN_SET": [], "TEST_SET": partition["TEST_SET"]}))
    marker.write_text(json.dumps(stamp))
    return dst


def condition_name(kind: str, fraction: float) -> str:
    return f"{kind}-{int(round(fraction * 100)):02d}"


def test_condition(model: str, seed: int, kind: str, fraction: float, data_dir: Path, root: Path,
                   work: Path, device: str) -> dict:
    workdir = accuracy.run_dir(work, seed, model)
    cfg = yaml.safe_load((workdir / f"{model}.yaml").read_text())
    cfg["data_cfg"].update(dataset_root=str(data_dir), dataset_partition=str(data_dir / "partition.json"))
    name = condition_name(kind, fraction)
    cfg_file = common.write_yaml(cfg, workdir / "robustness" / f"{model}-{name}.yaml")
    lines = common.launch_logged("test", cfg_file, root, workdir,
                                 work / "logs" / f"robust-seed{seed}-{model}-{name}.log", device)
    from opengait_gaitbert.launcher.demo import parse_rank1
    rank1 = parse_rank1(lines)
    if set(rank1) != set(PROTOCOL_TYPES):
        raise common.LaunchFailed(f"{model} seed {seed} {name}: no NM/BG/CL rank-1 in the test log")
    say(f"[robustness] seed {seed} {name} {model}: " + ", ".join(f"{k} {v:.2f}" for k, v in rank1.items()))
    return {"model": model, "seed": seed, "kind": kind, "fraction": fraction, "rank1": rank1}


def measure(root: Path, size: Size, work: Path, acc: dict, device: str = "cpu") -> dict:
    conditions = [(kind, f) for kind in KINDS for f in size.fractions]
    tasks = []
    for seed in size.robust_seeds:
        src = Path(acc["data"][str(seed)])
        for kind, fraction in conditions:
            dst = corrupted_dataset(src, work / "robust-data" / f"seed{seed}" / condition_name(kind, fraction),
                                    kind, fraction, seed)
            for model in MODELS:
                tasks.append(partial(test_condition, model, seed, kind, fraction, dst, root, work, device))
    say(f"[robustness] {len(tasks)} test runs ({len(size.robust_seeds)} seed(s) x {len(conditions)} "
        f"corruptions x {len(MODELS)} models), {size.jobs} at a time")
    results = common.run_parallel(tasks, size.jobs)
    # rank1[model][kind][fraction] = mean over seeds of the NM/BG/CL mean (and per condition)
    table: Dict[str, Dict[str, Dict[str, dict]]] = {m: {k: {} for k in KINDS} for m in MODELS}
    for m in MODELS:
        clean = [acc["runs"][m][str(s)]["rank1"] for s in size.robust_seeds]
        for k in KINDS:
            table[m][k]["0.0"] = _aggregate(clean)
    for kind, fraction in conditions:
        for m in MODELS:
            got = [r["rank1"] for r in results if r["model"] == m and r["kind"] == kind and r["fraction"] == fraction]
            table[m][kind][str(float(fraction))] = _aggregate(got)
    return {"table": table, "runs": results, "fractions": [0.0] + [float(f) for f in size.fractions],
            "seeds": list(size.robust_seeds), "chance": acc.get("chance")}


def _aggregate(rank1s: List[dict]) -> dict:
    out = {c: common.mean_std([r[c] for r in rank1s])[0] for c in PROTOCOL_TYPES}
    out["mean"] = sum(out[c] for c in PROTOCOL_TYPES) / len(PROTOCOL_TYPES)
    return out


def targets(data: dict) -> List[Target]:
    key = str(TARGET_FRACTION)
    out = []
    if key not in data["table"]["GaitBERT"][KINDS[0]]:
        return out
    for kind in KINDS:
        t = {m: data["table"][m][kind] for m in MODELS}
        loss = {m: t[m]["0.0"]["mean"] - t[m][key]["mean"] for m in MODELS}
        limit = 0.5 * max(loss[REFERENCE], 0.0)
        out.append(Target(f"{kind}: rank-1 points lost at {int(TARGET_FRACTION * 100)}% hidden <= half of GaitBase's",
                          loss["GaitBERT"], limit, unit=" pts",
                          note=f"GaitBase loses {loss[REFERENCE]:.2f} pts (mean of NM/BG/CL), GaitSet "
                               f"{loss['GaitSet']:.2f}"))
    return out


def report(data: dict, size: Size, root: Path, results: Path) -> str:
    fr = data["fractions"]
    lines = [f"# Robustness to hidden probe frames ({size.name} size)", "",
             "Rank-1 (%, mean of NM/BG/CL) when every probe sequence (nm-05/06, bg-*, cl-*) loses a fraction of "
             "its frames; the gallery (nm-01..04) stays clean. Corrupted copies of the probe pkl files are "
             "written to a separate dataset folder and OpenGait's own test phase runs on it with the checkpoints "
             f"of the accuracy benchmark (seed(s) {', '.join(str(s) for s in data['seeds'])}). "
             f"`drop`: frames removed; `span`: one contiguous run blanked; `patch`: {PATCHES_PER_FRAME} random "
             f"{PATCH_SIZE}x{PATCH_SIZE} squares blanked in each chosen frame. {size.describe()}.", "",
             f"Widths: {common.width_summary(root, size)}.", ""]
    for kind in KINDS:
        rows = []
        for m in MODELS:
            t = data["table"][m][kind]
            base = t["0.0"]["mean"]
            rows.append([m] + [f"{t[str(f)]['mean']:.2f}"
                               + ("" if f == 0 else f" ({round(t[str(f)]['mean'] - base, 1) + 0.0:+.1f})")
                               for f in fr]
                        + [" / ".join(f"{t[str(fr[-1])][c]:.1f}" for c in PROTOCOL_TYPES)])
        lines += [f"## {kind}", "", md_table(["model"] + [f"{int(f * 100)}% hidden" for f in fr]
                                             + [f"NM / BG / CL at {int(fr[-1] * 100)}%"], rows), ""]
    tgts = targets(data)
    data["targets"] = [t.__dict__ | {"passed": t.passed, "margin": t.margin} for t in tgts]
    if tgts:
        lines += ["## Targets", "", common.targets_table(tgts), ""]
    markdown = "\n".join(lines)
    common.write_result(results, "robustness", markdown, data)
    plot(data, size, results / "robustness.png")
    return markdown


def plot(data: dict, size: Size, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fr = data["fractions"]
    fig, axes = plt.subplots(1, len(KINDS), figsize=(11, 3.4), sharey=True)
    for ax, kind in zip(axes, KINDS):
        for m in MODELS:
            ax.plot([f * 100 for f in fr], [data["table"][m][kind][str(f)]["mean"] for f in fr], "o-",
                    color=common.COLORS[m], label=m)
        if "chance" in data:
            ax.axhline(data["chance"], color="grey", linestyle=":", label="chance")
        ax.set_title(f"{kind}")
        ax.set_xlabel("% of probe frames hidden")
        ax.set_xticks([f * 100 for f in fr])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("rank-1 % (mean NM/BG/CL)")
    axes[0].set_ylim(0, 100)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{size.name} size: widths / {size.width_divisor}, gallery clean", fontsize=10)
    fig.tight_layout()
    common.small_png(fig, path)
    plt.close(fig)


def run(root: Path, size: Size, work: Path, results: Path, device: str = "cpu", acc: dict = None,
        reuse: bool = True) -> dict:
    if acc is None:  # train (or reuse) the checkpoints of the robustness seeds
        seeds_size = Size(**{**common.asdict(size), "seeds": size.robust_seeds})
        acc = accuracy.measure(root, seeds_size, work, device, reuse=reuse)
    data = measure(root, size, work, acc, device)
    say(report(data, size, root, results))
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    args = parser.parse_args(argv)
    size = common.size_from_args(args)
    root = common.opengait_root(args.opengait)
    run(root, size, Path(args.workdir).resolve(), common.results_dir(args, size), args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
