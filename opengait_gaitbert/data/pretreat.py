"""``opengait-gaitbert pretreat``: convert silhouette frames into OpenGait's pickled dataset layout.

OpenGait trains on ``ROOT/<id>/<type>/<view>/<anything>.pkl``, each pickle a
uint8 array ``[T, 64, 64]`` made by its ``datasets/pretreatment.py``.  Each
frame is read (:mod:`.readers`) and aligned exactly as that script aligns it
(:func:`.alignment.align_silhouette`).

Two input layouts are understood by :func:`pretreat`:

``casiab``
    ``IN/<id>/<type>/<view>/*.png`` (CASIA-B's silhouette release), written to
    ``OUT/<id>/<type>/<view>/<view>.pkl``.
``frames``
    ``IN/train/<id>/frame*.png`` and ``IN/test/<id>/frame*.png``: one sequence
    per id, e.g. a custom recording.  Each is written to
    ``OUT/<id>/nm-01/000/000.pkl`` (type ``nm-01``, view ``000``: a single
    normal-walking condition and a single camera) and ``OUT/partition.json``
    gets ``TRAIN_SET``/``TEST_SET`` from the split folders.  An id found in
    both splits is reported as an error; its train/ copy is kept.  Note that
    OpenGait's CASIA-B evaluator excludes identical-view pairs, so such
    single-view data cannot be scored with that evaluator as it is.
"""
from __future__ import annotations

import difflib
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import EXIT_USER_ERROR, ConfigError, DataError, SequenceReadError
from ..progress import progress as show_progress
from .alignment import align_silhouette
from .readers import IMAGE_SUFFIXES, _reason, list_frame_files, natural_key, read_frame

# Public before the split (alignment, image limits and readers lived here): still importable from here.
from .alignment import DEFAULT_THRESHOLD, EMPTY_FRAME_SUM, align_sequence, binarize, to_uint8  # noqa: F401
from .image_limits import MAX_FRAME_PIXELS, MAX_SEQUENCE_PIXELS, check_frame_pixels, declared_size, image_header  # noqa: F401
from .readers import read_sequence  # noqa: F401

LAYOUTS = ("casiab", "frames")
#: Type and view given to every sequence of the ``frames`` layout.
FRAMES_TYPE = "nm-01"
FRAMES_VIEW = "000"
#: Split folder of the ``frames`` layout -> key of the partition JSON.
SPLITS = {"train": "TRAIN_SET", "test": "TEST_SET"}
_LAYOUT_HELP = (
    "casiab (IN/<id>/<type>/<view>/*.png) or "
    "frames (IN/train/<id>/*.png and IN/test/<id>/*.png)"
)


# --------------------------------------------------------------------------
# Whole-dataset conversion
# --------------------------------------------------------------------------

@dataclass
class PretreatReport:
    """What :func:`pretreat` wrote and every problem it met.

    Problem lists hold ``(path, reason)`` pairs.  A too-short sequence (fewer
    than ``min_frames`` valid frames) is *not* written: OpenGait's samplers
    draw fixed-length clips and the evaluator would see a near-empty probe;
    pass ``min_frames=1`` to keep every non-empty sequence.
    """

    layout: str
    in_dir: Path
    out_dir: Path
    min_frames: int = 5
    written: list[Path] = field(default_factory=list)
    frames_written: int = 0
    #: Readable frames dropped as empty / without a centre (OpenGait drops them too).
    frames_dropped: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)
    too_short: list[tuple[str, str]] = field(default_factory=list)
    #: Anything else: an id in both train/ and test/, a failed write.
    errors: list[tuple[str, str]] = field(default_factory=list)
    partition_path: Path | None = None

    @property
    def sequences_written(self) -> int:
        """Number of .pkl sequences written."""
        return len(self.written)

    @property
    def problems(self) -> list[tuple[str, str, str]]:
        """All problems as (kind, path, reason)."""
        kinds = (("unreadable", self.unreadable), ("empty", self.empty),
                 ("too short", self.too_short), ("error", self.errors))
        return [(kind, path, reason) for kind, items in kinds for path, reason in items]

    def summary(self) -> str:
        """A readable table of counts, followed by one line per problem."""
        counts = [
            ("sequences written", self.sequences_written),
            ("frames written", self.frames_written),
            ("empty frames dropped", self.frames_dropped),
            ("unreadable files (skipped)", len(self.unreadable)),
            ("empty sequences (skipped)", len(self.empty)),
            (f"too-short sequences (< {self.min_frames} frames, skipped)", len(self.too_short)),
            ("other errors", len(self.errors)),
        ]
        width = max(len(label) for label, _ in counts)
        lines = [f"Pretreatment ({self.layout}): {self.in_dir} -> {self.out_dir}"]
        lines += [f"  {label:<{width}}  {value:>7}" for label, value in counts]
        if self.partition_path is not None:
            lines.append(f"  partition: {self.partition_path}")
        problems = self.problems
        if problems:
            kind_w = max(len(k) for k, _, _ in problems)
            path_w = max(len(p) for _, p, _ in problems)
            lines.append("Problems:")
            lines.append(f"  {'kind':<{kind_w}}  {'path':<{path_w}}  reason")
            lines += [f"  {k:<{kind_w}}  {p:<{path_w}}  {r}" for k, p, r in problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Job:
    """One sequence to convert: its frame folder and output key."""

    folder: Path
    sid: str
    seq_type: str
    view: str
    split: str | None = None


def pretreat(layout: str, in_dir: str | Path, out_dir: str | Path, img_size: int = 64,
             min_frames: int = 5, progress: bool = True) -> PretreatReport:
    """Convert a folder of silhouette frames into OpenGait's .pkl layout.

    Args:
        layout: ``"casiab"`` or ``"frames"`` (see the module docstring).
        in_dir: input root.
        out_dir: output root; created if needed, existing files are overwritten.
        img_size: aligned frame size (OpenGait: 64).
        min_frames: a sequence with fewer valid frames is reported and skipped.
        progress: show progress on stderr (a bar on a terminal, plain lines in a log).

    Returns:
        The report. One bad file or sequence never stops the run: it is
        recorded in the report and the rest is converted.

    Raises:
        ConfigError: unknown layout, bad img_size/min_frames.
        DataError: an input folder that is missing, empty or not in the layout's shape.
    """
    _check_arguments(layout, img_size, min_frames)
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    _check_input_dir(in_dir)
    report = PretreatReport(layout=layout, in_dir=in_dir, out_dir=out_dir, min_frames=min_frames)
    jobs = _casiab_jobs(in_dir) if layout == "casiab" else _frames_jobs(in_dir, report)

    splits: dict[str, list[str]] = {split: [] for split in SPLITS}
    for job in show_progress(jobs, "Pretreating", "seq", enabled=progress):
        if _convert(job, out_dir, img_size, min_frames, report) and job.split:
            splits[job.split].append(job.sid)

    if layout == "frames":
        report.partition_path = _write_partition(out_dir, splits, report)
    return report


def _check_arguments(layout: str, img_size: int, min_frames: int) -> None:
    """Raise ConfigError for an unknown layout or impossible sizes."""
    if layout not in LAYOUTS:
        match = difflib.get_close_matches(str(layout), LAYOUTS, n=1)
        hint = f" Did you mean {match[0]!r}?" if match else ""
        raise ConfigError(f"unknown layout {layout!r}.{hint} Use {_LAYOUT_HELP}.")
    if not isinstance(img_size, int) or img_size < 2:
        raise ConfigError(f"img_size={img_size!r} must be an integer >= 2 (OpenGait uses 64)")
    if not isinstance(min_frames, int) or min_frames < 1:
        raise ConfigError(f"min_frames={min_frames!r} must be an integer >= 1")


def _check_input_dir(in_dir: Path) -> None:
    """Raise DataError unless `in_dir` is an existing, non-empty folder."""
    if not in_dir.exists():
        raise DataError(f"input directory {in_dir} does not exist; pass the folder that "
                        f"holds the dataset, laid out as {_LAYOUT_HELP}")
    if not in_dir.is_dir():
        raise DataError(f"input {in_dir} is a file, not a directory; pass its parent folder "
                        f"laid out as {_LAYOUT_HELP}")
    if not any(in_dir.iterdir()):
        raise DataError(f"input directory {in_dir} is empty; expected {_LAYOUT_HELP}")


def _subdirs(folder: Path) -> list[Path]:
    """Sub-folders of `folder` in natural order."""
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))


def _casiab_jobs(in_dir: Path) -> list[_Job]:
    """One job per IN/<id>/<type>/<view>/ folder."""
    jobs = [_Job(view_dir, id_dir.name, type_dir.name, view_dir.name)
            for id_dir in _subdirs(in_dir)
            for type_dir in _subdirs(id_dir)
            for view_dir in _subdirs(type_dir)]
    if not jobs:
        hint = (" It has train/ or test/ folders: did you mean --layout frames?"
                if any((in_dir / s).is_dir() for s in SPLITS) else "")
        raise DataError(f"{in_dir}: no <id>/<type>/<view>/ folders found; the casiab layout "
                        f"expects IN/<id>/<type>/<view>/*.png.{hint}")
    return jobs


def _frames_jobs(in_dir: Path, report: PretreatReport) -> list[_Job]:
    """One job per IN/{train,test}/<id>/ folder; an id in both splits is an error."""
    split_dirs = {split: in_dir / split for split in SPLITS if (in_dir / split).is_dir()}
    if not split_dirs:
        raise DataError(f"{in_dir}: no train/ or test/ folder; the frames layout expects "
                        f"IN/train/<id>/*.png and/or IN/test/<id>/*.png")
    jobs: list[_Job] = []
    seen: dict[str, str] = {}
    for split, split_dir in split_dirs.items():
        for id_dir in _subdirs(split_dir):
            if id_dir.name in seen:
                # Both copies would map to the same OUT/<id>/nm-01/000 file and the
                # partition would stop being disjoint, so the first split wins.
                report.errors.append((str(id_dir), f"id {id_dir.name} is also in "
                                      f"{seen[id_dir.name]}/; kept that copy, skipped this one"))
                continue
            seen[id_dir.name] = split
            jobs.append(_Job(id_dir, id_dir.name, FRAMES_TYPE, FRAMES_VIEW, split))
    if not jobs:
        raise DataError(f"{in_dir}: train/ and test/ hold no <id>/ folders; the frames layout "
                        f"expects IN/train/<id>/*.png and/or IN/test/<id>/*.png")
    return jobs


def _convert(job: _Job, out_dir: Path, img_size: int, min_frames: int,
             report: PretreatReport) -> bool:
    """Read, align and write one sequence; record problems. True if written."""
    files = list_frame_files(job.folder)
    if not files:
        report.empty.append((str(job.folder), f"no {'/'.join(IMAGE_SUFFIXES)} frames"))
        return False

    aligned: list[np.ndarray] = []
    n_read = 0
    for file in files:
        try:
            frame = read_frame(file)
        except SequenceReadError as exc:
            report.unreadable.append((str(file), _reason(exc, file)))
            continue
        n_read += 1
        out = align_silhouette(frame, img_size)
        if out is not None:
            aligned.append(out)
    report.frames_dropped += n_read - len(aligned)

    if not aligned:
        reason = (f"none of its {len(files)} frames could be read" if n_read == 0
                  else f"no frame with a silhouette ({n_read} empty frames)")
        report.empty.append((str(job.folder), reason))
        return False
    if len(aligned) < min_frames:
        report.too_short.append((str(job.folder), f"{len(aligned)} valid frames "
                                 f"< min_frames={min_frames}; not written"))
        return False

    dst = out_dir / job.sid / job.seq_type / job.view / f"{job.view}.pkl"
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        with open(dst, "wb") as fh:
            pickle.dump(np.stack(aligned), fh)
    except OSError as exc:
        report.errors.append((str(dst), f"cannot write: {exc}"))
        return False
    report.written.append(dst)
    report.frames_written += len(aligned)
    return True


def _write_partition(out_dir: Path, splits: dict[str, list[str]],
                     report: PretreatReport) -> Path | None:
    """Write OUT/partition.json from the ids written per split."""
    partition = {SPLITS[split]: sorted(ids, key=natural_key) for split, ids in splits.items()}
    path = out_dir / "partition.json"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(partition, indent=2) + "\n")
    except OSError as exc:
        report.errors.append((str(path), f"cannot write the partition: {exc}"))
        return None
    return path


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

def add_arguments(parser) -> None:
    """Add ``--layout IN OUT [--img-size] [--min-frames] [--no-progress]`` to an argparse parser."""
    parser.add_argument("--layout", required=True, choices=LAYOUTS,
                        help="casiab: IN/<id>/<type>/<view>/*.png; frames: IN/{train,test}/<id>/"
                             "*.png, one sequence per id, written as type nm-01 view 000 "
                             "with OUT/partition.json")
    parser.add_argument("in_dir", help="input root folder")
    parser.add_argument("out_dir", help="output root folder (OpenGait dataset_root)")
    parser.add_argument("--img-size", type=int, default=64,
                        help="aligned frame size in pixels (default: 64)")
    parser.add_argument("--min-frames", type=int, default=5,
                        help="skip (and report) sequences with fewer valid frames (default: 5)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args) -> int:
    """Run :func:`pretreat` from parsed arguments and print its summary.

    Returns:
        0 if at least one sequence was written, else ``EXIT_USER_ERROR`` (the
        data held nothing usable; the summary says why).
    Raises:
        ConfigError, DataError: bad arguments or input folder (the CLI prints them).
    """
    report = pretreat(args.layout, args.in_dir, args.out_dir, img_size=args.img_size,
                      min_frames=args.min_frames, progress=not getattr(args, "no_progress", False))
    print(report.summary())
    return 0 if report.sequences_written else EXIT_USER_ERROR
