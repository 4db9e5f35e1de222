"""The converged protocol's report: learning curves, final rank-1, paired differences with 95 %
intervals, the label shares and the equal-time table, from the run files alone (``benchmarks.converged``
writes them; ``python -m benchmarks.converged --report`` calls this)."""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from benchmarks import common
from benchmarks.common import GENERATORS, md_table
from benchmarks.converged import (ABLATION, ARM_LEGEND, BASELINES, COMPLETION, FULL_LABEL_ARMS, MODEL, PARTS,
                                  PKL_SIDE, POINTS, SIZE, TWO_CONFIG, TWO_CONFIG_SCRATCH, VARIANTS, labelled_share,
                                  load_runs, mean3)


def interval(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and the half-width of its 95 % interval (Student's t; 0 for one value)."""
    from scipy.stats import t

    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return mean, float("nan")
    return mean, float(t.ppf(0.975, n - 1)) * statistics.stdev(values) / math.sqrt(n)


def fmt_interval(values: Sequence[float]) -> str:
    if not values:
        return "n/a"
    mean, half = interval(values)
    if len(values) < 2:
        return f"{mean:+.1f} (one pair)"
    return f"{mean:+.1f} [{mean - half:+.1f}, {mean + half:+.1f}]"


def pm(values: Sequence[float]) -> str:
    mean, std = common.mean_std(list(values))
    return f"{mean:.1f} ± {std:.1f}"


def levelled_off(runs: Dict[int, dict]) -> Tuple[Optional[bool], float, float]:
    """Whether the mean curve's last two points differ by no more than the seeds' spread at the last one
    (None with one seed: there is no spread to judge by)."""
    seeds = sorted(runs)
    last = [mean3(runs[s]["curve"][-1]) for s in seeds]
    before = [mean3(runs[s]["curve"][-2]) for s in seeds]
    change = statistics.fmean(last) - statistics.fmean(before)
    if len(last) < 2:
        return None, change, float("nan")
    spread = statistics.stdev(last)
    return abs(change) <= spread, change, spread


def at_steps(run: dict, steps: float) -> float:
    """Clean rank-1 (mean of NM/BG/CL) of a run's curve at ``steps``, linear between its tests."""
    xs = [0] + [p["iter"] for p in run["curve"]]
    ys = [float("nan")] + [mean3(p) for p in run["curve"]]
    if steps >= xs[-1]:
        return ys[-1]
    if steps < xs[1]:
        return float("nan")
    return float(np.interp(steps, xs[1:], ys[1:]))


#: the reference "the better GaitBase": per kind (clean, each corruption), the GaitBase arm with the higher mean
BETTER = "the better GaitBase"


def value(arms: Dict[str, Dict[int, dict]], arm: str, seed: int, kind: str) -> float:
    """Rank-1 (mean of NM/BG/CL) of ``arm``'s final checkpoint on ``seed``, clean or under corruption ``kind``."""
    run = arms[arm][seed]
    return mean3(run["clean"] if kind == "clean" else run["conditions"][kind])


def baseline_seeds(arms: Dict[str, Dict[int, dict]]) -> List[int]:
    """The seeds on which every GaitBase arm that ran has a result: the better one is chosen over these."""
    have = [set(arms[b]) for b in BASELINES if b in arms]
    return sorted(set.intersection(*have)) if have else []


def better_baseline_per_kind(arms: Dict[str, Dict[int, dict]], kinds: Sequence[str]) -> Dict[str, str]:
    """For each kind, the GaitBase arm (with its DA or without) with the higher mean over the seeds both ran."""
    seeds = baseline_seeds(arms)
    have = [b for b in BASELINES if b in arms]
    if not seeds:
        return {}
    return {k: max(have, key=lambda b: statistics.fmean(value(arms, b, s, k) for s in seeds)) for k in kinds}


def paired(arms: Dict[str, Dict[int, dict]], a: str, b: str, kind: str) -> Dict[int, float]:
    """``a`` − ``b`` in rank-1 points on each seed both have a result for (``b`` a named arm)."""
    common_seeds = sorted(set(arms.get(a, {})) & set(arms.get(b, {})))
    return {s: value(arms, a, s, kind) - value(arms, b, s, kind) for s in common_seeds}


def paired_record(by_seed: Dict[int, float]) -> dict:
    """One comparison of one kind, for converged.json: its seeds, differences, mean and interval half-width."""
    mean, half = interval(list(by_seed.values()))
    return {"seeds": list(by_seed), "paired": list(by_seed.values()), "mean": mean, "half_width": half}


def report(results: Path, step_times: Optional[Dict[str, float]] = None) -> str:
    runs = load_runs(results)
    every = [run for arms in runs.values() for per_seed in arms.values() for run in per_seed.values()]
    iters = sorted({run["iters"] for run in every})
    divisors = sorted({run.get("width_divisor", SIZE.width_divisor) for run in every})
    p, k = SIZE.batch
    lines = ["# The converged protocol", "",
             f"Every channel width = each model's own full config / {'/'.join(map(str, divisors))}; synthetic "
             "CASIA-B protocol, "
             f"{SIZE.ids} ids ({SIZE.ids // 2} train / {SIZE.ids - SIZE.ids // 2} test), {SIZE.view_text()}, "
             f"{SIZE.frames} frames per sequence, resized to {PKL_SIDE}x{PKL_SIDE} pkl, seen as 32x22, {PARTS} strips; "
             f"{'/'.join(map(str, iters))} optimizer steps of {p}x{k} sequences for every arm (each with its own "
             f"sampler and schedule), pretraining steps included; every run tests itself {POINTS} times. "
             "Rank-1 %, mean of NM/BG/CL (identical views excluded), chance "
             f"{100 / (SIZE.ids - SIZE.ids // 2):.2f} %. Differences are paired by seed: mean and 95 % interval "
             "(Student's t). Command: `python -m benchmarks.converged`.", ""]
    lines += ["Arms: " + "; ".join(f"`{arm}`: {what}" for arm, what in ARM_LEGEND.items()) + ".", ""]
    data = {"size": asdict(SIZE), "pkl_side": PKL_SIDE, "points": POINTS, "generators": {}}
    pooled: Dict[str, List[float]] = {}
    for generator, arms in sorted(runs.items()):
        seeds = sorted(set.union(*(set(r) for r in arms.values())))
        order = [a for a in (*FULL_LABEL_ARMS, COMPLETION) if a in arms] \
            + sorted((a for a in arms if "@" in a), key=lambda a: (-labelled_share(a)[1], a))
        lines += [f"## `{generator}` ({GENERATORS.get(generator, generator)}), seeds {', '.join(map(str, seeds))}", ""]
        first = arms[order[0]][min(arms[order[0]])]
        steps = [p["iter"] for p in first["curve"]]
        lines += ["Learning curves (clean rank-1 at each test, mean ± spread over the arm's seeds; \"levelled "
                  "off\": the last two points differ by no more than the seeds' spread at the last):", ""]
        rows = []
        for arm in (a for a in order if a != COMPLETION):  # a test-time arm has its trained arm's curve
            own = sorted(arms[arm])
            flat, change, spread = levelled_off({s: arms[arm][s] for s in own})
            verdict = (f"{'yes' if flat else 'no'} ({change:+.1f} vs ±{spread:.1f})" if flat is not None
                       else f"one seed ({change:+.1f})")
            rows.append([arm, len(own)] + [pm([mean3(arms[arm][s]["curve"][i]) for s in own])
                                           for i in range(len(steps))] + [verdict])
        lines += [md_table(["arm", "seeds"] + [str(s) for s in steps] + ["levelled off"], rows), ""]
        conds = list(first["conditions"])
        kinds = ["clean"] + conds
        better = better_baseline_per_kind(arms, kinds)
        lines += ["Final checkpoints, clean and under each corruption at its target severity:", ""]
        rows = [[arm, len(arms[arm])] + [pm([value(arms, arm, s, k) for s in sorted(arms[arm])]) for k in kinds]
                for arm in order]
        lines += [md_table(["arm", "seeds"] + kinds, rows), ""]
        if better:
            lines += [f"The better GaitBase per kind (mean over seeds {', '.join(map(str, baseline_seeds(arms)))}), "
                      "the reference of \"the better GaitBase\": "
                      + ", ".join(f"{k} `{b}`" for k, b in better.items()) + ".", ""]
        comparisons = [(MODEL, ABLATION), (MODEL, BETTER), (ABLATION, BETTER)] + [(v, MODEL) for v in VARIANTS] \
            + [(COMPLETION, MODEL), (COMPLETION, BETTER), (MODEL, TWO_CONFIG),
               (TWO_CONFIG, TWO_CONFIG_SCRATCH), (TWO_CONFIG, ABLATION), (TWO_CONFIG, BETTER),
               (TWO_CONFIG_SCRATCH, ABLATION), (TWO_CONFIG_SCRATCH, BETTER)] + label_comparisons(arms)
        rows = []
        gen_data = {"seeds": seeds, "seeds_per_arm": {a: sorted(arms[a]) for a in order},
                    "best_baseline": better.get("clean"), "better_baseline_per_kind": better, "comparisons": {}}
        for a, b in comparisons:
            if a not in arms or (b not in arms and not (b == BETTER and better)):
                continue
            diffs = {k: paired(arms, a, better[k] if b == BETTER else b, k) for k in kinds}
            if not diffs["clean"]:
                continue
            rows.append([f"{a} − {b}", len(diffs["clean"])] + [fmt_interval(list(diffs[k].values())) for k in kinds])
            gen_data["comparisons"][f"{a} - {b}"] = {k: paired_record(v) for k, v in diffs.items()}
            pooled.setdefault(f"{a} − {b}", []).extend(diffs["clean"].values())
        if rows:
            lines += ["Paired differences, rank-1 points, mean [95 % interval] over the seeds both arms ran:", "",
                      md_table(["comparison", "pairs"] + kinds, rows), ""]
        if step_times:
            lines += equal_time_lines(arms, order, step_times)
        data["generators"][generator] = gen_data
    if pooled:
        lines += ["## Both generators, clean rank-1, paired", "",
                  md_table(["comparison", "pairs", "mean [95 % interval]"],
                           [[k, len(v), fmt_interval(v)] for k, v in pooled.items()]), ""]
    markdown = "\n".join(lines)
    common.write_result(results, "converged", markdown, data)
    plot(runs, results / "converged.png")
    return markdown


def label_comparisons(arms) -> List[Tuple[str, str]]:
    """For each label share that ran: the two-config route against its ablations at that share (the same
    network on GaitBase's schedule, and on the route's own from random weights), the two schedules against
    each other, each against GaitBase without DA on every label (the label-efficiency target), and the route
    against the same share of GaitBase."""
    shares = sorted({labelled_share(a)[1] for a in arms if "@" in a}, reverse=True)
    pairs = []
    for pct in shares:
        pairs += [(f"{TWO_CONFIG}@{pct}", f"{ABLATION}@{pct}"), (f"{TWO_CONFIG}@{pct}", f"{TWO_CONFIG_SCRATCH}@{pct}"),
                  (f"{TWO_CONFIG_SCRATCH}@{pct}", f"{ABLATION}@{pct}"), (f"{TWO_CONFIG_SCRATCH}@{pct}", "GaitBase-no-da"),
                  (f"{TWO_CONFIG}@{pct}", "GaitBase-no-da"),
                  (f"{ABLATION}@{pct}", "GaitBase-no-da"), (f"{TWO_CONFIG}@{pct}", f"GaitBase-no-da@{pct}")]
    return pairs


def equal_time_lines(arms, order, step_times: Dict[str, float]) -> List[str]:
    """Each arm's clean rank-1 at the wall-clock time GaitBase's full schedule takes."""
    reference = step_times.get("GaitBase")
    if not reference:
        return []
    budget = SIZE.iters * reference
    rows = []
    for arm in order:
        per_step = step_times.get(arm)
        if not per_step:
            continue
        steps = budget / per_step
        rows.append([arm, f"{per_step * 1000:.0f} ms", f"{min(steps, SIZE.iters):.0f}",
                     pm([at_steps(run, steps) for run in arms[arm].values()])])
    return [f"At equal wall-clock time (GaitBase's {SIZE.iters} steps; seconds per step measured side by side, "
            "see `step_times` in converged.json):", "",
            md_table(["arm", "time per step", "steps in that time", "clean rank-1"], rows), ""]


def plot(runs, path: Path) -> None:
    plt = common.pyplot()
    generators = sorted(runs)
    fig, axes = plt.subplots(1, len(generators), figsize=(5.5 * len(generators), 4), squeeze=False)
    for ax, generator in zip(axes[0], generators):
        for arm, per_seed in runs[generator].items():
            if arm == COMPLETION:
                continue
            seeds = sorted(per_seed)
            steps = [p["iter"] for p in per_seed[seeds[0]]["curve"]]
            means = [statistics.fmean(mean3(per_seed[s]["curve"][i]) for s in seeds) for i in range(len(steps))]
            ax.plot(steps, means, marker="o", label=f"{arm} ({len(seeds)} seeds)")
        ax.set_title(f"{generator}")
        ax.set_xlabel("optimizer steps (pretraining included)")
        ax.set_ylabel("clean rank-1 %, mean of NM/BG/CL")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    common.small_png(fig, path)
    plt.close(fig)
