"""benchmarks.converged and its report: learning curves from OpenGait's log, label shares, the statistics,
and the report from run files.

Run in a subprocess from the repository root, as the README runs the benchmarks: they are scripts
beside the package, not part of the installed package.
"""
import json
import math
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def probe(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def report_of(folder: pathlib.Path, generator: str, clean: dict, conditions: dict, step_times=None) -> dict:
    """converged.json of the report on run files with these clean rank-1 per arm and seed (the same at
    every test of the curve), each corruption kind's rank-1 ``conditions[kind](arm, clean)``."""
    runs = folder / "runs"
    runs.mkdir()
    for arm, values in clean.items():
        for seed, value in enumerate(values):
            point = {"NM": value, "BG": value, "CL": value}
            run = {"arm": arm, "generator": generator, "seed": seed, "iters": 1200,
                   "curve": [{"iter": 300 * (i + 1), **point} for i in range(4)], "clean": point,
                   "conditions": {kind: {k: f(arm, v) for k, v in point.items()} for kind, f in conditions.items()}}
            (runs / f"{generator}-seed{seed}-{arm}.json").write_text(json.dumps(run))
    return probe(f"""
import json, pathlib
from benchmarks import converged_report
converged_report.report(pathlib.Path({str(folder)!r}), {step_times!r})
print(json.dumps(json.loads(pathlib.Path({str(folder / "converged.json")!r}).read_text())))""")


def test_the_learning_curve_is_every_test_table_of_the_log_in_order():
    log = ["[INFO]: Iteration 00150, Cost 8.8s, triplet_loss=0.2",
           "[INFO]: NM@R1: [77.81 90.31 94.38]",  # the per-view line is not a test's mean
           "[INFO]: NM@R1: 89.09%\tBG@R1: 81.73%\tCL@R1: 82.81%\t",
           "[INFO]: NM@R1: 95.60%\tBG@R1: 89.92%\tCL@R1: 89.32%\t"]
    out = probe(f"""
import json
from benchmarks.converged import learning_curve
print(json.dumps(learning_curve({log!r}, 300)))""")
    assert out == [{"iter": 300, "NM": 89.09, "BG": 81.73, "CL": 82.81},
                   {"iter": 600, "NM": 95.6, "BG": 89.92, "CL": 89.32}]


def test_interval_is_students_t_and_a_curve_levels_off_within_the_seeds_spread():
    out = probe("""
import json
from benchmarks.converged_report import at_steps, interval, levelled_off
run = lambda *ys: {"curve": [{"iter": 300 * (i + 1), "NM": y, "BG": y, "CL": y} for i, y in enumerate(ys)]}
flat = {s: run(50, 80 + s, 81 + s) for s in range(5)}     # +1 against a spread of 1.6: flat
rising = {s: run(50, 60 + s, 80 + s) for s in range(5)}   # +20: still climbing
print(json.dumps({"interval": interval([1.0, 2.0, 3.0, 4.0, 5.0]), "one": interval([2.0]),
                  "flat": levelled_off(flat)[0], "rising": levelled_off(rising)[0],
                  "at": [at_steps(run(50, 80, 90), s) for s in (300, 450, 900, 1200)], "before": at_steps(run(50, 80), 100)}))
""")
    mean, half = out["interval"]
    assert mean == 3.0 and half == pytest.approx(2.776445 * math.sqrt(2.5) / math.sqrt(5), rel=1e-5)
    assert out["one"][0] == 2.0 and math.isnan(out["one"][1])
    assert out["flat"] is True and out["rising"] is False
    assert out["at"] == [50.0, 65.0, 90.0, 90.0]  # linear between tests, the last value after the last one
    assert math.isnan(out["before"])  # before the first test nothing is known


def test_the_report_pairs_seeds_and_picks_the_better_gaitbase(tmp_path):
    """From run files alone: the comparisons are paired seed by seed over the seeds both arms ran, the
    better GaitBase by clean rank-1 is the reference, and a test-time arm is compared with the arm it tests."""
    clean = {"GaitBERT": [80, 82, 84, 70], "GaitBERT-supervised": [79, 80, 81, 80], "GaitBase": [60, 61, 62],
             "GaitBase-no-da": [78, 83, 79], "GaitBERT+completion": [81, 83, 85]}
    side = {"occlude-side-50": lambda arm, v: v - 15 if arm == "GaitBase" else v / 2}
    out = report_of(tmp_path, "synth", clean, side, {"GaitBERT": 0.2, "GaitBase": 0.1})
    synth = out["generators"]["synth"]
    assert synth["best_baseline"] == "GaitBase-no-da" and synth["seeds"] == [0, 1, 2, 3]
    assert synth["seeds_per_arm"]["GaitBERT"] == [0, 1, 2, 3] and synth["seeds_per_arm"]["GaitBase"] == [0, 1, 2]
    # GaitBase with its DA is the better one under the side occluder, without it clean
    assert synth["better_baseline_per_kind"] == {"clean": "GaitBase-no-da", "occlude-side-50": "GaitBase"}
    comparisons = synth["comparisons"]
    assert comparisons["GaitBERT - GaitBERT-supervised"]["clean"]["paired"] == [1, 2, 3, -10]  # a 4th seed
    assert comparisons["GaitBERT - the better GaitBase"]["clean"]["seeds"] == [0, 1, 2]  # no GaitBase on seed 3
    assert comparisons["GaitBERT - the better GaitBase"]["clean"]["paired"] == [2, -1, 5]
    assert comparisons["GaitBERT - the better GaitBase"]["occlude-side-50"]["paired"] == [-5, -5, -5]
    assert comparisons["GaitBERT+completion - GaitBERT"]["clean"]["paired"] == [1, 1, 1]
    markdown = (tmp_path / "converged.md").read_text()
    assert "| GaitBERT | 0.2 s |" not in markdown and "| GaitBERT | 200 ms | 600 |" in markdown  # equal time
    assert (tmp_path / "converged.png").stat().st_size > 0


def test_a_second_run_of_an_arm_counts_its_steps_after_the_first():
    """The two-config route's fine-tuning run tests itself after the pretraining run's steps."""
    out = probe("""
import json
from benchmarks.converged import learning_curve
print(json.dumps(learning_curve(["NM@R1: 50.00%\\tBG@R1: 40.00%\\tCL@R1: 30.00%"] * 2, 210, 360)))""")
    assert [p["iter"] for p in out] == [570, 780]


def test_label_shares_name_a_known_arm_and_train_on_the_first_ids(tmp_path):
    """``<arm>@<percent>``: only the arms that can train on fewer labels, at 1-99 %; its partition keeps the
    first ids (two at least, for a triplet's negative) and every test id; the two-config route fine-tunes
    for about 70 % of the steps from the checkpoint it is given, in a multiple of its tests' spacing."""
    data = tmp_path / "data32"
    data.mkdir()
    train, test = [f"{i:03d}" for i in range(1, 17)], [f"{i:03d}" for i in range(17, 33)]
    (data / "partition.json").write_text(json.dumps({"TRAIN_SET": train, "TEST_SET": test}))
    out = probe(f"""
import json, pathlib
from benchmarks import converged
data = pathlib.Path({str(data)!r})
shares = {{p: json.loads(converged.labelled_partition(data, p).read_text()) for p in (10, 25, 50)}}
cfg, _ = converged.arm_config("GaitBERT-two-config@10", None, converged.SIZE, data, "cpu", pathlib.Path("pre.pt"))
sup, _ = converged.arm_config("GaitBERT-supervised@25", None, converged.SIZE, data, "cpu")
print(json.dumps({{
    "shares": shares, "share": converged.labelled_share("GaitBase-no-da@25"), "all": converged.labelled_share("GaitBase"),
    "unknown": converged.unknown_arms(["GaitBase@25", "GaitBERT-two-config@10", "GaitBERT-two-config",
                                       "GaitBERT-two-config-scratch", "GaitBERT@25",
                                       "GaitBase@100", "GaitBase@0", "GaitBase@x", "nothing"]),
    "steps": [converged.finetune_steps(n) for n in (1200, 16, 800)],
    "tuned": [cfg["trainer_cfg"][k] for k in ("total_iter", "save_iter", "restore_hint")]
             + [cfg["model_cfg"]["class_num"], cfg["trainer_cfg"]["sampler"]["batch_size"], cfg["data_cfg"]["dataset_partition"]],
    "supervised": [sup["trainer_cfg"]["total_iter"], sup["model_cfg"]["class_num"],
                   sup["trainer_cfg"]["sampler"]["batch_size"]]}}))""")
    assert out["shares"]["25"] == {"TRAIN_SET": train[:4], "TEST_SET": test}
    assert out["shares"]["50"]["TRAIN_SET"] == train[:8] and out["shares"]["10"]["TRAIN_SET"] == train[:2]
    assert out["share"] == ["GaitBase-no-da", 25] and out["all"] == ["GaitBase", 100]
    assert out["unknown"] == ["GaitBERT@25", "GaitBase@100", "GaitBase@0", "GaitBase@x", "nothing"]
    assert out["steps"] == [840, 8, 560]
    # 2 labelled ids: P shrinks to them, K grows, the batch keeps 16 sequences
    assert out["tuned"] == [840, 210, "pre.pt", 2, [2, 8], str(data.parent / "data32-labels10.json")]
    assert out["supervised"] == [1200, 4, [4, 4]]


def test_berts_ablation_keeps_gaitbases_schedule_and_the_default_trains_its_own(tmp_path):
    """BERT's recipe and its ablation share GaitBase's schedule (one learning rate, milestones at a third,
    two thirds and five sixths); the two-config route's ablation trains gaitbert_casiab.yaml's own: the
    backbone at a tenth of the head's rate, the first decay at half the steps."""
    data = tmp_path / "data32"
    data.mkdir()
    ids = [f"{i:03d}" for i in range(1, 33)]
    (data / "partition.json").write_text(json.dumps({"TRAIN_SET": ids[:16], "TEST_SET": ids[16:]}))
    out = probe(f"""
import json, pathlib
from benchmarks import converged
data = pathlib.Path({str(data)!r})
cfgs = {{arm: converged.arm_config(arm, None, converged.SIZE, data, "cpu")[0]
        for arm in ("GaitBERT", "GaitBERT-supervised", "GaitBERT-two-config-scratch")}}
print(json.dumps({{arm: [cfg["model_cfg"].get("part_lr") or {{}}, cfg["scheduler_cfg"]["milestones"]]
                  for arm, cfg in cfgs.items()}}))""")
    assert out["GaitBERT-supervised"] == [{}, [400, 800, 1000]]
    assert out["GaitBERT"][0] == {} and min(out["GaitBERT"][1]) > 360  # after its pretraining phase
    assert out["GaitBERT-two-config-scratch"] == [{"frame_embedding": 0.01, "encoder": 0.01, "temporal": 0.01},
                                                  [600, 800, 1000]]


def test_the_report_compares_each_label_share_with_its_ablation_and_gaitbase_on_every_label(tmp_path):
    clean = {"GaitBERT": [80, 82, 84], "GaitBERT-two-config": [81, 84, 83], "GaitBERT-two-config@25": [70, 71, 72],
             "GaitBERT-supervised@25": [60, 65, 70], "GaitBase-no-da": [75, 75, 75],
             "GaitBERT-two-config-scratch@25": [72, 70, 73]}
    out = report_of(tmp_path, "bodies", clean, {"span-50": lambda arm, v: v})
    bodies = out["generators"]["bodies"]
    assert list(bodies["seeds_per_arm"]) == ["GaitBERT", "GaitBase-no-da", "GaitBERT-two-config",
                                             "GaitBERT-supervised@25", "GaitBERT-two-config-scratch@25",
                                             "GaitBERT-two-config@25"]
    comparisons = bodies["comparisons"]
    assert comparisons["GaitBERT - GaitBERT-two-config"]["clean"]["paired"] == [-1, -2, 1]
    assert comparisons["GaitBERT-two-config@25 - GaitBERT-supervised@25"]["clean"]["paired"] == [10, 6, 2]
    assert comparisons["GaitBERT-two-config@25 - GaitBase-no-da"]["clean"]["paired"] == [-5, -4, -3]
    assert comparisons["GaitBERT-supervised@25 - GaitBase-no-da"]["clean"]["paired"] == [-15, -10, -5]
    # the route's own schedule from random weights, at the same share: what the pretraining adds
    assert comparisons["GaitBERT-two-config@25 - GaitBERT-two-config-scratch@25"]["clean"]["paired"] == [-2, 1, -1]
    assert comparisons["GaitBERT-two-config-scratch@25 - GaitBase-no-da"]["clean"]["paired"] == [-3, -5, -2]
    assert comparisons["GaitBERT-two-config-scratch@25 - GaitBERT-supervised@25"]["clean"]["paired"] == [12, 5, 3]
    assert "GaitBERT-two-config@25 - GaitBase-no-da@25" not in comparisons  # that arm did not run
