"""How each gait dataset lays out its pkl files, as OpenGait's evaluator for it expects.

A :class:`DatasetLayout` describes one dataset: the folder names of its ids,
types and views, the files in each sequence folder (SUSTech1K has 16, one per
modality), its partition JSON, pkl frame size, OpenGait evaluator(s) and the
pretreatment scripts that produce the real data. Its ``plan`` lists, for a
synthetic stand-in, every sequence to write (:class:`SequenceSpec`) and the
partition. :mod:`.synth` renders and writes them; this module decides only names.

OpenGait's reading of the layout (``data/dataset.py``): ``ROOT/<id>/<type>/<view>/``
holds the pkl files of one sequence, sorted by name; ``data_cfg.data_in_use``
picks among them by position. Its evaluators (``evaluation/evaluator.py``)
group sequences by type and view names:

=========  ================================  =========================================
dataset    evaluator                         names it relies on
=========  ================================  =========================================
CASIA-B    evaluate_indoor_dataset           gallery nm-01..04, probes nm-05/06, bg-*, cl-*
OUMVLP     evaluate_indoor_dataset           gallery type 01, probe type 00, per view
GREW       evaluate_real_scene               gallery type 01, probe type 02, top-20 ranks
GREW       GREW_submission                   gallery 01+02, probe id ``probe``/type 03;
                                             the CSV gives the probe's view (video id) and
                                             int(gallery id) of the top 20
Gait3D     evaluate_Gait3D                   PROBE_SET of ``id-type-view`` read from
                                             ./datasets/Gait3D/Gait3D.json (working dir)
SUSTech1K  evaluate_indoor_dataset           types containing 00-nm are the gallery;
                                             probes by substring (01-nm, bg, cl, cr, ub,
                                             uf, oc, nt, 01..04); top-5 ranks per view pair
=========  ================================  =========================================

Pure Python and numpy: nothing here imports OpenGait, torch or OpenCV.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from ..core.errors import ConfigError, close_match_hint

# One file of a sequence folder: (name template with {view}, modality, frame-rate divisor).
# "silhouettes" are the aligned uint8 [T, S, S] frames GaitBERT reads; any other
# modality is a stand-in of the real file's shape (see synth.MODALITY_STAND_INS).
FileSpec = Tuple[str, str, int]
SILHOUETTES = "silhouettes"
SILHOUETTE_FILE: Tuple[FileSpec, ...] = (("{view}.pkl", SILHOUETTES, 1),)  # <view>.pkl, as pretreatment.py

CASIAB_TYPES = tuple([f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"])
CASIAB_VIEWS = tuple(f"{deg:03d}" for deg in range(0, 181, 18))
OUMVLP_TYPES = ("00", "01")  # OU-MVLP's two walks per view: 00 probe, 01 gallery
OUMVLP_VIEWS = tuple(f"{deg:03d}" for deg in list(range(0, 91, 15)) + list(range(180, 271, 15)))
# SUSTech1K: the gallery is the type containing 00-nm; each probe group is a substring.
SUSTECH1K_TYPES = ("00-nm", "01-nm", "01-bg", "01-cl", "01-cr", "01-ub", "01-uf", "01-oc", "01-nt")
SUSTECH1K_VIEWS = tuple(f"{deg:03d}" for deg in range(0, 360, 30))
# The 16 files of a SUSTech1K sequence, in the order OpenGait's data_in_use indexes them
# (datasets/SUSTech1K/README.md): eight kinds as recorded (LiDAR at 10 Hz, every 3rd camera
# frame; the camera at 30 Hz), then the same eight as "sync" files, all resampled to 10 Hz.
_SUSTECH1K_KINDS = (("LiDAR-PCDs", "points", 3), ("LiDAR-PCDs_depths", "depths", 3),
                    ("LiDAR-PCDs_sils", "raw_silhouettes", 3), ("Camera-Pose", "pose", 1),
                    ("Camera-Ratios-HW", "ratios", 1), ("Camera-RGB_raw", "rgb", 1),
                    ("Camera-Sils_aligned", SILHOUETTES, 1), ("Camera-Sils_raw", "raw_silhouettes", 1))
SUSTECH1K_FILES: Tuple[FileSpec, ...] = tuple(
    (f"{index:02d}-{prefix}{{view}}-{name}.pkl", kind, 3 if prefix else every)
    for index, (prefix, (name, kind, every)) in enumerate(
        [("", k) for k in _SUSTECH1K_KINDS] + [("sync-", k) for k in _SUSTECH1K_KINDS]))
SUSTECH1K_SILHOUETTES = 6  # data_in_use position of 06-<view>-Camera-Sils_aligned.pkl (30 Hz)

GREW_TRAIN_VIDEOS = 4   # training sequences per id, all of type 00
GREW_PROBES = 2         # probe sequences per test id (GREW's probe set has 4 per test id)
GAIT3D_SEQUENCES = 4    # sequences per id; a test id's first one is its probe
VIDEO_ID_CHARS = string.ascii_letters + string.digits
VIDEO_ID_LENGTH = 8     # GREW's video ids: 8 letters and digits, e.g. 4XPn5Z28


def keyed_rng(seed: int, *key: int) -> np.random.Generator:
    """A generator keyed by (seed, *key), independent of what else is generated."""
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


@dataclass(frozen=True)
class SequenceSpec:
    """One synthetic sequence: where it goes and what to render.

    Attributes:
        label, seq_type, view: its folder ``ROOT/<label>/<seq_type>/<view>/``.
        walker: the identity rendered (1-based); GREW's probes keep their test walker's.
        covariate: ``nm`` (plain), ``bg`` (a bag) or ``cl`` (a coat).
        angle: camera angle in degrees around the walker (0 = towards the camera).
        key: (sequence key, view key) of its random generators, unique per walker.
        files: the pkl files of the folder, see :data:`FileSpec`.
    """

    label: str
    seq_type: str
    view: str
    walker: int
    covariate: str
    angle: int
    key: Tuple[int, int]
    files: Tuple[FileSpec, ...] = SILHOUETTE_FILE

    def file_names(self) -> List[str]:
        return [name.format(view=self.view) for name, _, _ in self.files]


COVARIATES = {"bg": "bg", "cr": "bg", "cl": "cl"}  # type token -> what is rendered; carrying draws a bag


def covariate_of(seq_type: str) -> str:
    """``nm``, ``bg`` or ``cl`` from a type name's tokens: ``bg-01`` and ``01-cr`` carry a bag."""
    return next((COVARIATES[t] for t in seq_type.split("-") if t in COVARIATES), "nm")


@dataclass
class Plan:
    """Everything one synthetic dataset holds: its sequences and its partition JSON."""

    sequences: List[SequenceSpec]
    partition: Dict[str, List[str]]


@dataclass(frozen=True)
class DatasetLayout:
    """One dataset's names, files and evaluator, and how to plan a synthetic stand-in.

    Attributes:
        name: the ``synth --layout`` name.
        dataset_name: OpenGait's ``data_cfg.dataset_name`` (its evaluator keys on it).
        config: the shipped GaitBERT config for it.
        partition: OpenGait's partition JSON, relative to an OpenGait clone.
        evaluators: OpenGait ``eval_func`` names that run on this layout.
        pretreatment: the OpenGait scripts that turn the released data into pkl.
        types, views: the fixed type / view folder names (None: drawn per sequence,
            as ``drawn_names`` says).
        files: the files of one sequence folder.
        data_in_use: ``data_cfg.data_in_use`` that selects the silhouettes (None: one file).
        test_id_needs: (eval_func, fewest test ids, why) for evaluators that rank a top k.
        unlabelled_ids: partition ids that are not walkers (GREW's ``probe``).
        min_views: views the evaluator needs (it excludes identical-view pairs).
        views_are_degrees: any 0..180 view is allowed (CASIA-B's synthetic protocol).
        evaluator_partition: a partition path the evaluator reads from the working
            directory, whatever ``data_cfg.dataset_partition`` says (Gait3D).
        first_id: the number of the first id folder, formatted with ``id_digits``.
    """

    name: str
    dataset_name: str
    config: str
    partition: str
    evaluators: Tuple[str, ...]
    pretreatment: str
    plan_fn: Callable[..., Plan] = field(repr=False)
    types: Optional[Tuple[str, ...]] = None
    views: Optional[Tuple[str, ...]] = None
    drawn_names: str = ""
    files: Tuple[FileSpec, ...] = SILHOUETTE_FILE
    data_in_use: Optional[Tuple[bool, ...]] = None
    test_id_needs: Tuple[Tuple[str, int, str], ...] = ()
    unlabelled_ids: Tuple[str, ...] = ()
    min_views: int = 1
    views_are_degrees: bool = False
    evaluator_partition: Optional[str] = None
    id_digits: int = 3
    first_id: int = 1

    def min_test_ids(self, eval_func: Optional[str] = None) -> Tuple[int, str]:
        """Fewest test ids ``eval_func`` (None: every evaluator of the layout) can rank, and why."""
        needs = [(n, why) for func, n, why in self.test_id_needs if eval_func in (None, func)]
        return max(needs, default=(1, "one test id to rank"))

    def label(self, number: int) -> str:
        """The folder of id ``number`` (1-based), e.g. ``00001`` (OUMVLP) or ``0000`` (Gait3D)."""
        return f"{number - 1 + self.first_id:0{self.id_digits}d}"

    def _requested(self, option: str, given, known, why_fixed: str) -> Optional[List[str]]:
        """``--views``/``--types`` as given, split into names; None when not given. ConfigError when
        this layout draws those folders itself (``known`` is None), saying ``why_fixed``."""
        if given is None:
            return None
        if known is None:
            raise ConfigError(f"--{option}: the {self.name} layout's {option[:-1]} folders {why_fixed} "
                              f"({self.drawn_names}); leave --{option} out.")
        return _split(given)

    def select_views(self, views) -> List[str]:
        """None / "000,090" / [...] -> this layout's view names; ConfigError naming the allowed ones."""
        names = self._requested("views", views, self.views, "are not camera angles")
        if names is None:
            return list(self.views or ())
        out = []
        for v in names:
            try:
                deg = int(str(v).strip())
            except ValueError:
                raise ConfigError(f"view {v!r} is not a number of degrees; use e.g. "
                                  f"{','.join(self.views[:3])}") from None
            name = f"{deg:03d}"
            if self.views_are_degrees:
                if not 0 <= deg <= 180:
                    raise ConfigError(f"view {v!r} is outside 0..180 degrees")
            elif name not in self.views:
                raise ConfigError(f"view {v!r} is not a {self.dataset_name} view; its views: "
                                  f"{', '.join(self.views)}")
            if name not in out:
                out.append(name)
        if not out:
            raise ConfigError("views is empty; give at least one, e.g. 090")
        if len(out) < self.min_views:
            raise ConfigError(f"views {','.join(out)}: the {self.dataset_name} evaluator averages over "
                              f"cross-view pairs (identical views excluded), so give at least "
                              f"{self.min_views} views, e.g. {','.join(self.views[:self.min_views])}.")
        return out

    def select_types(self, types) -> List[str]:
        """None / "nm-01,bg-01" / [...] -> validated type names of this layout."""
        types = self._requested("types", types, self.types, "are fixed by its protocol")
        if types is None:
            return list(self.types or ())
        for t in types:
            if t not in self.types:
                match = close_match_hint(str(t), self.types).replace("`", "'")
                raise ConfigError(f"unknown type {t!r}.{match} {self.dataset_name} types: "
                                  f"{', '.join(self.types)}")
        if not types:
            raise ConfigError(f"types is empty; give at least one, e.g. {self.types[0]}")
        return list(dict.fromkeys(types))

    def plan(self, ids: int, train_ids: int, seed: int, views=None, types=None) -> Plan:
        """The sequences and partition of a synthetic dataset of ``ids`` walkers.

        Raises:
            ConfigError: views/types this layout does not have, or fewer test ids
                than its evaluator needs.
        """
        views, types = self.select_views(views), self.select_types(types)
        test_ids, (needed, why) = ids - train_ids, self.min_test_ids()
        if test_ids < needed:
            raise ConfigError(f"ids={ids}, train_ids={train_ids}: {test_ids} test id(s), but OpenGait's "
                              f"{self.dataset_name} evaluator needs at least {needed} ({why}). Raise --ids.")
        return self.plan_fn(self, ids, train_ids, seed, views, types)


def _split(values) -> List[str]:
    if isinstance(values, str):
        return [v.strip() for v in values.split(",") if v.strip()]
    return [str(v).strip() for v in values]


def _grid_plan(layout: DatasetLayout, ids: int, train_ids: int, seed: int, views, types) -> Plan:
    """Every id walks every type at every view (CASIA-B, OU-MVLP, SUSTech1K)."""
    sequences = [
        SequenceSpec(layout.label(i), t, v, i, covariate_of(t), int(v), (layout.types.index(t), int(v)),
                     layout.files)
        for i in range(1, ids + 1) for t in types for v in views]
    names = [layout.label(i) for i in range(1, ids + 1)]
    return Plan(sequences, {"TRAIN_SET": names[:train_ids], "TEST_SET": names[train_ids:]})


def _random_angle(seed: int, walker: int, key: int) -> int:
    """A camera angle for an in-the-wild sequence: any of 0, 10, ..., 180 degrees."""
    return int(keyed_rng(seed, walker, 3, key).integers(0, 19)) * 10


def _grew_plan(layout: DatasetLayout, ids: int, train_ids: int, seed: int, views, types) -> Plan:
    """GREW after OpenGait's rearrange_GREW.py: views are video ids, the probe set is one id."""
    names = _video_ids(seed)
    sequences, train, test = [], [], []
    for walker in range(1, train_ids + 1):
        label = f"{walker:05d}train"
        train.append(label)
        for k in range(GREW_TRAIN_VIDEOS):
            sequences.append(SequenceSpec(label, "00", next(names), walker, "nm",
                                          _random_angle(seed, walker, k), (k, 0)))
    probes = []
    for number, walker in enumerate(range(train_ids + 1, ids + 1), start=1):
        label = f"{number:05d}"
        test.append(label)
        for k, seq_type in ((1, "01"), (2, "02")):
            sequences.append(SequenceSpec(label, seq_type, next(names), walker, "nm",
                                          _random_angle(seed, walker, k), (k, 0)))
        for k in range(3, 3 + GREW_PROBES):  # unlabelled: only the walker knows who it is
            probes.append(SequenceSpec("probe", "03", next(names), walker, "nm",
                                       _random_angle(seed, walker, k), (k, 0)))
    return Plan(sequences + probes, {"TRAIN_SET": train, "TEST_SET": test + ["probe"]})


def _video_ids(seed: int):
    """Distinct GREW-style video ids, in a fixed order for a seed."""
    rng, seen = keyed_rng(seed, 4), set()
    while True:
        name = "".join(rng.choice(list(VIDEO_ID_CHARS), VIDEO_ID_LENGTH))
        if name not in seen:
            seen.add(name)
            yield name


def _gait3d_plan(layout: DatasetLayout, ids: int, train_ids: int, seed: int, views, types) -> Plan:
    """Gait3D: types are camid<c>_videoid<v>, views seq<k>; PROBE_SET names one sequence per test id."""
    sequences, probe_set = [], []
    for walker in range(1, ids + 1):
        label, counts = layout.label(walker), {}
        rng = keyed_rng(seed, walker, 5)
        for k in range(GAIT3D_SEQUENCES):
            seq_type = f"camid{int(rng.integers(1, 40))}_videoid{int(rng.integers(1, 4))}"
            view = f"seq{counts.get(seq_type, 0)}"
            counts[seq_type] = counts.get(seq_type, 0) + 1
            sequences.append(SequenceSpec(label, seq_type, view, walker, "nm",
                                          _random_angle(seed, walker, k), (k, 0)))
            if walker > train_ids and k == 0:
                probe_set.append(f"{label}-{seq_type}-{view}")
    names = [layout.label(i) for i in range(1, ids + 1)]
    return Plan(sequences, {"TRAIN_SET": names[:train_ids], "TEST_SET": names[train_ids:],
                            "PROBE_SET": probe_set})


LAYOUTS: Dict[str, DatasetLayout] = {layout.name: layout for layout in (
    DatasetLayout(
        name="casiab", dataset_name="CASIA-B", config="gaitbert_casiab.yaml",
        partition="./datasets/CASIA-B/CASIA-B.json", evaluators=("evaluate_indoor_dataset",),
        pretreatment="datasets/pretreatment.py (or `opengait-gaitbert pretreat --layout casiab`)",
        plan_fn=_grid_plan, types=CASIAB_TYPES, views=CASIAB_VIEWS, views_are_degrees=True),
    DatasetLayout(
        name="oumvlp", dataset_name="OUMVLP", config="gaitbert_oumvlp.yaml",
        partition="./datasets/OUMVLP/OUMVLP.json", evaluators=("evaluate_indoor_dataset",),
        pretreatment="datasets/OUMVLP/extractor.py, datasets/OUMVLP/rearrange_OUMVLP.py, "
                     "then datasets/pretreatment.py",
        plan_fn=_grid_plan, types=OUMVLP_TYPES, views=OUMVLP_VIEWS, min_views=2, id_digits=5),
    DatasetLayout(
        name="grew", dataset_name="GREW", config="gaitbert_grew.yaml",
        partition="./datasets/GREW/GREW.json", evaluators=("GREW_submission", "evaluate_real_scene"),
        pretreatment="datasets/GREW/rearrange_GREW.py, then datasets/pretreatment.py --dataset GREW",
        plan_fn=_grew_plan, drawn_names="00001train/00/<video id>, 00001/01|02/<video id>, "
                                        "probe/03/<video id>",
        test_id_needs=(("evaluate_real_scene", 20, "evaluate_real_scene ranks the top 20 of a gallery "
                                                   "of one type-01 sequence per test id"),
                       ("GREW_submission", 10, "GREW_submission ranks the top 20 of a gallery of the "
                                               "type-01 and type-02 sequences, two per test id")),
        unlabelled_ids=("probe",), id_digits=5),
    DatasetLayout(
        name="gait3d", dataset_name="Gait3D", config="gaitbert_gait3d.yaml",
        partition="./datasets/Gait3D/Gait3D.json", evaluators=("evaluate_Gait3D",),
        pretreatment="datasets/pretreatment.py on Gait3D/2D_Silhouettes (64x64 pkl)",
        plan_fn=_gait3d_plan, drawn_names="<id>/camid<c>_videoid<v>/seq<k>",
        evaluator_partition="datasets/Gait3D/Gait3D.json",
        id_digits=4, first_id=0),
    DatasetLayout(
        name="sustech1k", dataset_name="SUSTech1K", config="gaitbert_sustech1k.yaml",
        partition="./datasets/SUSTech1K/SUSTech1K.json", evaluators=("evaluate_indoor_dataset",),
        pretreatment="none for the released SUSTech1K-pkl; from the raw release "
                     "datasets/SUSTech1K/pretreatment_SUSTech1K.py",
        plan_fn=_grid_plan, types=SUSTECH1K_TYPES, views=SUSTECH1K_VIEWS, files=SUSTECH1K_FILES,
        data_in_use=tuple(i == SUSTECH1K_SILHOUETTES for i in range(len(SUSTECH1K_FILES))),
        test_id_needs=(("evaluate_indoor_dataset", 5, "it ranks the top 5 of each view's gallery of one "
                                                      "00-nm sequence per test id"),), min_views=2,
        id_digits=4, first_id=0),
)}


def get_layout(name: str) -> DatasetLayout:
    """The layout called ``name``; ConfigError listing the others."""
    if name not in LAYOUTS:
        raise ConfigError(f"--layout {name!r} is unknown.{close_match_hint(name, LAYOUTS)} "
                          f"Layouts: {', '.join(LAYOUTS)}.")
    return LAYOUTS[name]


def layout_for_dataset(dataset_name: str) -> Optional[DatasetLayout]:
    """The layout of OpenGait's ``dataset_name`` (e.g. ``Gait3D``), or None."""
    return next((layout for layout in LAYOUTS.values() if layout.dataset_name == dataset_name), None)

