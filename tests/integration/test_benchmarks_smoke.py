"""The benchmark suite runs end to end at its smoke size (numbers meaningless, nothing timed), and the
robustness benchmark's in-process evaluation prints what OpenGait's own test phase prints."""
import json
import pathlib
import re
import subprocess
import sys

import pytest

#: OpenGait's evaluate_indoor_dataset logs each condition's per-view rank-1 array, then the means
PER_VIEW = re.compile(r"\b(NM|BG|CL)@R1: \[([^\]]*)\]")
MEANS = re.compile(r"\b(NM|BG|CL)@R1: ([0-9.]+)%")


@pytest.fixture(scope="module")
def smoke_run(opengait_root, tmp_path_factory):
    pytest.importorskip("matplotlib", reason="the benchmarks plot with matplotlib (pip install '.[bench]')")
    work = tmp_path_factory.mktemp("bench")
    repo = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "benchmarks.run_all", "--smoke", "--opengait", str(opengait_root),
                             "--workdir", str(work)], cwd=repo, capture_output=True, text=True)
    return work, result


def test_benchmarks_smoke(smoke_run):
    work, result = smoke_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = work / "results-smoke"
    summary = (results / "summary.md").read_text()
    assert "GaitBase" in summary and "GaitSet" in summary and "GaitBERT" in summary
    robust = (results / "robustness.md").read_text()
    for kind in ("drop", "rate", "short", "span", "occlude-top", "occlude-bottom", "occlude-side", "moving", "patch"):
        assert f"## {kind}\n" in robust and f"| {kind} |" in robust, kind  # its table, its overview row
    assert (results / "robustness.png").stat().st_size < 200_000


def _evaluator_output(log: pathlib.Path):
    """The first evaluation OpenGait's evaluator logged: per-view arrays and means of NM/BG/CL."""
    text = log.read_text()
    per_view = {}
    for cond, values in PER_VIEW.findall(text):
        per_view.setdefault(cond, values.split())
    means = {}
    for cond, value in MEANS.findall(text):
        means.setdefault(cond, value)
    return per_view, means


def test_in_process_clean_rank1_equals_launcher_test_phase(smoke_run):
    """Same checkpoint, clean data: the in-process evaluation (packed forwards, gallery embedded once) logs
    exactly the per-view and mean rank-1 that the launcher's test phase (OpenGait's main flow) logs."""
    work, result = smoke_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    robust = json.loads((work / "results-smoke" / "robustness.json").read_text())
    accuracy = json.loads((work / "results-smoke" / "accuracy.json").read_text())
    compared = 0
    for model, seeds in robust["runs"].items():
        for seed, run in seeds.items():
            launcher = accuracy["runs"][model][seed]["rank1"]
            assert {c: round(v, 2) for c, v in run["clean"].items()} == launcher, (model, seed)
            assert run["pack_check"]["max_rel_diff"] <= 1e-4, (model, seed, run["pack_check"])
            in_process = _evaluator_output(work / "logs" / f"robust-seed{seed}-{model}.log")
            assert in_process == _evaluator_output(work / "logs" / f"test-seed{seed}-{model}.log"), (model, seed)
            assert in_process[0], f"no per-view rank-1 in the logs of {model} seed {seed}"
            compared += 1
    assert compared == 3


def test_label_efficiency_benchmark_runs_every_arm_at_smoke_size(opengait_root, tmp_path):
    pytest.importorskip("matplotlib", reason="the benchmarks plot with matplotlib (pip install '.[bench]')")
    repo = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "benchmarks.label_efficiency", "--smoke", "--fractions", "100",
                             "--opengait", str(opengait_root), "--workdir", str(tmp_path)],
                            cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads((tmp_path / "results-smoke" / "label_efficiency.json").read_text())
    names = {"GaitBERT zero-shot", "GaitBERT fine-tuned 100%", "GaitBERT scratch 100%", "GaitBase-no-da scratch 100%"}
    assert set(data["runs"]) == names
    assert all(set(run["0"]["rank1"]) == {"NM", "BG", "CL"} for run in data["runs"].values())
    assert data["labelled_ids"] == {"100": 4} or data["labelled_ids"] == {100: 4}
    assert (tmp_path / "results-smoke" / "label_efficiency.png").is_file()
