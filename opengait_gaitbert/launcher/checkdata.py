"""``opengait-gaitbert check-data``: walk a dataset and partition, list every problem, exit.

OpenGait's pkl files are Python pickles, and unpickling can run code. This
command reads each file with the safe loader (:func:`..data.safe_pickle.load_pickle`):
nothing in a file runs, arrays are rebuilt from their description, and a file
that names anything but numpy arrays, describes an array no plain numeric array
has, is over the size limit, or is no regular file (a FIFO, a device, a link out
of the dataset root) is listed, not loaded. The rest are checked for dtype,
shape, frame size, values and empty frames. One bad file never stops the walk.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..compat import read_yaml
from ..core.errors import EXIT_USER_ERROR, ConfigError, DataError, SequenceReadError, UnsafePickleError
from ..data.safe_pickle import check_pickle, load_pickle, regular_file
from ..progress import progress as show_progress
from .paths import resolved_against

EPILOG = """examples:
  opengait-gaitbert check-data --root datasets/CASIA-B-pkl --partition datasets/CASIA-B/CASIA-B.json
  opengait-gaitbert check-data --cfgs configs/gaitbert/gaitbert_casiab.yaml
  opengait-gaitbert check-data --cfgs my_sustech1k.yaml   # checks only the files data_cfg.data_in_use selects
  opengait-gaitbert check-data --cfgs my.yaml --json > report.json   # a summary a script can read
"""
RAW_FRAME_SIZE = (64, 64)  # OpenGait's pretreatment writes square frames, 64 pixels unless --img_size
REMAKE = "re-create it from its frames with `opengait-gaitbert pretreat` (or OpenGait's datasets/pretreatment.py)"


@dataclass
class DataReport:
    """Every problem found; ``problems`` holds ``(path or id, reason)``, ``kinds`` the kind of each."""
    sequences: int = 0
    problems: List[Tuple[str, str]] = field(default_factory=list)
    kinds: List[str] = field(default_factory=list)

    def add(self, where, kind: str, reason: str) -> None:
        self.problems.append((str(where), reason))
        self.kinds.append(kind)

    def summary(self) -> str:
        lines = [f"checked {self.sequences} pkl file(s): {len(self.problems)} problem(s)"]
        lines += [f"  {where}: {reason}" for where, reason in self.problems]
        return "\n".join(lines)

    def as_json(self, root, partition) -> dict:
        """What ``--json`` prints: counts per kind, then each problem."""
        return {"root": str(root), "partition": str(partition), "files_checked": self.sequences,
                "problem_count": len(self.problems), "ok": not self.problems,
                "kinds": dict(sorted(Counter(self.kinds).items())),
                "problems": [{"where": where, "kind": kind, "reason": reason}
                             for (where, reason), kind in zip(self.problems, self.kinds)]}


def check_pkl(path: Path, frame_size=RAW_FRAME_SIZE, root: Optional[Path] = None) -> Optional[Tuple[str, str]]:
    """``(kind, reason)`` of the problem with one OpenGait pkl, or None if it is a usable
    ``[T, H, W]`` uint8 sequence with ``(H, W) == frame_size``, T >= 2 and foreground in every frame.

    The file is read with the safe loader (``root``: the dataset root its links must stay in):
    nothing in it runs, and a refused file is listed, not loaded. A file that cannot be read,
    whatever it raises, is a problem to list, never a crash.
    """
    try:
        data = load_pickle(path, root=root)
    except UnsafePickleError as err:
        if err.global_name:
            return "unsafe", (f"refused, not loaded: the pickle names `{err.global_name}`, which a silhouette "
                              f"pkl never needs, and loading it could run code. Delete it and {REMAKE}")
        reason = str(err).split(": refused to unpickle: ", 1)[-1].split(";", 1)[0]
        return "unsafe", f"refused, not loaded: {reason}; numpy would crash or run code on it. Delete it and {REMAKE}"
    except SequenceReadError as err:
        if getattr(err, "reason", None):  # a damaged pickle
            return "unreadable", f"unreadable ({err.reason}): copy it again from its source, or {REMAKE}"
        text = str(err)  # not a regular file, a link out of the root, over the size limit: its own fix
        return "unreadable", text[len(f"{path}: "):] if text.startswith(f"{path}: ") else text
    if not isinstance(data, np.ndarray):
        return "not-array", f"holds a {type(data).__name__}, not a numpy array; {REMAKE}"
    if data.ndim != 3:
        return "shape", f"shape {data.shape}: expected [T, h, w] (one sequence of 2-D frames); {REMAKE}"
    if data.shape[0] < 2:
        what = "empty sequence (0 frames)" if data.shape[0] == 0 else "a single frame (1 frame)"
        return "frames", f"{what}: a gait sequence needs frames over time; remove it or {REMAKE}"
    if tuple(data.shape[1:]) != tuple(frame_size):
        return "frame-size", (f"frames are {data.shape[1]}x{data.shape[2]}, expected {frame_size[0]}x"
                              f"{frame_size[1]} (the config's frame size); {REMAKE} at that size")
    if data.dtype != np.uint8:
        nan = " and holds NaN or infinite values" if data.dtype.kind in "fc" and not np.isfinite(data).all() else ""
        return "dtype", f"dtype {data.dtype}{nan}, expected uint8 (0..255); {REMAKE}"
    # Foreground per frame: OpenGait's pretreatment drops empty frames, so one here is damage.
    empty = int((data.reshape(len(data), -1).max(axis=1) == 0).sum())
    if empty == len(data):
        return "background", f"all frames are background (all zero); remove it or {REMAKE}"
    if empty:
        return "background", f"{empty} of {len(data)} frames are background (all zero); {REMAKE}"
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


def _entries(folder: Path, report: DataReport, only=None) -> Iterator[os.DirEntry]:
    """The entries of ``folder`` (those named in ``only``, if given), sorted; a symlink loop or an
    unreadable folder is listed, not raised."""
    try:
        with os.scandir(folder) as it:
            entries = sorted((e for e in it if only is None or e.name in only), key=lambda entry: entry.name)
    except OSError as err:
        report.add(folder, "unreadable-folder", f"cannot be listed ({err.strerror or err}); fix the permissions, "
                   "or remove it if it is a symbolic link loop")
        return
    for entry in entries:
        if entry.is_symlink():
            try:
                Path(entry.path).resolve(strict=True)
            except (OSError, RuntimeError) as err:  # RuntimeError: a loop, before Python 3.13
                report.add(entry.path, "link", f"a broken symbolic link or a symbolic link loop ({err}); "
                           "remove it or point it at real data")
                continue
        yield entry


def _sequence_folders(root: Path, report: DataReport) -> Iterator[Path]:
    """``root/<id>/<type>/<view>`` folders, as OpenGait's DataSet lists them."""
    for pid in _entries(root, report):
        if pid.is_dir():
            yield from _sequence_folders_of(Path(pid.path), report)


def _sequence_folders_of(id_folder: Path, report: DataReport) -> Iterator[Path]:
    """``<id>/<type>/<view>`` folders of one id."""
    for typ in _entries(id_folder, report):
        if not typ.is_dir():
            continue
        for view in _entries(Path(typ.path), report):
            if view.is_dir():
                yield Path(view.path)


def read_partition(partition: Path, report: DataReport) -> List[str]:
    """The ids of the partition JSON's TRAIN_SET and TEST_SET; each flaw is listed in ``report``."""
    fix = 'expected {"TRAIN_SET": ["001", ...], "TEST_SET": [...]} (write one with `opengait-gaitbert partition`)'
    try:
        split = json.loads(Path(regular_file(partition)).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SequenceReadError) as err:
        report.add(partition, "partition", f"partition unreadable: {err}; {fix}")
        return []
    if not isinstance(split, dict):
        report.add(partition, "partition", f"holds a {type(split).__name__}, {fix}")
        return []
    ids = []
    for key in ("TRAIN_SET", "TEST_SET"):
        if not isinstance(split.get(key), list):
            found = "missing" if key not in split else f"a {type(split[key]).__name__}"
            report.add(partition, "partition", f"no {key} list ({found}); {fix}")
        else:
            ids += [str(pid) for pid in split[key]]
    return ids


def check_dataset(root: Path, partition: Path, data_in_use: Optional[Sequence] = None,
                  frame_size=RAW_FRAME_SIZE, progress: bool = False) -> DataReport:
    """Check every file OpenGait will read under ``root`` and that each partition id has data.

    Args:
        data_in_use: ``data_cfg.data_in_use``: only the files it selects in each sequence
            folder are read, as by OpenGait (SUSTech1K holds 16 modalities per folder).
        frame_size: the pkl frames' expected ``(H, W)``.
        progress: show progress over the files on stderr.
    """
    report = DataReport()
    ids = read_partition(partition, report)
    files, with_files = [], set()
    for folder in _sequence_folders(root, report):
        names = [entry.name for entry in _entries(folder, report)]
        chosen = selected_files(names, data_in_use)
        if chosen:
            with_files.add(folder.relative_to(root).parts[0])
        files += [folder / name for name in chosen]
    for pid in ids:
        if pid not in with_files:
            where = "no such folder" if not (root / pid).is_dir() else "no sequence files under it"
            report.add(f"id {pid}", "missing-id", f"in the partition but {where} ({root / pid}); add its data "
                       "or remove the id from the partition JSON")
    for path in show_progress(files, "check-data", "file", enabled=progress):
        report.sequences += 1
        problem = (check_pkl(path, frame_size, root) if path.name.endswith(".pkl") else
                   ("not-pkl", "not a .pkl file: OpenGait's loader reads only .pkl (remove it, or leave it out "
                               "with data_cfg.data_in_use)"))
        if problem:
            report.add(path, *problem)
    return report


def run_files(cfgs: dict, phase: str, workdir: Path) -> List[Path]:
    """The pkl files a ``phase`` run of ``cfgs`` will read, as OpenGait's DataSet lists them: the
    partition's TRAIN_SET ids (train; TEST_SET too with ``trainer_cfg.with_test``) or TEST_SET ids
    (test) under each ``data_cfg``'s ``dataset_root``, filtered by its ``data_in_use``.
    A dataset whose root or partition cannot be read adds none (the preflight reports it)."""
    return [path for _, path in run_files_with_roots(cfgs, phase, workdir)]


def run_files_with_roots(cfgs: dict, phase: str, workdir: Path) -> List[Tuple[Path, Path]]:
    """``(dataset root, file)`` of each file of :func:`run_files`."""
    training = phase == "train"
    sets = ["TRAIN_SET"] * training + ["TEST_SET"] * (not training or bool(
        (cfgs.get("trainer_cfg") or {}).get("with_test")))
    data_cfgs = cfgs.get("data_cfg")
    files, report = [], DataReport()
    for data in data_cfgs if isinstance(data_cfgs, list) else [data_cfgs or {}]:
        if not isinstance(data, dict) or not data.get("dataset_root") or not data.get("dataset_partition"):
            continue
        root = workdir / str(data["dataset_root"])
        try:
            split = json.loads(Path(regular_file(workdir / str(data["dataset_partition"]))).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, SequenceReadError):
            continue
        if not isinstance(split, dict) or not root.is_dir():
            continue
        wanted = {str(pid) for key in sets if isinstance(split.get(key), list) for pid in split[key]}
        try:
            present = set(os.listdir(root))
        except OSError:
            continue
        # Only the partition's ids: OpenGait never descends into the others.
        for pid in _entries(root, report, only=wanted & present):
            if not pid.is_dir():
                continue
            for folder in _sequence_folders_of(Path(pid.path), report):
                names = [entry.name for entry in _entries(folder, report)]
                files += [(root, folder / name) for name in selected_files(names, data.get("data_in_use"))
                          if name.endswith(".pkl")]
    if report.problems:  # a link loop or an unreadable folder: OpenGait's listing would fail on it
        where, reason = report.problems[0]
        raise DataError(f"{where}: {reason}. Check the whole tree with `opengait-gaitbert check-data --cfgs "
                        "<config>`.")
    return files


def refuse_unsafe_files(cfgs: dict, phase: str, workdir: Path, source: str) -> int:
    """Before a run starts: check every pkl it will load as the safe loader reads it, without
    reading the frames (:func:`..data.safe_pickle.check_pickle`), and refuse the run if any file
    names more than numpy arrays, describes an unsafe array, is no complete pickle, is over the
    size limit, or is no regular file inside its dataset root.

    Returns the number of files checked.

    Raises:
        UnsafePickleError / SequenceReadError (DataErrors): naming the first such file, how
            many there are, and the way on (check-data, or ``--trust-data``).
    """
    files = run_files_with_roots(cfgs, phase, workdir)
    bad = []
    for root, path in show_progress(files, "checking pkl files", "file", enabled=len(files) >= 2000):
        try:
            check_pickle(path, root=root)
        except SequenceReadError as err:  # UnsafePickleError included
            bad.append(err)
    if bad:
        first = bad[0]
        more = f" ({len(bad)} such files in all.)" if len(bad) > 1 else ""
        first.args = (f"{first}{more} List them all with `opengait-gaitbert check-data --cfgs {source}`.",)
        raise first
    return len(files)


def add_arguments(parser) -> None:
    parser.add_argument("--cfgs", help="read data_cfg.dataset_root / dataset_partition / data_in_use from this "
                                       "config (and, for GaitBERT, the pkl frame size from model_cfg.frame_size)")
    parser.add_argument("--root", help="dataset root: ROOT/<id>/<type>/<view>/*.pkl")
    parser.add_argument("--partition", help="partition JSON with TRAIN_SET / TEST_SET")
    parser.add_argument("--data-in-use", help="positions of the files to check in each sequence folder, as "
                                              "data_cfg.data_in_use, e.g. 6 for SUSTech1K's silhouettes "
                                              "(default: every file, or the --cfgs value)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON summary (counts per kind of problem, then each problem) instead of text")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


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
    _check_relative_paths(args, root, partition)
    if not Path(root).is_dir():
        raise ConfigError(f"dataset root {root} is not a folder; pass --root (or data_cfg.dataset_root "
                          "in --cfgs) as the folder holding <id>/<type>/<view>/*.pkl.")
    report = check_dataset(Path(root), Path(partition), data_in_use, frame_size,
                           progress=not getattr(args, "no_progress", False))
    print(json.dumps(report.as_json(root, partition), indent=1) if getattr(args, "json", False)
          else report.summary())
    return EXIT_USER_ERROR if report.problems else 0


def _check_relative_paths(args, root, partition) -> None:
    """A relative root or partition that is not there: ConfigError saying it was resolved against the
    current directory (as OpenGait resolves it), and how to point at the right folder."""
    for value, flag, key in ((root, "--root", "dataset_root"), (partition, "--partition", "dataset_partition")):
        if Path(value).is_absolute() or Path(value).exists():
            continue
        from_cfgs = not getattr(args, flag[2:], None)
        named = f"--cfgs {args.cfgs}: data_cfg.{key} = {value}" if from_cfgs else f"{flag} {value}"
        note = resolved_against(value, Path.cwd(), "the current directory",
                                [Path(args.cfgs).parent] if args.cfgs else [])
        raise ConfigError(f"{named}: not found. {note} Run check-data from the folder the path is relative to "
                          "(an OpenGait config's: the OpenGait clone; a demo's: its --workdir), or pass an absolute "
                          f"path with {flag}{f' (it overrides data_cfg.{key})' if from_cfgs else ''}.")
