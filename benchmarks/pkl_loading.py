"""What the safe pkl loader costs against plain ``pickle.load``, on a few thousand files.

Writes ``benchmarks/results/pkl-loading.md`` and ``.json``. Two trees of uint8
``[T, 64, 64]`` silhouette sequences, pickled as OpenGait's pretreatment does
(``pickle.dump``, the default protocol):

* ``casiab``: T uniform in 20..100 (CASIA-B's pretreated sequences hold about that);
* ``short``: T = 5, where the fixed cost per file weighs most.

Each round reads every file of a tree once per way, in alternating order
(plain, safe, scan, then the reverse next round), from the page cache (a first,
untimed pass warms it). A way's time is the CPU time of this process (the
machine may be busy with other work), its median over rounds; the ratio is
safe / plain. The ways:

* ``plain``: ``pickle.load`` (OpenGait's ``DataSet.__loader__``);
* ``safe``: :func:`opengait_gaitbert.data.safe_pickle.load_pickle` (every pkl this
  package or OpenGait's DataSet loads, when installed);
* ``scan``: :func:`opengait_gaitbert.data.safe_pickle.check_globals`, the check
  before loading that ``train``/``test`` run once per file and ``check-data`` runs
  on each file: it reads only the opcodes and seeks over the frames.

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

from opengait_gaitbert.data.safe_pickle import check_globals, load_pickle  # noqa: E402

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


WAYS = {"plain": plain, "safe": load_pickle, "scan": check_globals}


def time_way(way, paths) -> float:
    """CPU seconds of this process to read ``paths`` one way: the machine may be shared, and
    CPU time is what the loader costs (the files are in the page cache, so there is no I/O wait)."""
    start = time.process_time()
    for path in paths:
        way(path)
    return time.process_time() - start


def measure(paths, rounds: int) -> dict:
    """Median seconds per way over ``rounds`` alternating rounds (after one untimed warm-up pass)."""
    for way in WAYS.values():
        time_way(way, paths)
    times = {name: [] for name in WAYS}
    order = list(WAYS)
    for r in range(rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            times[name].append(time_way(WAYS[name], paths))
    return {name: {"median_s": statistics.median(values), "rounds_s": values} for name, values in times.items()}


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
        trees[name] = {"files": len(paths), "frames": list(frames), "mib": round(megabytes, 1),
                       "ways": result, "safe_over_plain": result_ratio,
                       "scan_over_plain": result["scan"]["median_s"] / result["plain"]["median_s"]}
        print(f"  safe / plain = {result_ratio:.3f}, scan / plain = {trees[name]['scan_over_plain']:.3f}",
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
        f"reading process, median of {doc['rounds']} alternating rounds. Limit: safe / plain at most {doc['limit']:.2f}.",
        "",
        "| tree | files | frames per file | MiB | plain µs/file | safe µs/file | scan µs/file | safe / plain "
        "| scan / plain |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, tree in doc["trees"].items():
        ways = tree["ways"]
        frames = tree["frames"]
        span = f"{frames[0]}" if frames[0] == frames[1] else f"{frames[0]}-{frames[1]}"
        lines.append(f"| {name} | {tree['files']} | {span} | {tree['mib']:.0f} | {ways['plain']['per_file_us']:.0f} "
                     f"| {ways['safe']['per_file_us']:.0f} | {ways['scan']['per_file_us']:.0f} "
                     f"| {tree['safe_over_plain']:.3f} | {tree['scan_over_plain']:.3f} |")
    verdict = "within" if doc["within_limit"] else "NOT within"
    lines += [
        "",
        f"The safe loader is {verdict} the limit on every tree. It is Python's C unpickler with one Python call "
        "per global the file names (four for an array), so its cost per file is fixed and small. `scan` is the "
        "check before loading (`train`/`test` once per file before the start, `check-data` on each file): it "
        "reads the opcodes and seeks over the frames, so its cost does not grow with the sequence length.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
