"""The safe loader under fuzzing: 10,000 hostile pickles over numpy's own globals (random opcode
streams, field-by-field array descriptions, mutated silhouette pkls), each loaded in a worker
process: no signal, no hang, no file written, every refusal a clear error naming the file.

The generators and the worker are ``benchmarks/pkl_fuzz.py``, which also runs the longer fuzz
(``benchmarks/results/pkl-fuzz.md``). The seed is fixed, so a finding here reproduces.
"""
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "pkl_fuzz.py"
_spec = importlib.util.spec_from_file_location("pkl_fuzz", SCRIPT)
pkl_fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pkl_fuzz)

CASES = 10_000


@pytest.mark.skipif(sys.platform == "win32", reason="the worker's memory limit needs the resource module (POSIX)")
def test_ten_thousand_hostile_pickles_are_each_loaded_or_refused_clearly():
    result = pkl_fuzz.fuzz(CASES, seed=0)
    assert result["cases"] == CASES and sum(result["outcomes"].values()) == CASES
    assert result["findings"] == [], pkl_fuzz.markdown({"date": "", "result": result, "machine": {
        "python": sys.version.split()[0], "numpy": "", "cpus": ""}})
    for name, counts in result["by_generator"].items():  # each generator reaches both outcomes
        assert counts["refused"] > 0 and counts["ok"] > 0, (name, counts)


def test_a_crashing_load_is_reported_with_its_case_and_the_rest_still_run(tmp_path, monkeypatch):
    """The harness itself: a worker that dies on one case is a finding for that case only."""
    crash = tmp_path / "crash.pkl"
    crash.write_bytes(b"\x80\x04.")
    good = tmp_path / "good.pkl"
    good.write_bytes(b"\x80\x04K\x07.")
    folder = tmp_path / "worker"
    folder.mkdir()
    monkeypatch.setenv("GAITBERT_FUZZ_CRASH_ON", str(crash))
    results = pkl_fuzz.run_batch([good, crash, good], folder)
    assert [r["outcome"] for r in results] == ["ok", "finding", "ok"]
    assert results[1]["kind"] == "signal" and "signal" in results[1]["detail"]
