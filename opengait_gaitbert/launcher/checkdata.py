"""``opengait-gaitbert check-data``: walk a dataset and partition, list every problem, exit.

OpenGait's pkl files are Python pickles: loading one can run code. Only check
data you trust; this command does not make untrusted files safe.
"""
from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import yaml

EPILOG = """examples:
  opengait-gaitbert check-data --root datasets/CASIA-B-pkl --partition datasets/CASIA-B/CASIA-B.json
  opengait-gaitbert check-data --cfgs configs/gaitbert/gaitbert_casiab.yaml
"""


@dataclass
class DataReport:
    sequences: int = 0
    problems: List[Tuple[str, str]] = field(default_factory=list)  # (path or id, reason)

    def summary(self) -> str:
        lines = [f"checked {self.sequences} pkl file(s): {len(self.problems)} problem(s)"]
        lines += [f"  {where}: {reason}" for where, reason in self.problems]
        return "\n".join(lines)


def check_pkl(path: Path, frame_size=(64, 64)) -> Optional[str]:
    """The problem with one OpenGait pkl, or None if it is a usable [T, 64, 64] uint8 sequence."""
    try:
        with open(path, "rb") as stream:
            data = pickle.load(stream)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as err:
        return f"unreadable ({type(err).__name__}: {err})"
    if not isinstance(data, np.ndarray):
        return f"holds a {type(data).__name__}, not a numpy array"
    if data.ndim != 3:
        return f"shape {data.shape}: expected [T, h, w]"
    if data.shape[0] == 0:
        return "empty sequence (0 frames)"
    if tuple(data.shape[1:]) != tuple(frame_size):
        return f"frames are {data.shape[1]}x{data.shape[2]}, expected {frame_size[0]}x{frame_size[1]}"
    if data.dtype != np.uint8:
        return f"dtype {data.dtype}, expected uint8 (0..255)"
    if not data.any():
        return "all frames are background (all zero)"
    return None


def check_dataset(root: Path, partition: Path) -> DataReport:
    """Check every pkl under ``root`` and that each partition id has data."""
    report = DataReport()
    try:
        split = json.loads(Path(partition).read_text())
    except (OSError, json.JSONDecodeError) as err:
        report.problems.append((str(partition), f"partition unreadable: {err}"))
        split = {}
    for key in ("TRAIN_SET", "TEST_SET"):
        if key not in split:
            report.problems.append((str(partition), f"no {key} list"))
    for pid in split.get("TRAIN_SET", []) + split.get("TEST_SET", []):
        if not list((root / str(pid)).glob("*/*/*.pkl")):
            report.problems.append((f"id {pid}", f"in the partition but no pkl under {root / str(pid)}"))
    for path in sorted(root.glob("*/*/*/*.pkl")):
        report.sequences += 1
        problem = check_pkl(path)
        if problem:
            report.problems.append((str(path), problem))
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--cfgs", help="read data_cfg.dataset_root / dataset_partition from this config")
    parser.add_argument("--root", help="dataset root: ROOT/<id>/<type>/<view>/*.pkl")
    parser.add_argument("--partition", help="partition JSON with TRAIN_SET / TEST_SET")


def main(args) -> int:
    root, partition = args.root, args.partition
    if args.cfgs:
        data = (yaml.safe_load(Path(args.cfgs).read_text()) or {}).get("data_cfg", {})
        root, partition = root or data.get("dataset_root"), partition or data.get("dataset_partition")
    if not root or not partition:
        print("check-data needs --root and --partition, or --cfgs with data_cfg.dataset_root/dataset_partition.")
        return 2
    if not Path(root).is_dir():
        print(f"dataset root {root} is not a folder.")
        return 2
    report = check_dataset(Path(root), Path(partition))
    print(report.summary())
    return 1 if report.problems else 0
