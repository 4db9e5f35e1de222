"""Ablations: GaitBERT variants against OpenGait's GaitBase, over seeds, on the same data and budget.

    python -m benchmarks.ablation --opengait PATH --variants shipped,masked,no-masked [--seeds 0,1,2] [--robust]

Each variant is a shipped CASIA-B recipe at the benchmark size plus a few launcher-style
``--set`` overrides (listed in ``VARIANTS`` and in the table): ``shipped`` is
``gaitbert_casiab.yaml`` itself, ``bert`` BERT's recipe in one run ``gaitbert_casiab_bert.yaml``
(``recipe_of``). Recipe decisions use the converged protocol (``benchmarks.converged``); this
benchmark compares variants at a fixed short budget.
Every variant and the GaitBase reference train through the launcher on the
accuracy benchmark's data of each seed and are tested with OpenGait's evaluator;
with ``--robust`` the robustness benchmark's in-process evaluation adds the
points each variant loses under every corruption kind at its target severity.
A test-time variant (``TEST_TIME_VARIANTS``) trains nothing: it tests the checkpoints of
the trained variant it names, so its difference from that variant is paired, seed by seed.
Shipped defaults are chosen from these tables (see the README's ablation section).
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Dict, List, Optional, Tuple

if __package__ in (None, ""):  # python benchmarks/ablation.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import accuracy, common, robustness  # noqa: E402
from benchmarks.common import MODELS, PROTOCOL_TYPES, REFERENCE, md_table, say  # noqa: E402

SAMPLER = "trainer_cfg.transform"

#: the shipped recipe file each variant overrides
RECIPES = {"shipped": "gaitbert_casiab.yaml", "bert": "gaitbert_casiab_bert.yaml"}
#: name -> overrides of its recipe (``RECIPES``), at full width. The variants measured before 2026-12-07
#: (the masked pass beside the clean one, feature targets, the U-Net recipe) are in the dated result
#: files of ``benchmarks/results/`` and in this file's git history; their keys are retired.
VARIANTS: Dict[str, List[str]] = {
    "shipped": [],  # identities from the first step (gaitbert_casiab.yaml)
    "bert": [],  # masked-frame pretraining, then fine-tuning (gaitbert_casiab_bert.yaml)
}

#: name -> (trained variant, its overrides plus some that change only what the trained network does
#: at test time): these test that variant's checkpoint of the same seed instead of training their own.
TEST_TIME_VARIANTS: Dict[str, Tuple[str, List[str]]] = {
    # the shipped checkpoint without part visibility: raw part embeddings, as in training
    "no-visibility": ("shipped", ["model_cfg.part_visibility=false"]),
}

#: name -> (OpenGait model, overrides of its own config): where a reference model's behaviour comes from.
REFERENCE_VARIANTS: Dict[str, Tuple[str, List[str]]] = {
    # GaitBase without its DA (RandomRotate, RandomErasing): is its occluder robustness learned from erasing?
    "GaitBase-no-da": ("GaitBase", [f"{SAMPLER}=[{{type: BaseSilCuttingTransform}}]"]),
}


def recipe_of(name: str) -> Path:
    """The shipped recipe variant ``name`` (a test-time variant: the variant it tests) overrides."""
    from opengait_gaitbert import config_path
    trained = TEST_TIME_VARIANTS[name][0] if name in TEST_TIME_VARIANTS else name
    return config_path(RECIPES[trained])


def gaitbert_config(root: Path, size, data: Path, class_num: int, device: str, extra: List[str],
                    base: Optional[Path] = None):
    """The shipped GaitBERT config (or the recipe ``base``) at ``size`` with the variant's ``extra``
    overrides.

    Its ``model_cfg`` overrides are full-width values: they apply before the size divides
    the widths. The others apply last, over the size's budget and data overrides.
    """
    from opengait_gaitbert.launcher.run import apply_overrides
    shape = [o for o in extra if o.startswith("model_cfg.")]
    rest = [o for o in extra if o not in shape]
    cfg, overrides = common.build_config("GaitBERT", root, size, data, class_num, device, shape=shape, base=base)
    return apply_overrides(cfg, rest), overrides + rest


def _where(work: Path, name: str) -> Path:
    """The work dir of a variant's runs. The shipped config and OpenGait's models run where the
    accuracy benchmark keeps its runs, so ``run_all --reuse`` on the same work dir reuses them."""
    return work if name in MODELS + ("shipped",) else work / "ablation" / name


def run_variant(name: str, seed: int, cfg: dict, overrides: List[str], root: Path, work: Path,
                device: str, reuse: bool) -> dict:
    """One train+test (a test of the trained variant's checkpoint for a test-time variant)."""
    model = name if name in MODELS else REFERENCE_VARIANTS[name][0] if name in REFERENCE_VARIANTS else "GaitBERT"
    where = _where(work, name)
    if name in TEST_TIME_VARIANTS:  # the trained variant's checkpoint, tested with this variant's config
        trained = accuracy.checkpoint(cfg, accuracy.run_dir(_where(work, TEST_TIME_VARIANTS[name][0]), seed, model))
        cfg = dict(cfg, evaluator_cfg=dict(cfg["evaluator_cfg"], restore_hint=str(trained)))
    result = accuracy.train_and_test(model, seed, cfg, overrides, root, where, device, reuse,
                                     train=name not in TEST_TIME_VARIANTS)
    result["variant"] = name
    say(f"[ablation] {name} seed {seed}: " + ", ".join(f"{k} {v:.2f}" for k, v in result["rank1"].items()))
    return result


def measure(root: Path, size, work: Path, names: List[str], device: str, reuse: bool,
            robust: bool = False) -> dict:
    tasks, plans = [], []
    for seed in size.seeds:
        data = common.synth_data(work / "data" / f"seed{seed}", size, seed)
        class_num = len(common.train_ids(data))
        for name in names:
            if name in MODELS:
                cfg, overrides = common.build_config(name, root, size, data, class_num, device)
            elif name in REFERENCE_VARIANTS:
                model, extra = REFERENCE_VARIANTS[name]
                cfg, overrides = common.build_config(model, root, size, data, class_num, device, extra=extra)
            else:
                cfg, overrides = gaitbert_config(root, size, data, class_num, device,
                                                 TEST_TIME_VARIANTS[name][1] if name in TEST_TIME_VARIANTS
                                                 else VARIANTS[name], base=recipe_of(name))
            plans.append((name, seed))
            tasks.append(partial(run_variant, name, seed, cfg, overrides, root, work, device, reuse))
    say(f"[ablation] {len(tasks)} train+test runs ({len(size.seeds)} seeds x {len(names)} variants), "
        f"{size.jobs} at a time")
    # test-time variants read trained variants' checkpoints: they run once the training runs are done
    later = [i for i, (name, _) in enumerate(plans) if name in TEST_TIME_VARIANTS]
    first = [i for i in range(len(tasks)) if i not in later]
    done = dict(zip(first, common.run_parallel([tasks[i] for i in first], size.jobs)))
    done.update(zip(later, common.run_parallel([tasks[i] for i in later], size.jobs)))
    results = [done[i] for i in range(len(tasks))]
    per: Dict[str, Dict[str, dict]] = {n: {} for n in names}
    for (name, seed), res in zip(plans, results):
        per[name][str(seed)] = res
    data = {"runs": per, "chance": 100.0 / (size.ids - size.ids // 2)}
    if robust:
        for res in robustness.evaluate_runs(root, size, work, results, device):  # name: the variant
            per[res["name"]][str(res["seed"])]["robust"] = {"clean": res["clean"], "conditions": res["conditions"]}
        data["conditions"] = [c.name for c in robustness.conditions(size)]
    return data


def run_points_lost(run: dict, condition: str) -> float:
    """One run's clean minus corrupted rank-1, mean of NM/BG/CL, in-process evaluation."""
    return robustness.mean3(run["robust"]["clean"]) - robustness.mean3(run["robust"]["conditions"][condition])


def points_lost(runs: Dict[str, dict], condition: str) -> tuple:
    """Mean ± std over seeds of :func:`run_points_lost`."""
    return common.mean_std([run_points_lost(r, condition) for r in runs.values()])


def report(data: dict, size, names: List[str], results: Path, work: Path) -> str:
    lines = [f"# Ablations ({size.name} size)", "", f"{size.describe()}. Rank-1 %, mean ± std over seeds "
             f"{', '.join(str(s) for s in size.seeds)}; chance {data['chance']:.1f}%.", ""]
    rows = []
    for name in names:
        runs = data["runs"][name]
        cells = [common.mean_std([r["rank1"][c] for r in runs.values()]) for c in PROTOCOL_TYPES]
        mean = common.mean_std([sum(r["rank1"][c] for c in PROTOCOL_TYPES) / 3 for r in runs.values()])
        own = (REFERENCE_VARIANTS[name][1] if name in REFERENCE_VARIANTS else [] if name in MODELS
               else TEST_TIME_VARIANTS[name][1] if name in TEST_TIME_VARIANTS else VARIANTS[name])
        change = "; ".join(f"`{o}`" for o in own) or ("" if name in MODELS else f"(`{recipe_of(name).name}`)")
        if own and name not in MODELS + tuple(REFERENCE_VARIANTS):
            change = f"`{recipe_of(name).name}` + {change}"
        rows.append([name] + [f"{m:.1f} ± {s:.1f}" for m, s in cells + [mean]] + [change])
    lines += [md_table(["variant", "NM", "BG", "CL", "mean", "overrides"], rows), ""]
    if data.get("conditions"):
        lines += ["Rank-1 points lost under each corruption at its target severity (mean of NM/BG/CL, "
                  "mean ± std over seeds; fewer is better; definitions in robustness.md):", ""]
        lost = [[name] + [f"{m:.1f} ± {s:.1f}" for m, s in (points_lost(data["runs"][name], c)
                                                             for c in data["conditions"])] for name in names]
        lines += [md_table(["variant"] + data["conditions"], lost), ""]
    markdown = "\n".join(lines)
    common.write_result(results, "ablation", markdown, data, work)
    return markdown


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--variants", default="shipped," + REFERENCE,
                        help=f"comma list of {', '.join(VARIANTS)}, test-time {', '.join(TEST_TIME_VARIANTS)} "
                             f"(a trained variant's checkpoints, tested otherwise), OpenGait's {', '.join(MODELS[1:])} "
                             f"and their variants {', '.join(REFERENCE_VARIANTS)}")
    parser.add_argument("--reuse", action="store_true", help="reuse checkpoints whose config is identical")
    parser.add_argument("--robust", action="store_true",
                        help="also evaluate every run on corrupted probes (see --robust-levels)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    known = list(VARIANTS) + list(TEST_TIME_VARIANTS) + list(MODELS[1:]) + list(REFERENCE_VARIANTS)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"--variants: unknown {unknown}; choose from {', '.join(known)}")
    untrained = sorted({TEST_TIME_VARIANTS[n][0] for n in names if n in TEST_TIME_VARIANTS} - set(names))
    if untrained:
        parser.error(f"--variants: test-time variants test the checkpoints of {', '.join(untrained)}; add them")
    size = common.size_from_args(args)
    root = common.opengait_root(args.opengait)
    work = Path(args.workdir).resolve()
    data = measure(root, size, work, names, args.device, args.reuse, args.robust)
    say(report(data, size, names, common.results_dir(args, size) if args.results else work / "results-ablation",
               work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
