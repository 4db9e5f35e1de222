"""Synthetic gait datasets in OpenGait's layout: CASIA-B's protocol, and OU-MVLP's, GREW's,
Gait3D's and SUSTech1K's folder names, partitions and files (see :mod:`.layouts`).

Generative model
----------------
Each id is a walker whose skeleton and gait are drawn once, and who may carry a bag
or wear a coat per type (:mod:`.synth_walkers`); its pose is computed analytically per
frame (:mod:`.synth_pose`) and drawn for a camera at the sequence's view, with pixel
noise (:mod:`.synth_render`). Per sequence (id, type, view) a further generator adds
nuisance, so two sequences of the same id, type and view differ.

Every frame then goes through :func:`.alignment.align_silhouette`, the same
code that converts real data, so the output is exactly what OpenGait's
pretreatment makes: uint8 ``[frames, 64, 64]`` (or ``--img-size 128``), body
height-normalised and centred.  Generators are keyed by (seed, id, type, view),
so a given sequence is bit-identical whatever subset of ids, types and views is
generated with it.

Other datasets (``--layout``) reuse the walkers: a layout only names the
folders, the partition and the files (:mod:`.layouts`). SUSTech1K's folders
hold 16 files; only the silhouettes are rendered walks, the LiDAR, pose, RGB and
ratio files are stand-ins of their shapes (:data:`MODALITY_STAND_INS`), so that
``data_cfg.data_in_use`` must pick the right one, as with the real data.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.errors import ConfigError
from ..progress import progress as show_progress
from .alignment import align_silhouette
from .layouts import CASIAB_TYPES, LAYOUTS, SILHOUETTES, SequenceSpec, covariate_of, get_layout
from .synth_render import render_sequence
from .synth_walkers import draw_condition, draw_nuisance, sample_identity

# Public before the split (walkers, pose and rendering lived here): still importable from here.
from .synth_pose import walker_pose  # noqa: F401
from .synth_render import BODY_PX, CANVAS, EDGE_FLIP_P, TOP_PX  # noqa: F401
from .synth_walkers import Condition, Identity, Nuisance, sample_condition, sample_nuisance  # noqa: F401

IMG_SIZE = 64         # aligned output size, as OpenGait (its pretreatment's --img_size)
IMG_SIZES = (64, 128)  # the sizes OpenGait's configs read (128: e.g. Gait3D-sils-128-128-pkl)


def synth_sequence(seed: int, id_num: int, seq_type: str, view: str | int,
                   frames: int = 40) -> np.ndarray:
    """One aligned CASIA-B sequence, [frames, 64, 64] uint8, exactly as `generate` writes it."""
    view_deg = int(view)
    return render_walk(seed, id_num, covariate_of(seq_type), (CASIAB_TYPES.index(seq_type), view_deg), view_deg, frames)


def render_walk(seed: int, walker: int, covariate: str, key: tuple[int, int], angle: float, frames: int,
                img_size: int = IMG_SIZE) -> np.ndarray:
    """Render and align one sequence of ``walker``, [frames, img_size, img_size] uint8.

    Args:
        covariate: ``nm``, ``bg`` or ``cl`` (see :func:`draw_condition`).
        key: (type key, view key) of the sequence's generators: the condition is
            drawn per type key, the nuisance per (type key, view key).
        angle: camera angle in degrees.
    """
    ident = sample_identity(seed, walker)
    cond = draw_condition(seed, walker, covariate, key[0])
    nuis, rng = draw_nuisance(seed, walker, key)
    canvas = render_sequence(ident, cond, nuis, angle, frames, rng)
    aligned = [align_silhouette(frame, img_size) for frame in canvas]
    if any(a is None for a in aligned):  # a body is always drawn; this would be a bug
        raise RuntimeError(f"synthetic frame without a body: walker {walker}, key {key}, angle {angle}")
    return np.stack(aligned)


# SUSTech1K's other files, as stand-ins of their shapes and dtypes built from the
# silhouettes [T, S, S] (datasets/SUSTech1K/pretreatment_SUSTech1K.py writes the real ones):
# point clouds are a list of [N, 3] arrays, depths and RGB [T, 3, S, S], poses [T, 17, 3]
# (ViTPose's 17 joints: x, y, score), the camera image's (H, W) per frame [T, 2].
MODALITY_STAND_INS = {
    SILHOUETTES: lambda sils: sils,
    "raw_silhouettes": lambda sils: sils,
    "depths": lambda sils: np.repeat(sils[:, None], 3, axis=1),
    "rgb": lambda sils: np.repeat(sils[:, None], 3, axis=1),
    "points": lambda sils: [np.pad(np.argwhere(frame)[::8] / frame.shape[0], ((0, 0), (0, 1))) for frame in sils],
    "pose": lambda sils: np.zeros((len(sils), 17, 3), dtype=np.float64),
    "ratios": lambda sils: np.tile(np.array([[1080, 1920]]), (len(sils), 1)),
}


def write_sequence(root: Path, spec: SequenceSpec, seed: int, frames: int, img_size: int) -> None:
    """Render ``spec`` once and write each of its files (rate-divided frames, stand-ins)."""
    sils = render_walk(seed, spec.walker, spec.covariate, spec.key, spec.angle, frames, img_size)
    folder = root / spec.label / spec.seq_type / spec.view
    folder.mkdir(parents=True, exist_ok=True)
    for (_, modality, every), name in zip(spec.files, spec.file_names()):
        with open(folder / name, "wb") as fh:
            pickle.dump(MODALITY_STAND_INS[modality](sils[::every]), fh)


# --------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------

def _check_counts(ids: int, seed: int, frames: int, train_ids: int, img_size: int) -> None:
    """ConfigError for impossible ids / seed / frames / train_ids / img_size."""
    if not isinstance(ids, int) or ids < 2:
        raise ConfigError(f"ids={ids!r}: need at least 2 ids (one to train, one to test)")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be an integer >= 0")
    if not isinstance(frames, int) or frames < 1:
        raise ConfigError(f"frames={frames!r} must be an integer >= 1")
    if not isinstance(train_ids, int) or not 1 <= train_ids < ids:
        raise ConfigError(f"train_ids={train_ids!r} must be between 1 and ids - 1 = {ids - 1}")
    if img_size not in IMG_SIZES:
        raise ConfigError(f"img_size={img_size!r}: OpenGait's pkl frames are square, "
                          f"{' or '.join(map(str, IMG_SIZES))} pixels")


def generate(out_dir: str | Path, ids: int = 8, seed: int = 0, frames: int = 40,
             views: Sequence[str] | str | None = None, types: Sequence[str] | str | None = None,
             train_ids: int | None = None, progress: bool = True, layout: str = "casiab",
             img_size: int = IMG_SIZE) -> Path:
    """Write a synthetic dataset in OpenGait's layout for ``layout`` (see :mod:`.layouts`).

    Writes ``OUT/<id>/<type>/<view>/<files>`` (``casiab``: ``<view>.pkl``, uint8
    [frames, 64, 64]) for the ids of the layout's naming and ``OUT/partition.json``
    whose TRAIN_SET is the first `train_ids` ids and TEST_SET the rest (GREW adds the
    id ``probe``; Gait3D a PROBE_SET).

    Args:
        out_dir: output root (created; existing files are overwritten).
        ids: number of walkers (>= 2; GREW and SUSTech1K need more test ids, see the layout).
        seed: dataset seed; the same seed gives bit-identical files.
        frames: frames per (camera) sequence.
        views: view names such as "000", "090" (or a comma list); None = all of the layout.
        types: type names; None = all of the layout.
        train_ids: number of training ids; None = ids // 2.
        progress: show progress on stderr (a bar on a terminal, plain lines in a log).
        layout: ``casiab``, ``oumvlp``, ``grew``, ``gait3d`` or ``sustech1k``.
        img_size: pkl frame side, 64 or 128 (OpenGait's pretreatment ``--img_size``).

    Returns:
        Path of the partition JSON.
    """
    train_ids = ids // 2 if train_ids is None else train_ids
    _check_counts(ids, seed, frames, train_ids, img_size)
    plan = get_layout(layout).plan(ids, train_ids, seed, views, types)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for spec in show_progress(plan.sequences, "Synthesising", "seq", enabled=progress):
        write_sequence(out, spec, seed, frames, img_size)
    part_path = out / "partition.json"
    part_path.write_text(json.dumps(plan.partition, indent=2) + "\n")
    return part_path


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------

EPILOG = """examples:
  opengait-gaitbert synth --out data/casiab --ids 16 --views 000,090,180
  opengait-gaitbert synth --layout oumvlp --out data/oumvlp --ids 8 --views 000,090,180,270
  opengait-gaitbert synth --layout grew --out data/grew --ids 24 --train-ids 4
  opengait-gaitbert synth --layout gait3d --out data/gait3d --ids 8
  opengait-gaitbert synth --layout sustech1k --out data/sustech1k --ids 8 --views 000,090
"""


def add_arguments(parser) -> None:
    """Add ``--layout --out --ids --seed --frames --views --types --train-ids --img-size --no-progress``."""
    parser.add_argument("--layout", default="casiab", choices=list(LAYOUTS),
                        help="dataset whose folder names, partition and files to reproduce (default: casiab)")
    parser.add_argument("--out", required=True, help="output root folder (OpenGait dataset_root)")
    parser.add_argument("--ids", type=int, default=8, help="number of ids (default: 8)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default: 0)")
    parser.add_argument("--frames", type=int, default=40, help="frames per sequence (default: 40)")
    parser.add_argument("--views", default=None,
                        help="comma-separated views, e.g. 000,090,180 (default: all of the layout; "
                             "casiab: any of 0..180; grew, gait3d: not angles, leave out)")
    parser.add_argument("--types", default=None,
                        help="comma-separated types, e.g. nm-01,nm-05 (default: all of the layout; "
                             "grew, gait3d: leave out)")
    parser.add_argument("--train-ids", type=int, default=None,
                        help="number of training ids, the first ones (default: half)")
    parser.add_argument("--img-size", type=int, default=IMG_SIZE, choices=IMG_SIZES,
                        help="pkl frame side in pixels, as OpenGait's pretreatment --img_size (default: 64)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def main(args) -> int:
    """Run :func:`generate` from parsed arguments; 0 on success.

    Raises:
        ConfigError: a bad argument (the CLI prints it and exits with status 2).
    """
    layout = get_layout(getattr(args, "layout", "casiab"))
    part = generate(args.out, ids=args.ids, seed=args.seed, frames=args.frames,
                    views=args.views, types=getattr(args, "types", None),
                    train_ids=args.train_ids, progress=not getattr(args, "no_progress", False),
                    layout=layout.name, img_size=getattr(args, "img_size", IMG_SIZE))
    print(f"Wrote synthetic {layout.dataset_name}-layout data to {part.parent} (partition: {part}); "
          f"config: {layout.config}")
    if layout.evaluator_partition:
        print(f"Note: OpenGait's {'/'.join(layout.evaluators)} reads ./{layout.evaluator_partition} from the "
              f"run's working directory, not data_cfg.dataset_partition: copy {part} to "
              f"WORKDIR/{layout.evaluator_partition} and run with --workdir WORKDIR.")
    return 0
