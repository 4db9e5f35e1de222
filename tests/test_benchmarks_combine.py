"""benchmarks.combine: targets judged over runs joined from several ablation files, seed by seed.

Run as the README runs it (``python -m benchmarks.combine`` from the repository root): the
benchmarks are scripts beside the package, not part of the installed package.
"""
import json
import pathlib
import statistics
import subprocess
import sys

import pytest

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


def md_tables(text):
    """Every markdown table of ``text``, as a list of rows, each ``{header: cell text}``."""
    def cells(line):
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    lines, tables = text.splitlines(), []
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and set(lines[i + 1]) <= set("|-: ") and (i == 0 or not lines[i - 1].startswith("|")):
            header, body = cells(line), []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                body.append(dict(zip(header, cells(row))))
            tables.append(body)
    return tables


def mean_std(cell):
    """``"54.0 ± 5.7"`` -> ``(54.0, 5.7)``."""
    mean, std = cell.split("±")
    return float(mean), float(std)


def verdict(cell):
    """``"pass"`` -> ``("pass", 0.0)``; ``"**miss** by 3.0"`` -> ``("miss", 3.0)``."""
    words = cell.replace("*", "").split()
    return words[0], float(words[2]) if len(words) == 3 else 0.0


def stats(values):
    """Mean and sample standard deviation, as the report's ``mean ± std`` over seeds."""
    return pytest.approx((statistics.mean(values), statistics.stdev(values)), abs=0.051)  # printed to 0.1


def test_joins_seeds_over_files_and_pairs_them(tmp_path):
    first = write(tmp_path / "a.json", {"ours": {"0": run(50, 40)}, "base": {"0": run(60, 30)}})
    second = write(tmp_path / "b.json", {"shipped": {"3": run(58, 44)}, "base": {"3": run(54, 40)}})
    result = combine("--model", f"{first}:ours", "--model", f"{second}:shipped", "--reference", f"{first}:base",
                     "--reference", f"{second}:base", "--name", "joined", "--results", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((tmp_path / "out" / "joined.json").read_text())
    assert data["seeds"] == ["0", "3"]
    assert data["GaitBERT"] == {"clean": [50, 58], "side": [40, 44]}
    assert data["rank1_kept"]["GaitBERT"] == {"side": [10, 14]}
    targets, kept = md_tables((tmp_path / "out" / "joined.md").read_text())
    targets = {row["probe"]: row for row in targets}
    assert set(targets) == {"clean", "side (points lost)"}
    # clean rank-1 of seeds 0, 3: model 50, 58; reference 60, 54; paired gains -10, +4: mean -3, a miss by 3
    clean = targets["clean"]
    assert (mean_std(clean["GaitBERT"]), mean_std(clean["GaitBase"])) == (stats([50, 58]), stats([60, 54]))
    assert mean_std(clean["advantage"]) == stats([-10, 4])
    assert verdict(clean["target"]) == ("miss", pytest.approx(3.0))
    # points lost under the side occluder: model 40, 44; reference 30, 40; gains (reference − model) -10, -4
    side = targets["side (points lost)"]
    assert (mean_std(side["GaitBERT"]), mean_std(side["GaitBase"])) == (stats([40, 44]), stats([30, 40]))
    assert mean_std(side["advantage"]) == stats([-10, -4])
    assert verdict(side["target"]) == ("miss", pytest.approx(7.0))
    # rank-1 kept under the side occluder: model 10, 14; reference 30, 14; model − reference -20, 0
    assert [row["probe"] for row in kept] == ["side"]
    assert [mean_std(kept[0][column]) for column in ("GaitBERT", "GaitBase", "advantage")] == \
        [stats([10, 14]), stats([30, 14]), stats([-20, 0])]


def test_a_model_ahead_on_every_seed_passes(tmp_path):
    runs = write(tmp_path / "a.json", {"ours": {"0": run(70, 10), "1": run(66, 12)},
                                       "base": {"0": run(60, 30), "1": run(62, 20)}})
    result = combine("--model", f"{runs}:ours", "--reference", f"{runs}:base", "--name", "ahead",
                     "--results", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    targets = {row["probe"]: row for row in md_tables((tmp_path / "out" / "ahead.md").read_text())[0]}
    assert verdict(targets["clean"]["target"]) == ("pass", 0.0)  # gains +10, +4
    assert verdict(targets["side (points lost)"]["target"]) == ("pass", 0.0)  # loses 20 and 8 fewer points
    assert mean_std(targets["side (points lost)"]["advantage"]) == stats([20, 8])


def test_a_seed_given_twice_or_a_missing_variant_is_an_error(tmp_path):
    first = write(tmp_path / "a.json", {"ours": {"0": run(50)}})
    twice = combine("--model", f"{first}:ours", "--model", f"{first}:ours", "--reference", f"{first}:ours")
    assert twice.returncode != 0 and "seed(s) 0 given twice" in twice.stderr
    missing = combine("--model", f"{first}:theirs", "--reference", f"{first}:ours")
    assert missing.returncode != 0 and "has no variant 'theirs'" in missing.stderr
