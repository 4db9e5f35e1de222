"""Label efficiency: does masked-frame pretraining on unlabelled walks save identity labels?

    python -m benchmarks.label_efficiency --opengait PATH [--smoke] [--seeds 0,1,2] [--iters N]
                                          [--pretrain-iters N] [--fractions 10,25,50,100]
                                          [--only "GaitBERT fine-tuned 25%,GaitBase-no-da scratch 100%"]
    python -m benchmarks.label_efficiency --report RESULT.json [--results DIR]   # the table again, no training

For every generator seed, one synthetic CASIA-B-protocol dataset holds a POOL of
training ids (the size's ``ids``) and half as many TEST ids, never seen in training:

1. **Pretraining**: GaitBERT, reconstruction only (``gaitbert_pretrain_folder.yaml``:
   no head, no triplet, CommonSampler), on every pool id, without their labels.
   Tested as it is (zero-shot, 0 labels).
2. **For each label fraction** of the LABELLED ids (the first half of the pool):
   GaitBERT fine-tuned from (1) (``gaitbert_finetune_casiab.yaml``: new head, the
   pretrained parts at 1/10 the learning rate), GaitBERT from scratch
   (``gaitbert_casiab.yaml``) and GaitBase from scratch (OpenGait's own config without its
   RandomRotate/RandomErasing: at these budgets its DA costs it 13-29 points, ``fair.md``),
   all with the same iterations and batch.

Every run goes through the launcher (OpenGait's own train/test flow and CASIA-B
evaluator). The report gives the mean rank-1 of NM/BG/CL, mean ± std over seeds,
and the per-seed gain of fine-tuning over GaitBERT from scratch.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Dict, List, Optional, Sequence

if __package__ in (None, ""):  # python benchmarks/label_efficiency.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import common  # noqa: E402
from benchmarks.accuracy import train_and_test  # noqa: E402
from benchmarks.common import PROTOCOL_TYPES, Size, md_table, say  # noqa: E402

FRACTIONS = (10, 25, 50, 100)  # % of the labelled ids
ARMS = ("GaitBERT fine-tuned", "GaitBERT scratch", "GaitBase-no-da scratch")
COLORS = {"GaitBERT fine-tuned": "#d62728", "GaitBERT scratch": "#ff9896", "GaitBase-no-da scratch": "#1f77b4"}
FEW_LABELS = 25  # % of the labelled ids: fine-tuning on them is compared with GaitBase trained on all of them
#: the summary key of that comparison
FEW_VS_ALL = f"fine-tuned {FEW_LABELS}% - GaitBase 100%"
PRETRAIN, ZERO_SHOT = "GaitBERT pretrained", "GaitBERT zero-shot"


def recipe(name: str) -> Path:
    from opengait_gaitbert import config_path
    return Path(str(config_path(name)))


def split(data: Path, fraction: int) -> Dict[str, List[str]]:
    """The partition of one label fraction: the first ``fraction`` % of the labelled ids, the test ids."""
    full = json.loads((data / "partition.json").read_text())
    labelled = full["TRAIN_SET"][:len(full["TRAIN_SET"]) // 2]
    return {"TRAIN_SET": common.first_share(labelled, fraction), "TEST_SET": full["TEST_SET"]}


def write_split(data: Path, fraction: int) -> Path:
    path = data.parent / f"{data.name}-labels{fraction}.json"
    path.write_text(json.dumps(split(data, fraction)))
    return path


def pretrain_config(root: Path, size: Size, data: Path, iters: int, device: str):
    extra = [f"trainer_cfg.sampler.batch_size={size.batch[0] * size.batch[1]}",  # CommonSampler: an int
             "data_cfg.test_dataset_name=CASIA-B"]
    return common.build_config("GaitBERT", root, size, data, 0, device, iters=iters,
                               base=recipe("gaitbert_pretrain_folder.yaml"), extra=extra)


def arm_config(arm: str, root: Path, size: Size, data: Path, partition: Path, device: str, pretrained: Path):
    from benchmarks.ablation import REFERENCE_VARIANTS
    class_num = len(json.loads(partition.read_text())["TRAIN_SET"])
    tuned = arm == "GaitBERT fine-tuned"
    model, variant = REFERENCE_VARIANTS.get(arm.split()[0], (arm.split()[0], []))
    return common.build_config(model, root, size, data, class_num, device,
                               batch=common.triplet_batch(size.batch, class_num),
                               base=recipe("gaitbert_finetune_casiab.yaml") if tuned else None, partition=partition,
                               extra=[f"trainer_cfg.restore_hint={pretrained}"] if tuned else variant)


def zero_shot_config(pretrain_cfg: dict, pretrained: Path):
    """The pretrained checkpoint tested as it is: the pretraining config, restoring that file."""
    from opengait_gaitbert.launcher.run import apply_overrides
    extra = [f"evaluator_cfg.restore_hint={pretrained}", "evaluator_cfg.save_name=GaitBERT_ZeroShot"]
    return apply_overrides(pretrain_cfg, extra), extra


def run_names(fractions: Sequence[int]) -> List[str]:
    """Every labelled run, ``"<arm> <fraction>%"``, fraction by fraction."""
    return [f"{arm} {fraction}%" for fraction in fractions for arm in ARMS]


def measure(root: Path, size: Size, work: Path, fractions: Sequence[int], pretrain_iters: int,
            device: str = "cpu", reuse: bool = False, only: Sequence[str] = ()) -> dict:
    """Pretraining, zero-shot, and every run of ``run_names(fractions)`` (those in ``only``, if given)."""
    pool = size.ids
    datas = {seed: common.synth_data(work / "data" / f"seed{seed}", size, seed, ids=pool + pool // 2,
                                     train_ids=pool) for seed in size.seeds}
    # 1. pretraining, one per seed
    pretrain = {}
    tasks = []
    for seed, data in datas.items():
        cfg, sets = pretrain_config(root, size, data, pretrain_iters, device)
        pretrain[seed] = (cfg, sets)
        tasks.append(partial(train_and_test, PRETRAIN, seed, cfg, sets, root, work, device, reuse, test=False))
    say(f"[label-efficiency] pretraining {len(tasks)} seeds, {pretrain_iters} iterations on {pool} unlabelled ids")
    done = {r["seed"]: r for r in common.run_parallel(tasks, size.jobs)}
    # 2. zero-shot and every (fraction, arm), in parallel
    tasks = []
    for seed, data in datas.items():
        cfg, sets = zero_shot_config(pretrain[seed][0], Path(done[seed]["checkpoint"]))
        tasks.append(partial(train_and_test, ZERO_SHOT, seed, cfg, sets, root, work, device, reuse, train=False))
    for fraction in fractions:  # fraction by fraction: each is complete over the seeds before the next starts
        for seed, data in datas.items():
            partition = write_split(data, fraction)
            for arm in (a for a in ARMS if not only or f"{a} {fraction}%" in only):
                cfg, sets = arm_config(arm, root, size, data, partition, device, Path(done[seed]["checkpoint"]))
                tasks.append(partial(train_and_test, f"{arm} {fraction}%", seed, cfg, sets, root, work, device,
                                     reuse))
    say(f"[label-efficiency] {len(tasks)} runs: zero-shot + {len(only) or len(fractions) * len(ARMS)} labelled "
        f"runs x {len(datas)} seeds, {size.jobs} at a time")
    runs: Dict[str, Dict[str, dict]] = {}
    for res in common.run_parallel(tasks, size.jobs):
        runs.setdefault(res["model"], {})[str(res["seed"])] = res
    labelled = {f: len(split(next(iter(datas.values())), f)["TRAIN_SET"]) for f in fractions}
    return {"runs": runs, "fractions": list(fractions), "labelled_ids": labelled, "pool_ids": pool,
            "test_ids": pool // 2, "chance": 100.0 / (pool // 2), "pretrain_iters": pretrain_iters,
            "iters": size.iters, "machine": common.environment_line()}


def load(path: Path) -> dict:
    """A result JSON as :func:`measure` returned it (JSON keeps the label fractions as strings)."""
    data = json.loads(path.read_text())
    data["labelled_ids"] = {int(f): ids for f, ids in data["labelled_ids"].items()}
    return data


def mean_rank1(run: dict) -> float:
    return sum(run["rank1"][c] for c in PROTOCOL_TYPES) / len(PROTOCOL_TYPES)


def summarise(data: dict) -> Dict[str, tuple]:
    """run name -> (mean, std) over seeds of the NM/BG/CL mean rank-1; each fine-tuning gain over scratch
    and fine-tuned on FEW_LABELS % against GaitBase on 100 %, paired by seed, where both ran."""
    runs = data["runs"]
    out = {name: common.mean_std([mean_rank1(r) for r in seeds.values()]) for name, seeds in runs.items()}
    pairs = {f"gain {f}%": (f"{ARMS[0]} {f}%", f"{ARMS[1]} {f}%") for f in data["fractions"]}
    pairs.update({f"over GaitBase {f}%": (f"{ARMS[0]} {f}%", f"{ARMS[2]} {f}%") for f in data["fractions"]})
    pairs[FEW_VS_ALL] = (f"{ARMS[0]} {FEW_LABELS}%", f"{ARMS[2]} 100%")
    for key, (first, second) in pairs.items():
        if first in runs and second in runs:
            out[key] = common.mean_std([mean_rank1(runs[first][s]) - mean_rank1(runs[second][s]) for s in runs[first]])
    return out


def report(data: dict, size: Size, results: Path, work: Optional[Path]) -> str:
    """Write the table, the per-seed runs and the plot of ``data`` (adding its summary) under ``results``."""
    data["fractions"] = sorted(data["fractions"])  # rows by fraction, whatever order the runs ran in
    summary = summarise(data)
    data["summary"] = summary
    seeds = sorted(next(iter(data["runs"].values())))
    cell = lambda name: f"{summary[name][0]:.1f} ± {summary[name][1]:.1f}" if name in summary else "not run"  # noqa: E731
    gain = lambda key: f"{summary[key][0]:+.1f} ± {summary[key][1]:.1f}" if key in summary else ""  # noqa: E731
    lines = ["# Label efficiency: masked-frame pretraining, then fine-tuning", "",
             f"Synthetic CASIA-B protocol, {size.view_text()}, {size.frames} frames per sequence; seeds "
             f"{', '.join(seeds)}. Pretraining: GaitBERT reconstruction only on {data['pool_ids']} unlabelled "
             f"ids for {data['pretrain_iters']} iterations. Then {data.get('iters', size.iters)} iterations for every arm on the "
             f"first 10-100 % of {data['pool_ids'] // 2} labelled ids (P x K = {size.batch[0]} x {size.batch[1]}); "
             f"all widths / {size.width_divisor}. Test: {data['test_ids']} other ids, OpenGait's CASIA-B "
             f"evaluator; chance {data['chance']:.1f} %. Mean rank-1 of NM/BG/CL (%), mean ± std over seeds.", "",
             f"Machine: {data.get('machine') or common.environment_line()}.", ""]
    rows = [[f"{f} % ({data['labelled_ids'][f]} ids)"] + [cell(f"{arm} {f}%") for arm in ARMS]
            + [gain(f"gain {f}%"), gain(f"over GaitBase {f}%")] for f in data["fractions"]]
    rows.insert(0, ["0 (zero-shot)", cell(ZERO_SHOT), "", "", "", ""])
    lines += [md_table(["labels"] + list(ARMS) + ["fine-tuned - scratch (paired)",
                                                  f"fine-tuned - {ARMS[2].split()[0]} (paired)"], rows), ""]
    if FEW_VS_ALL in summary:
        gap, spread = summary[FEW_VS_ALL]
        lines += [f"GaitBERT fine-tuned on {FEW_LABELS} % of the labelled ids minus {ARMS[2].split()[0]} trained on all "
                  f"of them, paired by seed: {gap:+.1f} ± {spread:.1f} ({'at or above' if gap >= 0 else 'below'}).", ""]
    lines += ["Per seed (mean rank-1):", ""]
    names = [name for name in [ZERO_SHOT] + run_names(data["fractions"]) if name in data["runs"]]
    lines += [md_table(["run"] + [f"seed {s}" for s in seeds],
                       [[n] + [f"{mean_rank1(data['runs'][n][s]):.1f}" for s in seeds] for n in names]), ""]
    markdown = "\n".join(lines) + "\n"
    return common.publish(results, "label_efficiency", markdown, data, work,
                          lambda png: plot(data, summary, size, png))


def plot(data: dict, summary: dict, size: Size, path: Path) -> None:
    plt = common.pyplot()
    fractions = data["fractions"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for arm in ARMS:
        ran = [f for f in fractions if f"{arm} {f}%" in summary]
        means = [summary[f"{arm} {f}%"] for f in ran]
        ax.errorbar(ran, [m for m, _ in means], yerr=[s for _, s in means], marker="o", capsize=3,
                    color=COLORS[arm], label=arm)
    zero, spread = summary[ZERO_SHOT]
    ax.errorbar([0], [zero], yerr=[spread], marker="s", color=COLORS[ARMS[0]], capsize=3, linestyle="none",
                label="GaitBERT zero-shot (no labels)")
    ax.axhline(data["chance"], color="grey", linestyle=":", label="chance")
    ax.set_xlabel(f"labelled training ids (% of {data['pool_ids'] // 2})")
    ax.set_ylabel("rank-1 (%), mean of NM/BG/CL")
    ax.set_xticks([0] + fractions)
    ax.set_title(f"pretraining on {data['pool_ids']} unlabelled ids; seeds "
                 f"{', '.join(sorted(next(iter(data['runs'].values()))))}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    common.small_png(fig, path)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--reuse", action="store_true",
                        help="reuse checkpoints of an earlier run whose config is identical")
    parser.add_argument("--pretrain-iters", type=int, help="pretraining iterations (default: 2x --iters)")
    parser.add_argument("--views", help="CASIA-B views to render, e.g. 000,036,072,108,144 (default: the size's)")
    parser.add_argument("--fractions", default=",".join(map(str, FRACTIONS)),
                        help="label fractions in %% of the labelled ids (default 10,25,50,100)")
    parser.add_argument("--report", metavar="JSON",
                        help="rewrite the table and plot from this result JSON, training nothing")
    parser.add_argument("--only", help="comma-separated labelled runs to train, e.g. 'GaitBERT fine-tuned 25%%,"
                                       "GaitBase-no-da scratch 100%%' (default: every arm at every fraction)")
    args = parser.parse_args(argv)
    fractions = [int(f) for f in args.fractions.split(",")]
    only = [name.strip() for name in args.only.split(",")] if args.only else []
    unknown = [name for name in only if name not in run_names(fractions)]
    if unknown:
        parser.error(f"--only {unknown[0]!r} is not a run of --fractions {args.fractions}; "
                     f"the runs are: {', '.join(run_names(fractions))}")
    size = common.size_from_args(args)
    if args.views:
        size = Size(**{**asdict(size), "views": tuple(args.views.split(","))})
    if args.report:
        say(report(load(Path(args.report)), size, common.results_dir(args, size), None))
        return 0
    root = common.opengait_root(args.opengait)
    work = Path(args.workdir).resolve()
    data = measure(root, size, work, fractions, args.pretrain_iters or 2 * size.iters, args.device, args.reuse,
                   only)
    say(report(data, size, common.results_dir(args, size), work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
