"""Run every benchmark (speed, accuracy, robustness) and check the targets.

    # small size, roughly 2 h on 2 idle CPU cores (3 seeds of 3 models + robustness)
    python -m benchmarks.run_all --opengait PATH
    python -m benchmarks.run_all --opengait PATH --full     # each model at full width (hours on CPU)
    python -m benchmarks.run_all --opengait PATH --smoke    # CI smoke test: a few minutes

Tables (markdown), plots (PNG) and raw numbers (JSON) go to ``benchmarks/results/``
(``results/full/`` for ``--full``; ``--smoke`` writes under the work dir, not into
the repository). Data, configs, checkpoints and logs go to ``--workdir``
(default ``$TMPDIR/gaitbert-bench``, outside the repository).

The speed benchmark runs first and alone (nothing else of this run competes for
the cores while it times); the accuracy runs then train and test the three
models, and the robustness stage evaluates their checkpoints in-process on
corrupted probes.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # python benchmarks/run_all.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import accuracy, common, robustness, speed  # noqa: E402
from benchmarks.common import Target, md_table, say  # noqa: E402

STAGES = ("speed", "accuracy", "robustness")


def _targets(rows) -> list:
    return [Target(**{k: r[k] for k in ("name", "value", "limit", "lower_is_better", "unit", "note")}) for r in rows]


def summary(size, root: Path, results: Path, datas: dict, walls: dict, total: float, work: Path) -> str:
    lines = [f"# Benchmark summary ({size.name} size)", "",
             f"{size.describe()}.", "", f"Widths: {common.width_summary(root, size)}.", "",
             f"Machine: {common.environment_line()}.", "",
             "Targets (GaitBERT against OpenGait's GaitBase at the same size; margins: positive = room left, "
             "negative = missed by):", ""]
    all_targets = []
    for stage in STAGES:
        if stage in datas:
            all_targets += _targets(datas[stage].get("targets", []))
    lines += [common.targets_table(all_targets), ""]
    passed = sum(t.passed for t in all_targets)
    lines += [f"{passed} of {len(all_targets)} targets pass.", "", "Wall time:", ""]
    lines += [md_table(["stage", "minutes"], [[s, f"{walls[s] / 60:.1f}"] for s in STAGES if s in walls]
                       + [["total", f"{total / 60:.1f}"]]), ""]
    lines += ["Details: " + ", ".join(f"[{s}]({s}.md)" for s in STAGES if s in datas) + ".", ""]
    markdown = "\n".join(lines)
    common.write_result(results, "summary", markdown,
                        {"size": size.name, "wall_s": walls | {"total": total},
                         "targets": [t.as_dict() for t in all_targets]},
                        work)
    return markdown, all_targets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_arguments(parser)
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse checkpoints of an earlier run whose config is identical")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per model while timing (default 1)")
    args = parser.parse_args(argv)
    size = common.size_from_args(args)
    root = common.opengait_root(args.opengait)
    work = Path(args.workdir).resolve()
    results = common.results_dir(args, size)
    stages = [s.strip() for s in args.only.split(",")] if args.only else list(STAGES)
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"--only: unknown stage(s) {sorted(unknown)}; choose from {', '.join(STAGES)}")

    say(f"[run_all] {size.describe()}")
    say(f"[run_all] OpenGait {root}; work dir {work}; results {results}")
    started = time.time()
    datas, walls = {}, {}
    if "speed" in stages:
        t = time.time()
        datas["speed"] = speed.run(root, size, work, results, args.threads)
        walls["speed"] = time.time() - t
    acc = None
    if "accuracy" in stages:
        t = time.time()
        acc = datas["accuracy"] = accuracy.run(root, size, work, results, args.device, args.reuse)
        walls["accuracy"] = time.time() - t
    if "robustness" in stages:
        t = time.time()
        datas["robustness"] = robustness.run(root, size, work, results, args.device, acc=acc,
                                             reuse=args.reuse or acc is None)
        walls["robustness"] = time.time() - t
    total = time.time() - started
    markdown, targets = summary(size, root, results, datas, walls, total, work)
    say("\n" + markdown)
    say("[run_all] targets:")
    common.print_targets(targets)
    say(f"[run_all] done in {total / 60:.1f} min; tables and plots in {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
