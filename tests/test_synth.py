"""Tests of the synthetic CASIA-B-protocol dataset: layout, values, determinism, learnability."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from opengait_gaitbert.data import synth
from opengait_gaitbert.data.synth import CASIAB_TYPES, generate, synth_sequence
from opengait_gaitbert.data.safe_pickle import load_stream

IDS, FRAMES, VIEWS = 4, 12, ["000", "090"]


def load(path: Path) -> np.ndarray:
    with open(path, "rb") as fh:
        return load_stream(fh, fh.name)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Relative path -> file content, for every file under root."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """4 ids x 10 types x 2 views x 12 frames, seed 0."""
    out = tmp_path_factory.mktemp("synth")
    generate(out, ids=IDS, seed=0, frames=FRAMES, views=VIEWS, progress=False)
    return out


def test_layout(dataset):
    ids = sorted(p.name for p in dataset.iterdir() if p.is_dir())
    assert ids == ["001", "002", "003", "004"]
    for sid in ids:
        assert sorted(p.name for p in (dataset / sid).iterdir()) == sorted(CASIAB_TYPES)
        for seq_type in CASIAB_TYPES:
            assert sorted(p.name for p in (dataset / sid / seq_type).iterdir()) == VIEWS
            for view in VIEWS:
                files = list((dataset / sid / seq_type / view).iterdir())
                assert [f.name for f in files] == [f"{view}.pkl"]
    assert len(list(dataset.rglob("*.pkl"))) == IDS * len(CASIAB_TYPES) * len(VIEWS)


def test_sequences_are_aligned_uint8_silhouettes(dataset):
    for path in sorted(dataset.rglob("*.pkl")):
        seq = load(path)
        assert isinstance(seq, np.ndarray) and seq.dtype == np.uint8
        assert seq.shape == (FRAMES, 64, 64)
        assert np.isin(seq, (0, 255)).mean() > 0.85, f"{path}: not mostly 0/255"
        body = seq > 127
        assert (body.sum(axis=(1, 2)) > 200).all(), f"{path}: a frame without a body"
        # Aligned like OpenGait: the body spans the full height in every frame.
        assert (seq[:, 0].any(axis=1) & seq[:, -1].any(axis=1)).all()


def test_partition(dataset):
    part = json.loads((dataset / "partition.json").read_text())
    assert set(part) == {"TRAIN_SET", "TEST_SET"}
    assert part["TRAIN_SET"] == ["001", "002"] and part["TEST_SET"] == ["003", "004"]
    assert not set(part["TRAIN_SET"]) & set(part["TEST_SET"])


def test_train_ids_and_returned_path(tmp_path):
    part_path = generate(tmp_path, ids=3, frames=2, views=["090"], types=["nm-01"],
                         train_ids=1, progress=False)
    assert part_path == tmp_path / "partition.json"
    part = json.loads(part_path.read_text())
    assert part == {"TRAIN_SET": ["001"], "TEST_SET": ["002", "003"]}


def test_same_seed_is_bit_identical_and_other_seed_differs(dataset, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    generate(again, ids=IDS, seed=0, frames=FRAMES, views=VIEWS, progress=False)
    generate(other, ids=IDS, seed=1, frames=FRAMES, views=VIEWS, progress=False)
    ref = tree_bytes(dataset)
    assert tree_bytes(again) == ref
    changed = tree_bytes(other)
    assert changed.keys() == ref.keys()
    pkls = [k for k in ref if k.endswith(".pkl")]
    assert all(changed[k] != ref[k] for k in pkls)


def test_a_sequence_does_not_depend_on_the_rest_of_the_dataset(dataset):
    # Generators are keyed by (seed, id, type, view): a subset reproduces the same files.
    seq = synth_sequence(0, 3, "cl-02", "090", FRAMES)
    np.testing.assert_array_equal(seq, load(dataset / "003" / "cl-02" / "090" / "090.pkl"))


def test_sequences_of_the_same_id_type_view_differ():
    a = synth_sequence(0, 1, "nm-01", "090", 20)
    b = synth_sequence(0, 1, "nm-02", "090", 20)
    assert np.mean(a != b) > 0.01


def gei(seq: np.ndarray) -> np.ndarray:
    """Gait energy image: the mean silhouette, [64 * 64] in 0..1."""
    return (seq.astype(np.float32) / 255).mean(axis=0).ravel()


def test_learnable_gei_nearest_neighbour_beats_chance():
    n_ids, views = 8, ["036", "090"]
    gallery_types, probe_types = ["nm-01", "nm-02", "nm-03", "nm-04"], ["nm-05"]
    feats = {(i, t, v): gei(synth_sequence(0, i, t, v, 30))
             for i in range(1, n_ids + 1) for t in gallery_types + probe_types for v in views}
    hits = trials = 0
    for view in views:  # same view, different sequences, as CASIA-B's NM probes
        keys = [(i, t) for i in range(1, n_ids + 1) for t in gallery_types]
        gallery = np.stack([feats[(i, t, view)] for i, t in keys])
        labels = np.array([i for i, _ in keys])
        for i in range(1, n_ids + 1):
            dist = ((gallery - feats[(i, "nm-05", view)]) ** 2).sum(axis=1)
            hits += int(labels[dist.argmin()] == i)
            trials += 1
    accuracy = hits / trials
    assert accuracy >= 0.6, f"rank-1 {accuracy:.2f}, chance is {1 / n_ids:.2f}"

    # Different ids are genuinely different walkers, not copies.
    mean_gei = {i: np.mean([feats[(i, t, "090")] for t in gallery_types], axis=0)
                for i in range(1, n_ids + 1)}
    between = [np.abs(mean_gei[i] - mean_gei[j]).mean()
               for i in range(1, n_ids + 1) for j in range(i + 1, n_ids + 1)]
    assert min(between) > 0.005


def canvas_area(cond: synth.Condition, view: int) -> float:
    """Mean body fraction of raw renders of ids 1..4 in `cond`, nuisance held fixed."""
    areas = []
    for i in range(1, 5):
        ident = synth.sample_identity(0, i)
        nuis, _ = synth.sample_nuisance(0, i, "nm-01", view)
        frames = synth.render_sequence(ident, cond, nuis, view, 8, np.random.default_rng(0))
        areas.append((frames > 0).mean())
    return float(np.mean(areas))


@pytest.mark.parametrize("cond, min_gain", [
    (synth.Condition(bag="shoulder", bag_w=0.2, bag_h=0.18, bag_d=0.08), 1.03),
    (synth.Condition(bag="backpack", bag_w=0.2, bag_h=0.18, bag_d=0.08), 1.03),
    (synth.Condition(coat_len=0.25, coat_widen=1.25, coat_loose=0.03), 1.08),
])
def test_bag_and_coat_add_to_the_silhouette(cond, min_gain):
    plain = canvas_area(synth.Condition(), 90)
    assert canvas_area(cond, 90) > plain * min_gain


def test_conditions_follow_the_type():
    assert synth.sample_condition(0, 1, "nm-03") == synth.Condition()
    assert synth.sample_condition(0, 1, "bg-01").bag in ("shoulder", "backpack")
    assert synth.sample_condition(0, 1, "cl-02").coat_len > 0


def test_side_view_shows_the_stride():
    def width(view):
        seqs = [synth_sequence(0, i, "nm-01", view, 16) > 127 for i in range(1, 5)]
        cols = [np.flatnonzero(f.any(axis=0)) for s in seqs for f in s]
        return np.mean([c[-1] - c[0] for c in cols])

    assert width("090") > width("000") * 1.2


@pytest.mark.parametrize("kwargs, message", [
    ({"ids": 1}, "at least 2 ids"),
    ({"train_ids": 4}, "train_ids"),
    ({"views": ["200"]}, "outside 0..180"),
    ({"views": "side"}, "not a number"),
    ({"types": ["nm-1"]}, "unknown type 'nm-1'.*nm-01"),
    ({"frames": 0}, "frames"),
])
def test_bad_arguments_raise(tmp_path, kwargs, message):
    args = {"ids": 4, "frames": 2, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, **args)


def _parse(argv):
    parser = argparse.ArgumentParser()
    synth.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_main(tmp_path, capsys):
    out = tmp_path / "cli"
    args = _parse(["--out", str(out), "--ids", "3", "--frames", "3", "--views", "000,090",
                   "--train-ids", "2", "--types", "nm-01,bg-01", "--no-progress"])
    assert synth.main(args) == 0
    assert len(list(out.rglob("*.pkl"))) == 3 * 2 * 2
    assert json.loads((out / "partition.json").read_text())["TEST_SET"] == ["003"]
    assert str(out) in capsys.readouterr().out
    from opengait_gaitbert.launcher import cli
    assert cli.main(["synth", "--out", str(out), "--views", "000,999", "--no-progress"]) == 2
    assert "synth: error: view '999' is outside 0..180" in capsys.readouterr().err
