"""Convert silhouette frames into OpenGait's pickled dataset layout.

OpenGait trains on ``ROOT/<id>/<type>/<view>/<anything>.pkl``, each pickle a
uint8 array ``[T, 64, 64]`` made by its ``datasets/pretreatment.py``.  This
module reproduces that per-frame alignment exactly (``align_silhouette``) so
that data converted here, and the synthetic data of ``synth.py`` which calls
the same function, look like OpenGait's own pretreated CASIA-B:

1. drop a frame whose pixel sum is <= 10000 (about 40 foreground pixels);
2. crop the rows to the body's top..bottom;
3. resize with ``cv2.INTER_CUBIC`` to height ``img_size``, keeping the aspect
   ratio (the width is ``int(img_size * W / h)`` of the full frame width W);
4. take as x-centre the first column where the cumulative column sum exceeds
   half the total (a median, robust to an outstretched arm or a bag);
5. keep ``img_size`` columns centred there, zero-padding both sides by
   ``img_size // 2`` when the window would leave the image.

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

Frames inside a folder are taken in natural order (``frame2`` before
``frame10``).  Pickles are read with :func:`.safe_pickle.load_pickle`, which
rebuilds arrays from their description and refuses anything else: a ``.pkl``
cannot run code.  Only regular files are read (a FIFO or device is refused from
its ``stat``), and an image or GIF that declares more than
:data:`MAX_FRAME_PIXELS` per frame (a decompression bomb) is refused from its
header, before anything is decoded.
"""
from __future__ import annotations

import difflib
import io
import json
import os
import pickle
import re
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from ..core.errors import EXIT_USER_ERROR, ConfigError, DataError, SequenceReadError
from ..progress import progress as show_progress
from .safe_pickle import load_pickle, regular_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
#: OpenGait drops a frame whose pixel sum (0/255 scale) is at most this.
EMPTY_FRAME_SUM = 10000
#: The most pixels one frame (an image, a GIF, a video frame) may declare: 2**25, e.g. 8192x4096.
#: More is a decompression bomb, or far beyond a silhouette (a few hundred pixels high).
MAX_FRAME_PIXELS = 1 << 25
#: The most pixels one sequence (an animated GIF's frames together) may decode to: 1 GiB of grey.
MAX_SEQUENCE_PIXELS = 1 << 30
#: Grey level above which a pixel is foreground.
DEFAULT_THRESHOLD = 127
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
# Per-frame alignment (OpenGait's pretreatment)
# --------------------------------------------------------------------------

def to_uint8(frame: np.ndarray) -> np.ndarray:
    """Bring a bool / integer / float frame onto the 0..255 uint8 scale.

    Bool -> {0, 255}; float with max <= 1 is taken as 0..1 and scaled by 255;
    anything else is rounded and clipped to 0..255.
    """
    arr = np.asarray(frame)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        if arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.rint(arr)
    return np.clip(arr, 0, 255).astype(np.uint8)


def binarize(frame: np.ndarray, threshold: int | None = DEFAULT_THRESHOLD) -> np.ndarray:
    """[H, W] any dtype -> [H, W] uint8 in {0, 255} (pixels > threshold are 255).

    With ``threshold=None`` the grey levels are kept (OpenGait's exact input).
    Thresholding a frame that is already 0/255 changes nothing.
    """
    img = to_uint8(frame)
    if threshold is None:
        return img
    return np.where(img > threshold, np.uint8(255), np.uint8(0))


def align_silhouette(frame: np.ndarray, img_size: int = 64,
                     threshold: int | None = DEFAULT_THRESHOLD) -> np.ndarray | None:
    """Align one silhouette frame the way OpenGait's pretreatment does.

    Args:
        frame: [H, W] silhouette, uint8 / bool / float (0..1 or 0..255).
        img_size: output height and width (OpenGait: 64).
        threshold: grey level above which a pixel is body; None keeps grey
            levels unchanged (bit-exact with OpenGait on grey input).

    Returns:
        [img_size, img_size] uint8, body height-normalised to the full height
        and centred on its median column; None for an empty frame (pixel sum
        <= 10000 on the 0/255 scale) or one without a centre.
    """
    img = np.asarray(frame)
    if img.ndim != 2:
        raise ValueError(f"align_silhouette expects one [H, W] frame, got shape {img.shape}")
    img = binarize(img, threshold)
    if int(img.sum(dtype=np.int64)) <= EMPTY_FRAME_SUM:
        return None

    rows = np.flatnonzero(img.any(axis=1))
    img = img[rows[0]: rows[-1] + 1, :]

    # The body is taller than wide, so its height sets the resize ratio.
    width = int(img_size * img.shape[1] / img.shape[0])
    if width < 1:
        return None
    img = cv2.resize(img, (width, img_size), interpolation=cv2.INTER_CUBIC)

    x_center = _median_column(img)
    # OpenGait tests `if not x_center`, so column 0 also counts as no centre.
    if not x_center:
        return None

    half = img_size // 2
    left = x_center - half
    right = left + img_size
    if left <= 0 or right >= img.shape[1]:
        pad = np.zeros((img.shape[0], half), dtype=np.uint8)
        img = np.concatenate([pad, img, pad], axis=1)
        left += half
        right += half
    return np.ascontiguousarray(img[:, left:right], dtype=np.uint8)


def _median_column(img: np.ndarray) -> int | None:
    """First column where the cumulative column sum exceeds half the total."""
    csum = img.sum(axis=0, dtype=np.int64).cumsum()
    above = csum > csum[-1] / 2
    return int(above.argmax()) if above.any() else None


def align_sequence(frames: Iterable[np.ndarray], img_size: int = 64,
                   threshold: int | None = DEFAULT_THRESHOLD) -> np.ndarray:
    """[T, H, W] (or an iterable of [H, W]) -> [T', img_size, img_size] uint8.

    Empty frames and frames without a centre are dropped, so T' <= T; T' may
    be 0.
    """
    aligned = [a for a in (align_silhouette(f, img_size, threshold) for f in frames)
               if a is not None]
    if not aligned:
        return np.zeros((0, img_size, img_size), dtype=np.uint8)
    return np.stack(aligned)


# --------------------------------------------------------------------------
# Reading frames and sequences
# --------------------------------------------------------------------------

def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: frame2 < frame10."""
    parts = re.split(r"(\d+)", name)
    # re.split with a group keeps digits at odd positions, so the tuple
    # alternates str/int at fixed positions and always compares cleanly.
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))


def list_frame_files(folder: Path) -> list[Path]:
    """Image files (png/jpg/jpeg/bmp) directly in `folder`, in natural order."""
    files = [p for p in Path(folder).iterdir()
             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


def check_frame_pixels(path, width: int, height: int, what: str = "frame") -> None:
    """Refuse a ``width`` x ``height`` frame over :data:`MAX_FRAME_PIXELS`, before it is decoded.

    Raises:
        SequenceReadError: naming ``path``, the size and the limit.
    """
    if width * height > MAX_FRAME_PIXELS:
        raise SequenceReadError(
            f"{path}: declares {width}x{height} pixels per {what} ({width * height}), over the limit of "
            f"{MAX_FRAME_PIXELS} (e.g. 8192x4096): a decompression bomb, or an image far larger than a "
            "silhouette frame; refused before decoding. Downscale it (silhouettes are a few hundred pixels high).")


def declared_size(head: bytes):
    """``(width, height, what)`` a PNG, GIF or BMP header declares (the first 26 bytes), else None."""
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and len(head) >= 24:
        return (*struct.unpack(">II", head[16:24]), "image")
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return (*struct.unpack("<HH", head[6:10]), "GIF frame")
    if head[:2] == b"BM" and len(head) >= 26:
        return (*(abs(n) for n in struct.unpack("<ii", head[18:26])), "image")
    return None


def image_header(data, path):
    """Pillow's lazily opened image of the encoded ``data`` (bytes, or a file path), its frame size
    checked (:func:`check_frame_pixels`) before anything is decoded; None if Pillow cannot identify it.

    Raises:
        SequenceReadError: the header declares too many pixels.
    """
    from PIL import Image
    if isinstance(data, (str, Path)):
        with open(data, "rb") as stream:
            head = stream.read(26)
    else:
        head = bytes(data[:26])
    declared = declared_size(head)
    if declared is not None:
        check_frame_pixels(path, *declared)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is lower
            image = Image.open(data if isinstance(data, (str, Path)) else io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise SequenceReadError(f"{path}: {exc}; refused before decoding.") from exc
    except (OSError, ValueError, EOFError):  # not an image Pillow knows: the decoder will say
        return None
    check_frame_pixels(path, *image.size, what="GIF frame" if image.format == "GIF" else "image")
    return image


def read_frame(path: str | Path) -> np.ndarray:
    """Read one image file as [H, W] uint8 grey.

    Raises:
        SequenceReadError: the file is missing or not a decodable image, or declares more than
            :data:`MAX_FRAME_PIXELS` pixels.
    """
    path = Path(path)
    try:
        # imdecode(fromfile) instead of imread: works with non-ASCII paths.
        data = np.fromfile(str(path), dtype=np.uint8)
        image_header(data, path)
        img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    except (OSError, cv2.error) as exc:
        raise SequenceReadError(f"{path}: cannot read image ({exc})") from exc
    if img is None or img.size == 0:
        raise SequenceReadError(f"{path}: not a decodable image (corrupt or empty file)")
    return img


def read_sequence(path: str | Path,
                  bad_frames: list[tuple[str, str]] | None = None) -> np.ndarray:
    """Read a silhouette sequence as [T, H, W] uint8.

    Args:
        path: a folder of PNG/JPG/BMP frames (natural order), an animated GIF
            (all frames, via Pillow), an OpenGait ``.pkl`` ([T, H, W] array)
            or a single image (T = 1).
        bad_frames: for a folder, a list that receives ``(path, reason)`` for
            each unreadable frame, which is then skipped. When None, any
            unreadable frame raises.

    Raises:
        SequenceReadError: missing path, unsupported suffix, no readable
            frame, frames of different sizes, or a malformed pickle.
    """
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, bad_frames)
    if not os.path.lexists(path):
        raise SequenceReadError(f"{path}: no such file or folder")
    regular_file(path)  # a FIFO or device is refused unopened: reading one blocks
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return _read_gif(path)
    if suffix == ".pkl":
        return _read_pkl(path)
    if suffix in IMAGE_SUFFIXES:
        return read_frame(path)[None]
    raise SequenceReadError(
        f"{path}: unsupported file type {suffix!r}; expected a folder of "
        f"{'/'.join(IMAGE_SUFFIXES)} frames, a .gif or an OpenGait .pkl"
    )


def _read_folder(folder: Path, bad_frames: list[tuple[str, str]] | None) -> np.ndarray:
    """Folder of frames -> [T, H, W]; see read_sequence."""
    files = list_frame_files(folder)
    if not files:
        raise SequenceReadError(f"{folder}: no {'/'.join(IMAGE_SUFFIXES)} frames in this folder")
    frames: list[np.ndarray] = []
    for file in files:
        try:
            img = read_frame(file)
            if frames and img.shape != frames[0].shape:
                raise SequenceReadError(
                    f"{file}: size {img.shape[0]}x{img.shape[1]} differs from the first "
                    f"frame's {frames[0].shape[0]}x{frames[0].shape[1]}")
        except SequenceReadError as exc:
            if bad_frames is None:
                raise
            bad_frames.append((str(file), _reason(exc, file)))
            continue
        frames.append(img)
    if not frames:
        raise SequenceReadError(f"{folder}: none of its {len(files)} frames could be read")
    return np.stack(frames)


def _read_gif(path: Path) -> np.ndarray:
    """Animated GIF -> [T, H, W] uint8 grey (Pillow, since OpenCV reads no GIF)."""
    try:
        from PIL import Image, ImageSequence
    except ImportError as exc:
        raise SequenceReadError(f"{path}: reading GIFs needs Pillow (pip install pillow)") from exc
    gif = image_header(path, path)
    if gif is None:
        raise SequenceReadError(f"{path}: not a readable GIF (Pillow cannot identify it)")
    frames = []
    try:
        with gif:
            for frame in ImageSequence.Iterator(gif):
                check_frame_pixels(path, *frame.size, what="GIF frame")  # a frame may outgrow the screen
                if (len(frames) + 1) * gif.size[0] * gif.size[1] > MAX_SEQUENCE_PIXELS:
                    raise SequenceReadError(
                        f"{path}: more than {len(frames)} frames of {gif.size[0]}x{gif.size[1]}, over the limit of "
                        f"{MAX_SEQUENCE_PIXELS} pixels for one sequence; refused. Cut it into shorter clips.")
                frames.append(np.array(frame.convert("L"), dtype=np.uint8))
    except Image.DecompressionBombError as exc:  # a frame declaring more than Pillow's own limit
        raise SequenceReadError(f"{path}: {exc}; refused before decoding.") from exc
    except (OSError, EOFError, ValueError) as exc:  # PIL.UnidentifiedImageError is an OSError
        raise SequenceReadError(f"{path}: not a readable GIF ({exc})") from exc
    if not frames:
        raise SequenceReadError(f"{path}: the GIF has no frames")
    return np.stack(frames)


def _read_pkl(path: Path) -> np.ndarray:
    """OpenGait pickle -> validated [T, H, W] uint8."""
    data = load_pickle(path)
    if not isinstance(data, np.ndarray):
        raise SequenceReadError(
            f"{path}: holds a {type(data).__name__}, expected a numpy array [T, H, W]")
    if data.ndim != 3 or 0 in data.shape:
        raise SequenceReadError(f"{path}: array shape {data.shape}, expected non-empty [T, H, W]")
    if data.dtype == np.uint8:
        return data
    numeric = data.dtype == bool or np.issubdtype(data.dtype, np.number)
    if not numeric or np.issubdtype(data.dtype, np.complexfloating):
        raise SequenceReadError(f"{path}: dtype {data.dtype} is not a silhouette dtype (uint8)")
    if data.dtype != bool and not np.isfinite(data).all():
        raise SequenceReadError(f"{path}: holds NaN or infinite values ({data.dtype}): not a silhouette; "
                                "re-create it from the source frames with `opengait-gaitbert pretreat`")
    if data.dtype != bool and (data.min() < 0 or data.max() > 255):
        raise SequenceReadError(
            f"{path}: values in [{data.min()}, {data.max()}] do not fit uint8 (0..255)")
    return to_uint8(data)


def _reason(exc: Exception, path: Path) -> str:
    """The message of `exc` without its leading 'path: ' (the report has the path)."""
    msg = str(exc)
    prefix = f"{path}: "
    return msg[len(prefix):] if msg.startswith(prefix) else msg


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
