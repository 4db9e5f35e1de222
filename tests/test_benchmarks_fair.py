"""benchmarks.fair: the protocol's verdicts from ablation result files, paired by seed.

Run as the README runs it (``python -m benchmarks.fair`` from the repository root).
"""
import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def run(clean, side_kept):
    """One seed's run: rank-1 ``clean`` for NM/BG/CL (launcher and in-process alike), ``side_kept``
    under the side occluder."""
    rank1 = {c: clean for c in ("NM", "BG", "CL")}
    return {"rank1": rank1, "robust": {"clean": rank1, "conditions": {"side": {c: side_kept for c in rank1}}}}


def fair(*args):
    return subprocess.run([sys.executable, "-m", "benchmarks.fair", *args], cwd=REPO, capture_output=True, text=True)


def test_verdicts_against_the_ablation_and_the_better_gaitbase(tmp_path):
    runs = {
        "masked": {"0": run(60, 20), "1": run(70, 22), "2": run(65, 18)},
        "no-masked": {"0": run(55, 21), "1": run(60, 20), "2": run(62, 19)},
        "GaitBase": {"0": run(50, 30), "1": run(52, 30), "2": run(54, 30)},  # with DA: lower clean
        "GaitBase-no-da": {"0": run(62, 12), "1": run(64, 14), "2": run(60, 10)},
    }
    (tmp_path / "a.json").write_text(json.dumps({"runs": runs, "chance": 6.25, "conditions": ["side"]}))
    result = fair("--runs", f"synth:200={tmp_path / 'a.json'}", "--results", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "out" / "fair.md").read_text()
    # clean − ablation: 5, 10, 3 -> 6.0 ± 3.6: above its spread
    assert "| clean: − ablation (more than its spread) | 6.0 ± 3.6 | pass |" in table
    # side kept − ablation: -1, 2, -1 -> 0.0: not below, a pass
    assert "| side: rank-1 kept − ablation's | 0.0 ± 1.7 | pass |" in table
    # the better GaitBase by clean rank-1 is the one without DA (62 against 52)
    assert "best GaitBase (GaitBase-no-da)" in table
    assert "| clean: − GaitBase-no-da | 3.0 ± 4.4 | pass |" in table
    # points lost under side: ours 40, 48, 47; no-da's 50, 50, 50 -> 10, 2, 3 fewer: a pass
    assert "| side: GaitBase-no-da's points lost − ours | 5.0 ± 4.4 | pass |" in table
    # the ablation (the shipped default) is judged against the best GaitBase alone: 55-62, 60-64, 62-60
    block = table.split("`no-masked` against the best GaitBase (GaitBase-no-da), paired by seed (1 of 2")[1]
    assert "| clean: − GaitBase-no-da | -3.0 ± 4.6 | **miss** by 3.0 |" in block.split("\n\n")[1]
    assert "ablation" not in block.split("\n\n")[1]


def test_an_ablation_within_the_spread_is_a_miss_by_the_gap(tmp_path):
    runs = {name: {"0": run(c0, 10), "1": run(c1, 10), "2": run(c2, 10)} for name, (c0, c1, c2) in {
        "masked": (60, 50, 70), "no-masked": (58, 52, 66), "GaitBase": (40, 40, 40),
        "GaitBase-no-da": (30, 30, 30)}.items()}
    (tmp_path / "a.json").write_text(json.dumps({"runs": runs, "chance": 6.25, "conditions": ["side"]}))
    result = fair("--runs", f"bodies:300={tmp_path / 'a.json'}", "--results", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "out" / "fair.md").read_text()
    # 2, -2, 4 -> 1.3 ± 3.1: within the spread, a miss by 1.7
    assert "| clean: − ablation (more than its spread) | 1.3 ± 3.1 | **miss** by 1.7 |" in table
    assert "## bodies, 300 iterations" in table


def test_files_of_one_budget_join_by_variant_and_seed(tmp_path):
    """A reference trained earlier, bit for bit the same, joins the runs of a later file; a file
    written before 2026-12-06 names the masked recipe ``shipped``, renamed on loading."""
    later = {"shipped": {s: run(60, 20) for s in "012"}, "no-masked": {s: run(55, 20) for s in "012"},
             "GaitBase-no-da": {s: run(50, 20) for s in "012"}}
    earlier = {"GaitBase": {s: run(40, 20) for s in "012"}, "masked": {"0": run(1, 1)}}
    for name, runs in (("later", later), ("earlier", earlier)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"runs": runs, "chance": 6.25, "conditions": ["side"]}))
    renamed = f"synth:200={tmp_path / 'later.json'}:shipped=masked,no-masked,GaitBase-no-da"
    result = fair("--runs", renamed, "--runs", f"synth:200={tmp_path / 'earlier.json'}:GaitBase",
                  "--results", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "out" / "fair.md").read_text()
    assert "| clean rank-1 | 60.0 ± 0.0 | 55.0 ± 0.0 | 40.0 ± 0.0 | 50.0 ± 0.0 |" in table
    assert "| shipped |" not in table and "`masked` against its ablation" in table
    twice = fair("--runs", renamed, "--runs", f"synth:200={tmp_path / 'earlier.json'}")
    assert twice.returncode != 0 and "masked seed(s) 0 given twice" in twice.stderr


def test_a_baseline_run_on_fewer_seeds_is_shown_but_not_the_reference(tmp_path):
    runs = {"masked": {s: run(60, 20) for s in "012"}, "no-masked": {s: run(55, 20) for s in "012"},
            "GaitBase": {"0": run(70, 20)}, "GaitBase-no-da": {s: run(50, 20) for s in "012"}}
    (tmp_path / "a.json").write_text(json.dumps({"runs": runs, "chance": 6.25, "conditions": []}))
    result = fair("--runs", f"bodies:200={tmp_path / 'a.json'}", "--results", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "out" / "fair.md").read_text()
    assert "| 70.0 ± 0.0 (seed 0 only) |" in table and "best GaitBase (GaitBase-no-da)" in table


def test_a_bad_runs_spec_is_refused():
    result = fair("--runs", "mesh:200=x.json")
    assert result.returncode != 0 and "GEN:ITERS=FILE" in result.stderr


def test_a_variant_tested_clean_only_is_shown_as_not_measured_under_corruptions(tmp_path):
    runs = {"masked": {s: run(60, 20) for s in "012"}, "no-masked": {s: run(55, 20) for s in "012"},
            "GaitBase": {"0": {"rank1": {c: 70 for c in ("NM", "BG", "CL")}}},
            "GaitBase-no-da": {s: run(50, 20) for s in "012"}}
    (tmp_path / "a.json").write_text(json.dumps({"runs": runs, "chance": 6.25, "conditions": ["side"]}))
    result = fair("--runs", f"bodies:200={tmp_path / 'a.json'}", "--results", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "out" / "fair.md").read_text()
    assert "| side | 20.0 ± 0.0 | 20.0 ± 0.0 | not measured | 20.0 ± 0.0 |" in table
    clean_only = {**runs, "masked": {s: {"rank1": run(60, 20)["rank1"]} for s in "012"}}
    (tmp_path / "b.json").write_text(json.dumps({"runs": clean_only, "chance": 6.25, "conditions": ["side"]}))
    result = fair("--runs", f"bodies:200={tmp_path / 'b.json'}", "--results", str(tmp_path / "out2"))
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "out2" / "fair.md").read_text()
    assert "`masked` against its ablation and the best GaitBase (GaitBase-no-da), paired by seed (2 of 2" in table
