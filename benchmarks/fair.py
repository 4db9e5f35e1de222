"""The fair protocol: GaitBERT against its own ablation and GaitBase at its best, on two generators.

    python -m benchmarks.fair --opengait PATH [--generators synth,bodies] [--seeds 0,1,2] \
        [--budgets 200[,1000,...]] [--extra feature]
    python -m benchmarks.fair --runs synth:200=ablation-synth.json --runs bodies:200=ablation-bodies.json

For every generator, budget and seed, the same data trains, through the launcher and
OpenGait's evaluator, at the same width and batch:

- ``masked``: GaitBERT with the masked-frame objective (``gaitbert_casiab_masked.yaml``: a masked
  pass on an eighth of each batch, its hidden content reconstructed), the shipped default until
  2026-12-06;
- ``no-masked``: its standing ablation, the same network without the masked objective and
  without the masked pass (``reconstruct_fraction: 0``), so its cost shows too. Since 2026-12-06
  this is the shipped default, ``gaitbert_casiab.yaml`` (variant ``shipped``);
- ``GaitBase`` with its DA recipe and ``GaitBase-no-da`` without it: a long-schedule
  augmentation can handicap a short budget, so the better of the two (by clean rank-1,
  mean over seeds) is the reference, the one a user would train;
- ``--extra`` GaitBERT variants of ``benchmarks.ablation.VARIANTS``, judged the same way.

Every run is also evaluated on corrupted probes at each corruption kind's target severity
(``benchmarks.robustness``). Values are mean ± std over seeds; differences are paired seed
by seed. The verdicts are the product's claims:

- the masked objective earns its place: clean rank-1 above the ablation's by more than the
  paired spread, and no corruption kind where it keeps less rank-1 than the ablation;
- GaitBERT (each GaitBERT variant, the shipped one included) recognises at least as well as the
  best GaitBase clean, and loses fewer points than it under every corruption kind.

``--runs GEN:ITERS=FILE[:VARIANT,...]`` builds the report from ``benchmarks.ablation`` result
files (``--robust``, with these variants) instead of training; ``OLD=NEW`` in the list renames a
variant (files written before 2026-12-06 call the masked recipe ``shipped``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Sequence

if __package__ in (None, ""):  # python benchmarks/fair.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import ablation, common  # noqa: E402
from benchmarks.common import GENERATORS, Size, md_table, say  # noqa: E402
from benchmarks.robustness import mean3, plus_minus  # noqa: E402

MODEL, ABLATION = "masked", "no-masked"
BASELINES = ("GaitBase", "GaitBase-no-da")
CORE = (MODEL, ABLATION) + BASELINES


def clean(runs: Dict[str, dict], seeds: Sequence[str]) -> List[float]:
    """Clean rank-1 per seed (the launcher's test, mean of NM/BG/CL)."""
    return [mean3(runs[s]["rank1"]) for s in seeds]


def kept(runs: Dict[str, dict], seeds: Sequence[str], condition: str) -> List[float]:
    """Rank-1 per seed under ``condition`` (in-process evaluation, mean of NM/BG/CL)."""
    return [mean3(runs[s]["robust"]["conditions"][condition]) for s in seeds]


def lost(runs: Dict[str, dict], seeds: Sequence[str], condition: str) -> List[float]:
    """Points lost per seed under ``condition``, from the run's own in-process clean rank-1."""
    return [ablation.run_points_lost(runs[s], condition) for s in seeds]


def pm(values: Sequence[float]) -> str:
    return plus_minus(common.mean_std(list(values)))


def paired(a: Sequence[float], b: Sequence[float]) -> List[float]:
    return [x - y for x, y in zip(a, b)]


def best_baseline(runs: Dict[str, Dict[str, dict]], seeds: Sequence[str]) -> str:
    """The GaitBase variant with the higher clean rank-1, mean over seeds, among those run on every seed."""
    complete = [name for name in BASELINES if name in runs and set(seeds) <= set(runs[name])]
    return max(complete, key=lambda name: common.mean_std(clean(runs[name], seeds))[0])


def corruptions_tested(runs: Dict[str, dict], seeds: Sequence[str]) -> bool:
    """Whether every one of these runs was also evaluated under the corruptions (else: clean only)."""
    return all("robust" in runs[s] for s in seeds)


def cell(runs: Dict[str, dict], seeds: Sequence[str], values, corrupted: bool = False) -> str:
    """``values(runs, seeds)`` as mean ± std over the seeds this variant has; fewer are named. A
    ``corrupted`` cell of a variant tested clean only says "not measured"."""
    have = [s for s in seeds if s in runs]
    if corrupted and not corruptions_tested(runs, have):
        return "not measured"
    text = pm(values(runs, have))
    return text if len(have) == len(seeds) else f"{text} (seed {', '.join(have)} only)"


def claim(differences: List[float], strict: bool = True, beyond_spread: bool = False) -> dict:
    """A paired claim: ``margin`` is how far its mean is past the bar (0, or the spread), ``pass``
    whether it is past it (``strict``: above, else at least)."""
    mean, spread = common.mean_std(differences)
    margin = mean - (spread if beyond_spread else 0.0)
    return {"paired": differences, "margin": margin, "pass": margin > 0 if strict else margin >= 0}


def verdicts(runs: Dict[str, Dict[str, dict]], seeds: Sequence[str], conditions: Sequence[str],
             model: str = MODEL) -> Dict[str, dict]:
    """``model``'s claims against the ablation (none for the ablation itself) and the best GaitBase,
    each with its paired numbers."""
    best = best_baseline(runs, seeds)
    against_ablation = {} if model == ABLATION else {
        # the objective earns its place: above the ablation by more than the paired spread ...
        "clean_vs_ablation": claim(paired(clean(runs[model], seeds), clean(runs[ABLATION], seeds)),
                                   beyond_spread=True),
        # ... and never keeping less under a corruption
        "kept_vs_ablation": {c: claim(paired(kept(runs[model], seeds, c), kept(runs[ABLATION], seeds, c)),
                                      strict=False) for c in conditions}}
    return {
        "best_baseline": best, **against_ablation,
        "clean_vs_best": claim(paired(clean(runs[model], seeds), clean(runs[best], seeds)), strict=False),
        "lost_vs_best": {c: claim(paired(lost(runs[best], seeds, c), lost(runs[model], seeds, c)))
                         for c in conditions},
    }


def _verdict(value: dict) -> str:
    return "pass" if value["pass"] else f"**miss** by {max(0.0, -value['margin']):.1f}"


def section(title: str, data: dict, names: Sequence[str]) -> List[str]:
    """One generator at one budget: the tables and the verdicts."""
    runs, seeds = data["runs"], sorted(data["runs"][MODEL], key=int)
    names = [n for n in names if n in runs]
    conditions = data.get("conditions") or []
    lines = [f"## {title}", "", f"{data['describe']}. Seeds {', '.join(seeds)}; chance {data['chance']:.1f} %.", ""]
    header = ["probe"] + list(names)
    rows = [["clean rank-1"] + [cell(runs[n], seeds, clean) for n in names]]
    rows += [[f"{c} (points lost)"] + [cell(runs[n], seeds, lambda r, s: lost(r, s, c), True) for n in names]
             for c in conditions]
    lines += ["Rank-1 % (mean of NM/BG/CL, mean ± std over seeds); under each corruption the points lost "
              "from the run's own clean rank-1 (fewer is better):", "", md_table(header, rows), ""]
    if conditions:
        rows = [[c] + [cell(runs[n], seeds, lambda r, s: kept(r, s, c), True) for n in names] for c in conditions]
        lines += ["Rank-1 % kept under each corruption:", "", md_table(header, rows), ""]
    judged = [n for n in names if n not in BASELINES and set(seeds) <= set(runs[n])]
    for model in judged:
        tested = corruptions_tested(runs[model], seeds)  # else its clean claims alone
        v = verdicts(runs, seeds, conditions if tested else [], model)
        best = v["best_baseline"]
        rows = []
        if model != ABLATION:
            rows += [["clean: − ablation (more than its spread)", pm(v["clean_vs_ablation"]["paired"]),
                      _verdict(v["clean_vs_ablation"])]]
            rows += [[f"{c}: rank-1 kept − ablation's", pm(v["kept_vs_ablation"][c]["paired"]),
                      _verdict(v["kept_vs_ablation"][c])] for c in v["kept_vs_ablation"]]
        rows += [[f"clean: − {best}", pm(v["clean_vs_best"]["paired"]), _verdict(v["clean_vs_best"])]]
        rows += [[f"{c}: {best}'s points lost − ours", pm(v["lost_vs_best"][c]["paired"]),
                  _verdict(v["lost_vs_best"][c])] for c in v["lost_vs_best"]]
        passed = sum(r[2] == "pass" for r in rows)
        against = f"the best GaitBase ({best})" if model == ABLATION else f"its ablation and the best GaitBase ({best})"
        lines += [f"`{model}` against {against}, paired by seed "
                  f"({passed} of {len(rows)} claims hold):", "", md_table(["claim", "paired difference", "verdict"], rows), ""]
    return lines


def report(sections: Dict[str, dict], names: Sequence[str]) -> str:
    lines = ["# The fair protocol", "",
             f"Measured {datetime.date.today().isoformat()} on CPU. `masked` is GaitBERT with the masked-frame "
             "objective (`gaitbert_casiab_masked.yaml`, the shipped default until 2026-12-06); `no-masked` the "
             "same network without the masked pass (`reconstruct_fraction: 0`, `reconstruction_weight: 0`), "
             "the shipped `gaitbert_casiab.yaml` since 2026-12-06; GaitBase is OpenGait's `gaitbase_da_casiab.yaml`, with its DA "
             "(`GaitBase`) and with `BaseSilCuttingTransform` alone (`GaitBase-no-da`). Every model trains "
             "through the launcher on the same data, batch and iterations, every width divided alike, and is "
             "tested with OpenGait's evaluator; corruptions at their target severity as in robustness.md. "
             "Produced by `python -m benchmarks.fair` (see its docstring).", ""]
    for title, data in sections.items():
        lines += section(title, data, names)
    return "\n".join(lines)


def measure(root: Path, base: Size, work: Path, generators: Sequence[str], budgets: Sequence[int],
            names: Sequence[str], device: str, reuse: bool) -> Dict[str, dict]:
    sections = {}
    for generator in generators:
        for iters in budgets:
            size = Size(**{**asdict(base), "generator": generator, "iters": iters, "robust_levels": "target"})
            data = ablation.measure(root, size, work / generator / f"iters{iters}", list(names), device, reuse,
                                    robust=True)
            data["describe"] = size.describe()
            sections[f"{generator}, {iters} iterations"] = data
    return sections


def load(specs: Sequence[str]) -> Dict[str, dict]:
    """``GEN:ITERS=FILE[:VARIANT,...]`` -> sections from ``benchmarks.ablation`` result files.

    Files of the same ``GEN:ITERS`` join: their variants' runs merge by seed (a seed given twice
    is an error); ``:VARIANT,...`` takes only those variants of the file, ``OLD=NEW`` renamed.
    """
    sections: Dict[str, dict] = {}
    for spec in specs:
        key, _, path = spec.partition("=")
        generator, _, iters = key.partition(":")
        path, _, only = path.partition(":")
        if not path or generator not in GENERATORS or not iters.isdigit():
            raise SystemExit(f"fair: --runs {spec!r} is not GEN:ITERS=FILE[:VARIANT,...] with GEN one of "
                             f"{', '.join(GENERATORS)}")
        data = json.loads(Path(path).read_text())
        wanted = dict(item.partition("=")[::2] for item in only.split(",")) if only else {}
        runs = {(wanted.get(n) or n): r for n, r in data["runs"].items() if not only or n in wanted}
        section = sections.setdefault(f"{generator}, {iters} iterations", {
            "runs": {}, "chance": data["chance"], "conditions": data.get("conditions") or [],
            # ablation files at the benchmark's small size, the protocol's size on CPU
            "describe": Size(**{**asdict(common.SIZES["small"]), "generator": generator,
                                "iters": int(iters)}).describe(), "sources": []})
        section["sources"].append(spec)
        for name, by_seed in runs.items():
            twice = sorted(set(section["runs"].get(name, {})) & set(by_seed), key=int)
            if twice:
                raise SystemExit(f"fair: {name} seed(s) {', '.join(twice)} given twice ({spec})")
            section["runs"].setdefault(name, {}).update(by_seed)
    return sections


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--generators", default="synth,bodies", help="comma list of " + ", ".join(GENERATORS))
    parser.add_argument("--budgets", default="200", help="training iterations, comma list (each trains its own "
                                                         "runs, with its LR schedule scaled to it)")
    parser.add_argument("--extra", default="", help="more GaitBERT variants of benchmarks.ablation to judge")
    parser.add_argument("--reuse", action="store_true", help="reuse checkpoints whose config is identical")
    parser.add_argument("--runs", action="append", default=[],
                        help="GEN:ITERS=FILE[:VARIANT,...]: report from ablation results (repeat to join files)")
    parser.add_argument("--name", default="fair", help="result file name (NAME.md, NAME.json)")
    args = parser.parse_args(argv)
    extra = [n.strip() for n in args.extra.split(",") if n.strip()]
    unknown = [n for n in extra if n not in ablation.VARIANTS]
    if unknown:
        parser.error(f"--extra: unknown {unknown}; choose from {', '.join(ablation.VARIANTS)}")
    names = list(CORE) + [n for n in extra if n not in CORE]
    if args.runs:
        sections = load(args.runs)
        names += sorted({n for s in sections.values() for n in s["runs"]} - set(names))
    else:
        generators = [g.strip() for g in args.generators.split(",") if g.strip()]
        bad = [g for g in generators if g not in GENERATORS]
        if bad:
            parser.error(f"--generators: unknown {bad}; choose from {', '.join(GENERATORS)}")
        base = common.size_from_args(args)
        work = Path(args.workdir).resolve()
        sections = measure(common.opengait_root(args.opengait), base, work, generators,
                           [int(i) for i in args.budgets.split(",")], names, args.device, args.reuse)
    markdown = report(sections, names)
    results = Path(args.results).resolve() if args.results else common.RESULTS
    common.write_result(results, args.name, markdown, {"sections": sections},
                        None if args.runs else Path(args.workdir))
    say(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
