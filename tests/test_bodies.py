"""The articulated-body generator (benchmarks/generators/bodies.py): its CASIA-B layout, OpenGait's frame
format, determinism, and that the silhouettes behave like people: an id resembles
itself, bags and coats add to the silhouette, legs spread in side view."""
import json
import pathlib
import pickle
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the benchmarks are scripts beside the package
from benchmarks.generators import bodies  # noqa: E402

VIEWS = "000,090"
TYPES = ["nm-01", "nm-02", "bg-01", "cl-01"]
IDS = 4


def load(root, pid, typ, view):
    with open(root / pid / typ / view / f"{view}.pkl", "rb") as f:
        return pickle.load(f)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("bodies")
    partition = bodies.generate(root, ids=IDS, seed=0, frames=30, views=VIEWS, types=TYPES,
                                progress=False)
    return root, partition


def gei(seq):
    """Gait energy image: the mean silhouette, 0..1."""
    return seq.mean(0) / 255.0


def soft_iou(a, b):
    return np.minimum(a, b).sum() / np.maximum(a, b).sum()


def test_layout_partition_and_frame_format(dataset):
    root, partition = dataset
    assert partition == root / "partition.json"
    assert json.loads(partition.read_text()) == {"TRAIN_SET": ["001", "002"],
                                                 "TEST_SET": ["003", "004"]}
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["001", "002", "003", "004"]
    for pid in ("001", "004"):
        assert sorted(p.name for p in (root / pid).iterdir()) == sorted(TYPES)
        for typ in TYPES:
            assert sorted(p.name for p in (root / pid / typ).iterdir()) == ["000", "090"]
            seq = load(root, pid, typ, "090")
            assert seq.dtype == np.uint8 and seq.shape == (30, 64, 64)
            assert set(np.unique(seq)) == {0, 255}


def test_frames_are_height_normalised_and_centred(dataset):
    root, _ = dataset
    for typ in TYPES:
        for view in ("000", "090"):
            seq = load(root, "002", typ, view) > 0
            # the body spans the full height: head in the top row, feet in the bottom one
            assert seq[:, 0].any(1).all() and seq[:, -1].any(1).all()
            # OpenGait's centre: the first column where the cumulative foreground passes half
            cum = seq.sum(1).cumsum(1)
            centre = (cum > cum[:, -1:] / 2).argmax(1)
            assert (centre == 32).all()
            # nothing is cut at the sides: a walker is narrower than the frame
            assert not seq[:, :, 0].any() and not seq[:, :, -1].any()


def test_all_views_and_types_by_default(tmp_path):
    bodies.generate(tmp_path, ids=2, frames=1, progress=False)
    assert sorted(p.name for p in (tmp_path / "002").iterdir()) == sorted(bodies.TYPES)
    assert sorted(p.name for p in (tmp_path / "002" / "cl-02").iterdir()) == list(bodies.VIEWS)
    assert bodies.VIEWS == tuple(f"{a:03d}" for a in range(0, 181, 18))


def test_same_seed_is_bit_identical_and_seeds_differ(tmp_path):
    kw = dict(ids=3, train_ids=2, frames=8, views="036,090", types="nm-01,bg-02", progress=False)
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        part = bodies.generate(tmp_path / name, seed=seed, **kw)
    assert json.loads(part.read_text()) == {"TRAIN_SET": ["001", "002"], "TEST_SET": ["003"]}
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.pkl"))
    assert len(files) == 12
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert any((tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes()
               for rel in files)
    # a subset of the views and types writes the same sequences as the full selection
    bodies.generate(tmp_path / "d", seed=5, ids=2, frames=8, views=[90], types=["bg-02"],
                    progress=False)  # ids=2: one id fewer does not change the others either
    rel = "002/bg-02/090/090.pkl"
    assert (tmp_path / "d" / rel).read_bytes() == (tmp_path / "a" / rel).read_bytes()


def test_sequences_of_one_walker_vary(dataset):
    root, _ = dataset
    a, b = load(root, "001", "nm-01", "090"), load(root, "001", "nm-02", "090")
    assert not np.array_equal(a, b)
    # ... and so do the 11 cameras' clips of one walk (each starts at its own phase)
    assert not np.array_equal(a, load(root, "001", "nm-01", "000")[:, :, ::-1])


def test_an_id_resembles_itself_more_than_others(dataset):
    root, _ = dataset
    pids = [f"{i:03d}" for i in range(1, IDS + 1)]
    same, other = [], []
    for view in ("000", "090"):
        first = {p: gei(load(root, p, "nm-01", view)) for p in pids}
        second = {p: gei(load(root, p, "nm-02", view)) for p in pids}
        for p in pids:
            for q in pids:
                (same if p == q else other).append(soft_iou(first[p], second[q]))
    assert np.mean(same) > np.mean(other) + 0.02
    # the nearest nm-02 GEI of most ids is their own
    assert np.mean(same) > np.percentile(other, 75)


def test_bags_and_coats_add_foreground(dataset):
    root, _ = dataset
    for i in range(1, IDS + 1):
        pid = f"{i:03d}"
        area = {t: sum(load(root, pid, t, v).mean() for v in ("000", "090")) for t in TYPES}
        nm = max(area["nm-01"], area["nm-02"])
        assert area["bg-01"] > nm, pid
        assert area["cl-01"] > 1.05 * nm, pid


def test_side_view_spreads_the_legs_wider_than_front_view(dataset):
    root, _ = dataset

    def leg_width(seq):
        legs = seq[:, 40:] > 0                      # below the hands
        cols = legs.any(1)
        first = cols.argmax(1)
        last = cols.shape[1] - 1 - cols[:, ::-1].argmax(1)
        return (last - first + 1).max()             # widest stride of the clip

    for i in range(1, IDS + 1):
        pid = f"{i:03d}"
        assert leg_width(load(root, pid, "nm-01", "090")) > 1.3 * leg_width(
            load(root, pid, "nm-01", "000")), pid


def test_feet_stay_on_the_ground_and_proportions_are_human():
    rng = np.random.default_rng(3)
    person = bodies.draw_person(rng)
    walk = bodies.draw_walk(rng)
    caps = bodies.pose_body(person, walk, np.linspace(0, 1, 25, endpoint=False), "nm")
    centres, radii = bodies.spheres(caps)
    bottom = (centres[..., 1] - radii).min(1)
    top = (centres[..., 1] + radii).max(1)
    np.testing.assert_allclose(bottom, 0, atol=1e-9)
    # upright walker: as tall as its stature, give or take the knee bend and posture
    assert np.all(top < 1.03 * person.stature) and np.all(top > 0.93 * person.stature)


@pytest.mark.parametrize("kwargs, name", [
    (dict(ids=1), "ids"),
    (dict(frames=0), "frames"),
    (dict(views="000,045"), "views"),
    (dict(types=["nm-01", "xx-01"]), "types"),
    (dict(ids=3, train_ids=3), "train_ids"),
    (dict(seed=-1), "seed"),
])
def test_bad_arguments_name_themselves(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        bodies.generate(tmp_path, progress=False, **kwargs)
    assert not any(tmp_path.iterdir())


def test_main_writes_a_dataset(tmp_path, capsys):
    assert bodies.main(["--out", str(tmp_path), "--ids", "2", "--frames", "3", "--seed", "1",
                        "--views", "090", "--types", "nm-01", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "partition.json")
    assert load(tmp_path, "002", "nm-01", "090").shape == (3, 64, 64)
    with pytest.raises(SystemExit):
        bodies.main(["--out", str(tmp_path), "--ids", "1"])
