"""What the safe pkl loader costs against plain ``pickle.load``, on a few thousand files.

Writes ``benchmarks/results/pkl-loading.md`` and ``.json``. Two trees of uint8
``[T, 64, 64]`` silhouette sequences, pickled as OpenGait's pretreatment does
(``pickle.dump``, the default protocol):

* ``casiab``: T uniform in 20..100 (CASIA-B's pretreated sequences hold about that);
* ``short``: T = 5, where the fixed cost per file weighs most.

Each round reads every file of a tree once per way, the ways taking turns file
by file, from the page cache (a first, untimed pass warms it). A way's time is
the CPU time of this process (the machine may be busy with other work), its
median over rounds; the ratio is safe / plain. The ways:

* ``plain``: ``pickle.load`` (OpenGait's ``DataSet.__loader__``);
* ``safe``: :func:`opengait_gaitbert.data.safe_pickle.load_pickle` (every pkl this
  package or OpenGait's DataSet loads, when installed): the array rebuilt from its
  description, never by numpy's unpickling;
* ``check``: :func:`opengait_gaitbert.data.safe_pickle.check_pickle`, the check
  before loading that ``train``/``test`` run once per file: every check of ``safe``,
  without reading the frames.

Usage::

    nice -n 15 python benchmarks/pkl_loading.py                 # 3000 files per tree, 7 rounds
    python benchmarks/pkl_loading.py --files 300 --rounds 3     # a quick look
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # python benchmarks/pkl_loading.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opengait_gaitbert.data.safe_pickle import check_pickle, load_pickle  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TREES = {"casiab": (20, 100), "short": (5, 5)}  # frames per sequence: (fewest, most)
LIMIT = 1.10  # the safe loader may cost at most 10 % more than plain pickle


def write_tree(root: Path, files: int, frames: tuple, seed: int = 0) -> list:
    """``files`` pkl files of uint8 [T, 64, 64] under ``root/<id>/nm-01/<view>/``; reused when present."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(files):
        path = root / f"{i // 110:03d}" / "nm-01" / f"{i % 110:03d}" / "000.pkl"
        paths.append(path)
        if path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        seq = np.zeros((int(rng.integers(frames[0], frames[1] + 1)), 64, 64), np.uint8)
        seq[:, 8:60, 22:42] = 255  # a plausible silhouette block; the content does not change the cost
        with open(path, "wb") as stream:
            pickle.dump(seq, stream)
    return paths


def plain(path):
    with open(path, "rb") as stream:
        return pickle.load(stream)


WAYS = {"plain": plain, "safe": load_pickle, "check": check_pickle}


def time_round(paths) -> dict:
    """CPU seconds of this process per way for one pass over ``paths``.

    The ways take turns file by file, so that a busy machine slows them alike; CPU time, not wall time, because the machine may
    be shared and the files are in the page cache (no I/O wait).
    """
    spent = dict.fromkeys(WAYS, 0.0)
    clock = time.process_time
    for i, path in enumerate(paths):
        # check reads a few kB, the loads the whole file: whichever load goes second finds
        # the file in the CPU's caches, so plain and safe go first on alternate files.
        for name in ("check", "plain", "safe") if i % 2 == 0 else ("check", "safe", "plain"):
            start = clock()
            WAYS[name](path)
            spent[name] += clock() - start
    return spent


def measure(paths, rounds: int) -> dict:
    """Median seconds per way over ``rounds`` rounds (after one untimed warm-up pass)."""
    time_round(paths)
    per_round = [time_round(paths) for _ in range(rounds)]
    return {name: {"median_s": statistics.median(r[name] for r in per_round),
                   "rounds_s": [r[name] for r in per_round]} for name in WAYS}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=3000, help="pkl files per tree (default 3000)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per way (default 7)")
    parser.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "gaitbert-pkl-bench"),
                        help="where the trees are written (kept for the next run)")
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="date written into the results")
    args = parser.parse_args(argv)

    trees = {}
    for name, frames in TREES.items():
        paths = write_tree(Path(args.work) / name, args.files, frames)
        megabytes = sum(p.stat().st_size for p in paths) / 2 ** 20
        print(f"{name}: {len(paths)} files, {megabytes:.0f} MiB; timing {args.rounds} rounds", flush=True)
        result = measure(paths, args.rounds)
        for way, values in result.items():
            values["per_file_us"] = 1e6 * values["median_s"] / len(paths)
        result_ratio = result["safe"]["median_s"] / result["plain"]["median_s"]
        paired = [safe / plain for safe, plain in zip(result["safe"]["rounds_s"], result["plain"]["rounds_s"])]
        trees[name] = {"files": len(paths), "frames": list(frames), "mib": round(megabytes, 1),
                       "ways": result, "safe_over_plain": result_ratio, "safe_over_plain_per_round": paired,
                       "check_over_plain": result["check"]["median_s"] / result["plain"]["median_s"]}
        print(f"  safe / plain = {result_ratio:.3f}, check / plain = {trees[name]['check_over_plain']:.3f}",
              flush=True)

    import numpy
    doc = {"date": args.date, "limit": LIMIT, "rounds": args.rounds,
           "machine": {"python": platform.python_version(), "numpy": numpy.__version__,
                       "cpus": os.cpu_count(), "platform": platform.platform()},
           "trees": trees, "within_limit": all(t["safe_over_plain"] <= LIMIT for t in trees.values())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pkl-loading.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "pkl-loading.md").write_text(markdown(doc))
    print(f"wrote {out / 'pkl-loading.md'} and .json")
    return 0


def markdown(doc: dict) -> str:
    machine = doc["machine"]
    lines = [
        f"# Safe pkl loading: cost against plain pickle ({doc['date']})",
        "",
        f"Written by `benchmarks/pkl_loading.py` on {doc['date']}: Python {machine['python']}, numpy "
        f"{machine['numpy']}, {machine['cpus']} CPUs ({machine['platform']}), files in the page cache, CPU time of the "
        f"reading process, the ways taking turns file by file, median of {doc['rounds']} rounds. "
        f"Limit: safe / plain at most {doc['limit']:.2f}.",
        "",
        "| tree | files | frames per file | MiB | plain µs/file | safe µs/file | check µs/file | safe / plain "
        "| check / plain |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, tree in doc["trees"].items():
        ways = tree["ways"]
        frames = tree["frames"]
        span = f"{frames[0]}" if frames[0] == frames[1] else f"{frames[0]}-{frames[1]}"
        lines.append(f"| {name} | {tree['files']} | {span} | {tree['mib']:.0f} | {ways['plain']['per_file_us']:.0f} "
                     f"| {ways['safe']['per_file_us']:.0f} | {ways['check']['per_file_us']:.0f} "
                     f"| {tree['safe_over_plain']:.3f} | {tree['check_over_plain']:.3f} |")
    verdict = "within" if doc["within_limit"] else "NOT within"
    lines += [""] + [
        f"Round by round ({name}), safe / plain: " + ", ".join(f"{r:.3f}" for r in tree["safe_over_plain_per_round"])
        + "." for name, tree in doc["trees"].items()]
    lines += [
        "",
        f"The safe loader is {verdict} the limit on every tree. It never runs numpy's unpickling: a file that is one "
        "pickled array as `pickle.dump` writes it (protocols 3 and 4) is recognised by its byte pattern, its "
        "description goes through the same checks as the loader's stack machine, and the frames are read "
        "straight into a new array (one copy, as plain pickle makes); a file of up to 64 kB is read at once. "
        "`check` is the check before loading (`train`/`test` once per file before the start): every check "
        "of the safe loader without reading the frames, so its cost does not grow with the sequence length "
        "(the short tree's files are read whole, being under 64 kB).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
