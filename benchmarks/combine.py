"""Accuracy and robustness targets over the union of ablation runs: one model against a reference, seed by seed.

    python -m benchmarks.combine --model benchmarks/results/ablation-fraction.json:recon-quarter \
        --model benchmarks/results/ablation-seeds345.json:shipped \
        --reference benchmarks/results/ablation-fraction.json:GaitBase \
        --reference benchmarks/results/ablation-seeds345.json:GaitBase --name seeds0-5

Each ``FILE:VARIANT`` names a variant's runs in an ``ablation.json`` (written by
``benchmarks.ablation``, with ``--robust`` for the corruption rows); runs of several files
join by seed (a seed given twice is an error). The table pairs the two sides on the seeds
both have: clean rank-1 (the launcher's test, mean of NM/BG/CL) and, per corruption at its
target severity, the points each loses from its own clean rank-1 (in-process evaluation). A
second table gives the rank-1 each side keeps under each corruption: points lost favour the
side that starts lower, so the two tables can disagree.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List

if __package__ in (None, ""):  # python benchmarks/combine.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import common, robustness  # noqa: E402
from benchmarks.ablation import run_points_lost  # noqa: E402
from benchmarks.common import md_table, say  # noqa: E402
from benchmarks.robustness import plus_minus  # noqa: E402


def load_runs(specs: List[str]) -> Dict[str, dict]:
    """``FILE:VARIANT`` specs -> that variant's runs by seed, joined over the files."""
    runs: Dict[str, dict] = {}
    for spec in specs:
        path, _, variant = spec.rpartition(":")
        if not path:
            raise SystemExit(f"combine: {spec!r} is not FILE:VARIANT (e.g. results/ablation.json:shipped)")
        by_seed = json.loads(Path(path).read_text())["runs"].get(variant)
        if by_seed is None:
            raise SystemExit(f"combine: {path} has no variant {variant!r}")
        twice = sorted(set(runs) & set(by_seed), key=int)
        if twice:
            raise SystemExit(f"combine: seed(s) {', '.join(twice)} given twice ({spec})")
        runs.update(by_seed)
    return runs


def per_seed(runs: Dict[str, dict], seeds: List[str], conditions: List[str]) -> Dict[str, List[float]]:
    """Clean rank-1 and each corruption's points lost, one value per seed (mean of NM/BG/CL)."""
    out = {"clean": [robustness.mean3(runs[s]["rank1"]) for s in seeds]}
    for cond in conditions:
        out[cond] = [run_points_lost(runs[s], cond) for s in seeds]
    return out


def corrupted_rank1(runs: Dict[str, dict], seeds: List[str], conditions: List[str]) -> Dict[str, List[float]]:
    """Each corruption's rank-1 (in-process evaluation), one value per seed (mean of NM/BG/CL)."""
    return {cond: [robustness.mean3(runs[s]["robust"]["conditions"][cond]) for s in seeds] for cond in conditions}


def pm(values: List[float]) -> str:
    return plus_minus(common.mean_std(values))


def report(model: Dict[str, List[float]], reference: Dict[str, List[float]], seeds: List[str],
           labels: List[str], kept: Dict[str, Dict[str, List[float]]]) -> str:
    """``model``/``reference``: :func:`per_seed` of each side; ``kept``: label -> :func:`corrupted_rank1`."""
    rows = []
    for key in model:
        # clean: the model should score at least the reference; corruptions: lose fewer points
        gain = [m - r if key == "clean" else r - m for m, r in zip(model[key], reference[key])]
        mean = common.mean_std(gain)[0]
        verdict = "pass" if (mean >= 0 if key == "clean" else mean > 0) else f"**miss** by {-mean:.1f}"
        rows.append([key if key == "clean" else f"{key} (points lost)", pm(model[key]), pm(reference[key]),
                     pm(gain), verdict])
    return "\n".join([
        f"# {labels[0]} against {labels[1]}, seeds {', '.join(seeds)}", "",
        "Clean: rank-1 % from the launcher's test (mean of NM/BG/CL). Corruptions: rank-1 points lost from the "
        "model's own clean rank-1 at the kind's target severity (in-process evaluation; definitions in "
        "robustness.md). Mean ± std over the seeds; `advantage` is paired seed by seed (clean: model − "
        "reference; corruptions: reference's loss − model's), above 0 is better for the model.", "",
        md_table(["probe", labels[0], labels[1], "advantage", "target"], rows), ""]
        + ([] if not kept[labels[0]] else [
            "Rank-1 % kept under each corruption (in-process evaluation), mean ± std over the seeds; "
            "`advantage` is model − reference, paired seed by seed:", "",
            md_table(["probe", labels[0], labels[1], "advantage"],
                     [[cond, pm(m), pm(kept[labels[1]][cond]), pm([a - b for a, b in zip(m, kept[labels[1]][cond])])]
                      for cond, m in kept[labels[0]].items()]), ""]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="FILE:VARIANT (repeat to join seeds)")
    parser.add_argument("--reference", action="append", required=True, help="FILE:VARIANT (repeat to join seeds)")
    parser.add_argument("--labels", default="GaitBERT,GaitBase", help="column names of the two sides")
    parser.add_argument("--name", default="combined", help="result file name (NAME.md, NAME.json)")
    parser.add_argument("--results", default=str(Path(__file__).parent / "results"), help="where NAME.md/.json go")
    args = parser.parse_args(argv)
    model_runs, reference_runs = load_runs(args.model), load_runs(args.reference)
    seeds = sorted(set(model_runs) & set(reference_runs), key=int)
    if not seeds:
        parser.error("the two sides share no seed")
    # corruption rows: the conditions every run of both sides was evaluated on, in the first run's order
    evaluated = [list(r.get("robust", {}).get("conditions", {})) for runs in (model_runs, reference_runs)
                 for s, r in runs.items() if s in seeds]
    conditions = [c for c in evaluated[0] if all(c in e for e in evaluated)]
    model, reference = per_seed(model_runs, seeds, conditions), per_seed(reference_runs, seeds, conditions)
    labels = args.labels.split(",")
    kept = {label: corrupted_rank1(runs, seeds, conditions)
            for label, runs in zip(labels, (model_runs, reference_runs))}
    markdown = report(model, reference, seeds, labels, kept)
    data = {"seeds": seeds, "sources": {"model": args.model, "reference": args.reference},
            labels[0]: model, labels[1]: reference, "rank1_kept": kept}
    common.write_result(Path(args.results), args.name, markdown, data)
    say(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
