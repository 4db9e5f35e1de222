"""Accuracy: NM/BG/CL rank-1 of GaitBERT, GaitBase and GaitSet with equal training budgets.

    python -m benchmarks.accuracy --opengait PATH [--smoke | --full]

For every generator seed, one synthetic CASIA-B-protocol dataset is written and
all three models are trained on it and tested on it through the launcher, that
is OpenGait's own ``main.py`` flow (data loader, sampler, trainer, checkpoints,
CASIA-B evaluator ``evaluate_indoor_dataset``, identical views excluded). Every
model gets the same iterations and the same P x K x 30-frame batch; each keeps
its own optimizer, losses, sampler and transforms, with its learning-rate
milestones scaled to the budget. Results are the mean and the standard
deviation over seeds.
"""
from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path
from typing import Dict, List

import yaml

if __package__ in (None, ""):  # python benchmarks/accuracy.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import common  # noqa: E402
from benchmarks.common import MODELS, PROTOCOL_TYPES, REFERENCE, Size, Target, md_table, say  # noqa: E402

#: expected relative training cost, to start the longest runs first when running in parallel
COST = {"GaitBERT": 3, "GaitBase": 2, "GaitSet": 1}


def run_dir(work: Path, seed: int, model: str) -> Path:
    return work / "runs" / f"seed{seed}" / model.replace(" ", "-").replace("%", "pct")


def checkpoint(cfg: dict, workdir: Path) -> Path:
    from opengait_gaitbert.launcher.preflight import checkpoint_path
    return checkpoint_path(cfg, "evaluator_cfg", cfg["evaluator_cfg"]["restore_hint"], workdir)


def train_and_test(model: str, seed: int, cfg: dict, overrides: List[str], root: Path, work: Path,
                   device: str, reuse: bool, train: bool = True, test: bool = True) -> dict:
    """Train (unless ``train`` is False, or ``reuse`` finds the same config's checkpoint) and
    test one run named ``model``; returns its record (rank-1 when tested)."""
    workdir = run_dir(work, seed, model)
    tag = f"seed{seed}-{workdir.name}"
    cfg_file = workdir / f"{workdir.name}.yaml"
    ckpt = checkpoint(cfg, workdir) if train else Path(str(cfg["evaluator_cfg"]["restore_hint"]))
    # the same config as loaded, whatever its keys' order (an override adds a key at the end,
    # the same key written in the YAML sits in its place)
    same = cfg_file.is_file() and yaml.safe_load(cfg_file.read_text()) == cfg and ckpt.is_file()
    common.write_yaml(cfg, cfg_file)
    logs = work / "logs"
    started = time.time()
    train_s = None
    if train and reuse and same:
        say(f"[accuracy] seed {seed} {model}: reusing {ckpt}")
    elif train:
        say(f"[accuracy] seed {seed} {model}: training {cfg['trainer_cfg']['total_iter']} iterations")
        common.launch_logged("train", cfg_file, root, workdir, logs / f"train-{tag}.log", device)
        train_s = time.time() - started
    record = {"model": model, "seed": seed, "train_wall_s": train_s, "workdir": str(workdir),
              "cfg_file": str(cfg_file), "checkpoint": str(ckpt), "overrides": overrides}
    if not test:
        return record
    from opengait_gaitbert.launcher.demo import parse_rank1
    test_log = logs / f"test-{tag}.log"
    if reuse and same and test_log.is_file() and test_log.stat().st_mtime > ckpt.stat().st_mtime \
            and set(parse_rank1(test_log.read_text().splitlines())) == set(PROTOCOL_TYPES):
        say(f"[accuracy] seed {seed} {model}: reusing the test of {test_log}")  # same config, same checkpoint
        lines = test_log.read_text().splitlines()
    else:
        lines = common.launch_logged("test", cfg_file, root, workdir, test_log, device)
    rank1 = parse_rank1(lines)
    if set(rank1) != set(PROTOCOL_TYPES):
        raise common.LaunchFailed(f"{model} seed {seed}: no NM/BG/CL rank-1 in the test log")
    say(f"[accuracy] seed {seed} {model}: " + ", ".join(f"{k} {v:.2f}" for k, v in rank1.items())
        + (f" (train {train_s:.0f}s wall)" if train_s else ""))
    return {**record, "rank1": rank1}


def plan(root: Path, size: Size, work: Path, device: str) -> List[dict]:
    """Write each seed's data; return the (model, seed, config) runs."""
    runs = []
    for seed in size.seeds:
        data = common.synth_data(work / "data" / f"seed{seed}", size, seed)
        class_num = len(common.train_ids(data))
        for model in MODELS:
            cfg, overrides = common.build_config(model, root, size, data, class_num, device)
            runs.append({"model": model, "seed": seed, "cfg": cfg, "overrides": overrides, "data": str(data)})
    return runs


def measure(root: Path, size: Size, work: Path, device: str = "cpu", reuse: bool = False) -> dict:
    runs = plan(root, size, work, device)
    say(f"[accuracy] {len(runs)} train+test runs ({len(size.seeds)} seeds x {len(MODELS)} models), "
        f"{size.jobs} at a time")
    ordered = sorted(runs, key=lambda r: -COST[r["model"]])
    tasks = [partial(train_and_test, r["model"], r["seed"], r["cfg"], r["overrides"], root, work, device, reuse)
             for r in ordered]
    results = common.run_parallel(tasks, size.jobs)
    per = {m: {} for m in MODELS}
    for res in results:
        per[res["model"]][str(res["seed"])] = res
    data_dirs = {str(r["seed"]): r["data"] for r in runs}
    test_ids = size.ids - size.ids // 2
    return {"runs": per, "data": data_dirs, "chance": 100.0 / test_ids}


def summarise(data: dict) -> Dict[str, Dict[str, tuple]]:
    """model -> condition (NM, BG, CL, mean) -> (mean over seeds, std over seeds)."""
    out = {}
    for m in MODELS:
        seeds = data["runs"][m]
        out[m] = {}
        for cond in PROTOCOL_TYPES:
            out[m][cond] = common.mean_std([seeds[s]["rank1"][cond] for s in seeds])
        out[m]["mean"] = common.mean_std([sum(seeds[s]["rank1"][c] for c in PROTOCOL_TYPES) / 3 for s in seeds])
    return out


def targets(summary: dict) -> List[Target]:
    bert, base = summary["GaitBERT"], summary[REFERENCE]
    return [Target(f"rank-1 {cond} >= GaitBase", bert[cond][0], base[cond][0], lower_is_better=False,
                   unit=" pts", note="mean over seeds; limit = GaitBase's mean")
            for cond in PROTOCOL_TYPES + ("mean",)]


def report(data: dict, size: Size, root: Path, results: Path, work: Path) -> str:
    summary = summarise(data)
    data["summary"] = summary
    seeds = list(size.seeds)
    lines = [f"# Accuracy ({size.name} size)", "",
             f"Rank-1 (%) on the synthetic CASIA-B protocol, OpenGait's evaluator (`evaluate_indoor_dataset`, "
             f"identical views excluded), gallery nm-01..04, probes nm-05/06, bg-01/02, cl-01/02. "
             f"Every model trained and tested through the launcher (OpenGait's own train/test flow) on the same "
             f"data with the same budget; {size.describe()}. Mean ± standard deviation over generator seeds "
             f"{', '.join(str(s) for s in seeds)}; chance = {data['chance']:.1f}%.", "",
             f"Widths: {common.width_summary(root, size)}.", "",
             f"Machine: {common.environment_line()}.", ""]
    rows = []
    ref = summary[REFERENCE]["mean"][0]
    for m in MODELS:
        s = summary[m]
        rows.append([m] + [f"{s[c][0]:.2f} ± {s[c][1]:.2f}" for c in PROTOCOL_TYPES]
                    + [f"{s['mean'][0]:.2f} ± {s['mean'][1]:.2f}",
                       f"{s['mean'][0] - ref:+.2f} pts ({s['mean'][0] / ref:.2f}x)" if ref else "n/a"])
    lines += [md_table(["model", "NM", "BG", "CL", "mean", "mean vs GaitBase"], rows), "", "Per seed (NM / BG / CL):", ""]
    rows = []
    for m in MODELS:
        cells = []
        for seed in seeds:
            r = data["runs"][m][str(seed)]["rank1"]
            cells.append(" / ".join(f"{r[c]:.1f}" for c in PROTOCOL_TYPES))
        rows.append([m] + cells)
    lines += [md_table(["model"] + [f"seed {s}" for s in seeds], rows), ""]
    tgts = targets(summary)
    common.add_targets(lines, data, tgts)
    lines += ["## Overrides of each model's own config", ""]
    first = str(seeds[0])
    for m in MODELS:
        sets = [o for o in data["runs"][m][first]["overrides"] if not o.startswith("data_cfg.dataset_")]
        lines.append(f"- {m} (`{common.CONFIG_FILES[m][1]}`): `" + "`, `".join(sets) + "`")
    markdown = "\n".join(lines) + "\n"
    return common.publish(results, "accuracy", markdown, data, work, lambda png: plot(data, summary, size, png))


def plot(data: dict, summary: dict, size: Size, path: Path) -> None:
    plt = common.pyplot()
    conds = list(PROTOCOL_TYPES) + ["mean"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(MODELS)
    for i, m in enumerate(MODELS):
        xs = [j + (i - 1) * width for j in range(len(conds))]
        ax.bar(xs, [summary[m][c][0] for c in conds], width, yerr=[summary[m][c][1] for c in conds],
               color=common.COLORS[m], label=m, capsize=3)
        for seed, run in data["runs"][m].items():
            vals = [run["rank1"][c] for c in PROTOCOL_TYPES]
            vals.append(sum(vals) / 3)
            ax.plot(xs, vals, "k.", markersize=3)
    ax.axhline(data["chance"], color="grey", linestyle=":", label="chance")
    ax.set_xticks(range(len(conds)))
    ax.set_xticklabels(conds)
    ax.set_ylabel("rank-1 (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{size.name} size (widths / {size.width_divisor}), {size.iters} iterations, "
                 f"seeds {', '.join(str(s) for s in size.seeds)}", fontsize=9)
    ax.legend(fontsize=8, ncol=4)
    fig.tight_layout()
    common.small_png(fig, path)
    plt.close(fig)


def run(root: Path, size: Size, work: Path, results: Path, device: str = "cpu", reuse: bool = False) -> dict:
    data = measure(root, size, work, device, reuse)
    say(report(data, size, root, results, work))
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--reuse", action="store_true",
                        help="reuse checkpoints of an earlier run whose config is identical")
    args = parser.parse_args(argv)
    size = common.size_from_args(args)
    root = common.opengait_root(args.opengait)
    run(root, size, Path(args.workdir).resolve(), common.results_dir(args, size), args.device, args.reuse)
    return 0


if __name__ == "__main__":
    sys.exit(main())
