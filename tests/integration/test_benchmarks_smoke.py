"""The benchmark suite runs end to end at its smoke size (numbers meaningless, nothing timed)."""
import pathlib
import subprocess
import sys

import pytest


def test_benchmarks_smoke(opengait_root, tmp_path):
    pytest.importorskip("matplotlib", reason="the benchmarks plot with matplotlib (pip install '.[bench]')")
    repo = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "benchmarks.run_all", "--smoke", "--opengait", str(opengait_root),
                             "--workdir", str(tmp_path)], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = (tmp_path / "results-smoke" / "summary.md").read_text()
    assert "GaitBase" in summary and "GaitSet" in summary and "GaitBERT" in summary
