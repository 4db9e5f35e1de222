"""benchmarks.label_efficiency: the gains, and a quarter of the labels against GaitBase on all, paired by seed.

Run as the README runs it (``python -m benchmarks.label_efficiency`` from the repository root).
"""
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks import label_efficiency as le  # noqa: E402
from benchmarks.common import SIZES  # noqa: E402


def run(rank1):
    return {"rank1": {c: rank1 for c in ("NM", "BG", "CL")}}


def data(runs, fractions=(25, 100)):
    return {"runs": runs, "fractions": list(fractions), "labelled_ids": {25: 4, 100: 16}, "pool_ids": 32,
            "test_ids": 16, "chance": 6.25, "pretrain_iters": 150}


def test_gains_and_few_labels_against_all_are_paired_by_seed():
    runs = {"GaitBERT fine-tuned 25%": {"0": run(60), "1": run(50)},
            "GaitBERT scratch 25%": {"0": run(40), "1": run(44)},
            "GaitBase-no-da scratch 25%": {"0": run(50), "1": run(50)},
            "GaitBase-no-da scratch 100%": {"0": run(55), "1": run(54)}}
    summary = le.summarise(data(runs))
    assert summary["over GaitBase 25%"] == pytest.approx((5.0, 7.071), abs=1e-3)  # +10 and 0
    assert summary["gain 25%"] == pytest.approx((13.0, 9.899), abs=1e-3)  # +20 and +6
    assert summary[le.FEW_VS_ALL] == pytest.approx((0.5, 6.364), abs=1e-3)  # +5 and -4
    assert "gain 100%" not in summary  # fine-tuned 100 % did not run: no gain is made up


def test_report_marks_runs_that_did_not_run_and_the_few_labels_comparison(tmp_path):
    pytest.importorskip("matplotlib", reason="the report plots with matplotlib (pip install '.[bench]')")
    runs = {le.ZERO_SHOT: {"0": run(30)},
            "GaitBERT fine-tuned 25%": {"0": run(50)},
            "GaitBase-no-da scratch 100%": {"0": run(55)}}
    text = le.report(data(runs), SIZES["small"], tmp_path, tmp_path)
    assert "| 25 % (4 ids) | 50.0 ± 0.0 | not run | not run |  |  |" in text
    assert "minus GaitBase-no-da trained on all of them, paired by seed: -5.0 ± 0.0 (below)" in text
    assert (tmp_path / "label_efficiency.png").is_file()


def test_only_names_a_run_of_the_fractions_or_stops_naming_them():
    result = subprocess.run([sys.executable, "-m", "benchmarks.label_efficiency", "--fractions", "25",
                             "--only", "GaitBase scratch 25%"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    assert "--only 'GaitBase scratch 25%' is not a run of --fractions 25" in result.stderr
    assert "GaitBase-no-da scratch 25%" in result.stderr


def test_report_rebuilds_the_same_table_from_its_json(tmp_path):
    pytest.importorskip("matplotlib", reason="the report plots with matplotlib (pip install '.[bench]')")
    runs = {le.ZERO_SHOT: {"0": run(30), "1": run(32)},
            **{name: {"0": run(40 + i), "1": run(45 - i)} for i, name in enumerate(le.run_names([100, 25]))}}
    result = dict(data(runs, fractions=(100, 25)), iters=60, machine="a test machine")
    first = le.report(result, SIZES["small"], tmp_path / "a", None)
    rebuilt = subprocess.run([sys.executable, "-m", "benchmarks.label_efficiency", "--report",
                              str(tmp_path / "a" / "label_efficiency.json"), "--results", str(tmp_path / "b")],
                             cwd=REPO, capture_output=True, text=True)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert (tmp_path / "b" / "label_efficiency.md").read_text() == (tmp_path / "a" / "label_efficiency.md").read_text()
    assert first.index("| 25 % (4 ids)") < first.index("| 100 % (16 ids)")  # rows by fraction, whatever the run order
    assert "Then 60 iterations" in first and "Machine: a test machine." in first
