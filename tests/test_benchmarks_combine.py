"""benchmarks.combine: targets judged over runs joined from several ablation files, seed by seed.

Run as the README runs it (``python -m benchmarks.combine`` from the repository root): the
benchmarks are scripts beside the package, not part of the installed package.
"""
import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]


def run(clean, lost=None):
    """One seed's run: launcher rank-1 ``clean`` for NM/BG/CL; with ``lost``, its in-process
    robustness (clean ``clean``, ``side`` ``lost`` points lower)."""
    out = {"rank1": {"NM": clean, "BG": clean, "CL": clean}}
    if lost is not None:
        out["robust"] = {"clean": out["rank1"], "conditions": {"side": {c: clean - lost for c in ("NM", "BG", "CL")}}}
    return out


def write(path, runs):
    path.write_text(json.dumps({"runs": runs}))
    return str(path)


def combine(*args):
    return subprocess.run([sys.executable, "-m", "benchmarks.combine", *args], cwd=REPO,
                          capture_output=True, text=True)


def test_joins_seeds_over_files_and_pairs_them(tmp_path):
    first = write(tmp_path / "a.json", {"ours": {"0": run(50, 40)}, "base": {"0": run(60, 30)}})
    second = write(tmp_path / "b.json", {"shipped": {"3": run(58, 44)}, "base": {"3": run(54, 40)}})
    result = combine("--model", f"{first}:ours", "--model", f"{second}:shipped", "--reference", f"{first}:base",
                     "--reference", f"{second}:base", "--name", "joined", "--results", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((tmp_path / "out" / "joined.json").read_text())
    assert data["seeds"] == ["0", "3"]
    assert data["GaitBERT"] == {"clean": [50, 58], "side": [40, 44]}
    table = (tmp_path / "out" / "joined.md").read_text()
    # clean: gains -10, +4 -> -3, a miss; side: GaitBase lost 30, 40 against 40, 44 -> gains -10, -4, miss by 7
    assert "| clean | 54.0 ± 5.7 | 57.0 ± 4.2 | -3.0 ± 9.9 | **miss** by 3.0 |" in table
    assert "| side (points lost) | 42.0 ± 2.8 | 35.0 ± 7.1 | -7.0 ± 4.2 | **miss** by 7.0 |" in table
    # rank-1 kept under the side occluder: 10, 14 against 30, 14 -> model − reference -20, 0
    assert data["rank1_kept"]["GaitBERT"] == {"side": [10, 14]}
    assert "| side | 12.0 ± 2.8 | 22.0 ± 11.3 | -10.0 ± 14.1 |" in table


def test_a_seed_given_twice_or_a_missing_variant_is_an_error(tmp_path):
    first = write(tmp_path / "a.json", {"ours": {"0": run(50)}})
    twice = combine("--model", f"{first}:ours", "--model", f"{first}:ours", "--reference", f"{first}:ours")
    assert twice.returncode != 0 and "seed(s) 0 given twice" in twice.stderr
    missing = combine("--model", f"{first}:theirs", "--reference", f"{first}:ours")
    assert missing.returncode != 0 and "has no variant 'theirs'" in missing.stderr
