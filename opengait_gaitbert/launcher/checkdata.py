"""``opengait-gaitbert check-data``: walk a dataset and partition, list every problem, exit.

OpenGait's pkl files are Python pickles: loading one can run code. Only check
data you trust; this command does not make untrusted files safe.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..compat import read_yaml
from ..core.errors import EXIT_USER_ERROR, ConfigError, SequenceReadError
from ..data.pretreat import load_pickle

EPILOG = """examples:
  opengait-gaitbert check-data --root datasets/CASIA-B-pkl --partition datasets/CASIA-B/CASIA-B.json
  opengait-gaitbert check-data --cfgs configs/gaitbert/gaitbert_casiab.yaml
  opengait-gaitbert check-data --cfgs my_sustech1k.yaml   # checks only the files data_cfg.data_in_use selects
"""
RAW_FRAME_SIZE = (64, 64)  # OpenGait's pretreatment writes square frames, 64 pixels unless --img_size


@dataclass
class DataReport:
    sequences: int = 0
    problems: List[Tuple[str, str]] = field(default_factory=list)  # (path or id, reason)

    def summary(self) -> str:
        lines = [f"checked {self.sequences} pkl file(s): {len(self.problems)} problem(s)"]
        lines += [f"  {where}: {reason}" for where, reason in self.problems]
        return "\n".join(lines)


def check_pkl(path: Path, frame_size=(64, 64)) -> Optional[str]:
    """The problem with one OpenGait pkl, or None if it is a usable [T, 64, 64] uint8 sequence.

    A file that cannot be unpickled, whatever it raises, is a problem to list, never a crash.
    """
    try:
        data = load_pickle(path)
    except SequenceReadError as err:
        return f"unreadable ({err.__cause__.__class__.__name__}: {err.__cause__})"
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


def selected_files(names: List[str], data_in_use: Optional[Sequence] = None) -> List[str]:
    """The files of one sequence folder that OpenGait reads: sorted by name, then filtered by
    ``data_cfg.data_in_use`` (a mask of booleans, or positions), as its ``data/dataset.py`` does."""
    names = sorted(names)
    if data_in_use is None:
        return names
    if all(isinstance(use, bool) for use in data_in_use):
        return [name for name, use in zip(names, data_in_use) if use]
    return [names[i] for i in data_in_use if i < len(names)]


def check_dataset(root: Path, partition: Path, data_in_use: Optional[Sequence] = None,
                  frame_size=RAW_FRAME_SIZE) -> DataReport:
    """Check every file OpenGait will read under ``root`` and that each partition id has data.

    Args:
        data_in_use: ``data_cfg.data_in_use``: only the files it selects in each sequence
            folder are read, as by OpenGait (SUSTech1K holds 16 modalities per folder).
        frame_size: the pkl frames' expected ``(H, W)``.
    """
    report = DataReport()
    try:
        split = json.loads(Path(partition).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        report.problems.append((str(partition), f"partition unreadable: {err}"))
        split = {}
    if not isinstance(split, dict):
        report.problems.append((str(partition), f"holds a {type(split).__name__}, expected "
                                '{"TRAIN_SET": [...], "TEST_SET": [...]}'))
        split = {}
    ids = []
    for key in ("TRAIN_SET", "TEST_SET"):
        if not isinstance(split.get(key), list):
            found = "missing" if key not in split else f"a {type(split[key]).__name__}"
            report.problems.append((str(partition), f"no {key} list ({found})"))
        else:
            ids += split[key]
    for pid in ids:
        if not list((root / str(pid)).glob("*/*/*.pkl")):
            report.problems.append((f"id {pid}", f"in the partition but no pkl under {root / str(pid)}"))
    for folder in sorted(p for p in root.glob("*/*/*") if p.is_dir()):
        for name in selected_files([entry.name for entry in folder.iterdir()], data_in_use):
            report.sequences += 1
            path = folder / name
            problem = (check_pkl(path, frame_size) if name.endswith(".pkl") else
                       "not a .pkl file: OpenGait's loader reads only .pkl (remove it, or leave it out "
                       "with data_cfg.data_in_use)")
            if problem:
                report.problems.append((str(path), problem))
    return report


def add_arguments(parser) -> None:
    parser.add_argument("--cfgs", help="read data_cfg.dataset_root / dataset_partition / data_in_use from this "
                                       "config (and, for GaitBERT, the pkl frame size from model_cfg.frame_size)")
    parser.add_argument("--root", help="dataset root: ROOT/<id>/<type>/<view>/*.pkl")
    parser.add_argument("--partition", help="partition JSON with TRAIN_SET / TEST_SET")
    parser.add_argument("--data-in-use", help="positions of the files to check in each sequence folder, as "
                                              "data_cfg.data_in_use, e.g. 6 for SUSTech1K's silhouettes "
                                              "(default: every file, or the --cfgs value)")


def main(args) -> int:
    """Check, print the report; 0 when clean, ``EXIT_USER_ERROR`` when it lists problems.

    Raises:
        ConfigError: no dataset given, an unreadable ``--cfgs``, or a root that is not a folder.
    """
    root, partition = args.root, args.partition
    data_in_use, frame_size = None, RAW_FRAME_SIZE
    if args.cfgs:
        cfgs = read_yaml(args.cfgs)
        data = cfgs.get("data_cfg") or {}
        if not isinstance(data, dict):
            raise ConfigError(f"--cfgs {args.cfgs}: data_cfg is a {type(data).__name__}; check one dataset "
                              "at a time with --root and --partition.")
        root, partition = root or data.get("dataset_root"), partition or data.get("dataset_partition")
        data_in_use = data.get("data_in_use")
        model = cfgs.get("model_cfg") or {}
        if model.get("model") == "GaitBERT" and isinstance(model.get("frame_size"), list):
            # Transforms keep the height and the pkl frames are square (see core/frames.py).
            frame_size = (model["frame_size"][0],) * 2
    if getattr(args, "data_in_use", None):
        try:
            data_in_use = [int(i) for i in args.data_in_use.split(",")]
        except ValueError:
            raise ConfigError(f"--data-in-use {args.data_in_use!r}: expected comma-separated file positions, "
                              "e.g. 6") from None
    if not root or not partition:
        raise ConfigError("check-data needs --root and --partition, or --cfgs with "
                          "data_cfg.dataset_root and data_cfg.dataset_partition.")
    if not Path(root).is_dir():
        raise ConfigError(f"dataset root {root} is not a folder; pass --root (or data_cfg.dataset_root "
                          "in --cfgs) as the folder holding <id>/<type>/<view>/*.pkl.")
    report = check_dataset(Path(root), Path(partition), data_in_use, frame_size)
    print(report.summary())
    return EXIT_USER_ERROR if report.problems else 0
