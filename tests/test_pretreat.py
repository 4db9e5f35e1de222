"""Tests of the silhouette converter: OpenGait-exact alignment, readers, layouts, reports."""
from __future__ import annotations

import argparse
import json
import pickle
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from opengait_gaitbert.data import pretreat as pt
from opengait_gaitbert.data.pretreat import (
    PretreatReport, SequenceReadError, align_sequence, align_silhouette, read_sequence,
)
from opengait_gaitbert.data.safe_pickle import load_stream
from real_data import casia_b_sample

GIFS = {"nm": 60, "bg": 47, "cl": 63}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def person(x: int = 60, top: int = 20, height: int = 120, width: int = 30,
           shape: tuple[int, int] = (180, 160), leg_shift: int = 0) -> np.ndarray:
    """[H, W] uint8 0/255 frame of a boxy person: a rectangle body and a round head."""
    img = np.zeros(shape, dtype=np.uint8)
    head_r = height // 10
    cv2.circle(img, (x + width // 2, top + head_r), head_r, 255, -1)
    cv2.rectangle(img, (x, top + 2 * head_r), (x + width - 1, top + height - 1 - height // 3), 255, -1)
    # Two legs; leg_shift moves the front one so that frames of a sequence differ.
    cv2.rectangle(img, (x, top + height - height // 3), (x + width // 3, top + height - 1), 255, -1)
    cv2.rectangle(img, (x + 2 * width // 3 + leg_shift, top + height - height // 3),
                  (x + width - 1 + leg_shift, top + height - 1), 255, -1)
    return img


def write_frames(folder: Path, frames, start: int = 1) -> list[Path]:
    """Write frames as folder/frame<N>.png, returning the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames, start):
        path = folder / f"frame{i}.png"
        assert cv2.imwrite(str(path), frame)
        paths.append(path)
    return paths


def walk(n: int) -> list[np.ndarray]:
    """n frames of a person whose front leg moves."""
    return [person(leg_shift=i % 6) for i in range(n)]


def median_column(frame: np.ndarray) -> int:
    csum = frame.sum(axis=0, dtype=np.int64).cumsum()
    return int((csum > csum[-1] / 2).argmax())


# --------------------------------------------------------------------------
# align_silhouette / align_sequence
# --------------------------------------------------------------------------

def test_align_rectangle_person_is_height_normalised_and_centred():
    frame = person(x=20, top=30, height=120, width=30)  # off-centre on purpose
    out = align_silhouette(frame)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    rows = np.flatnonzero(out.any(axis=1))
    assert rows[0] == 0 and rows[-1] == 63, "body must span the full height"
    assert median_column(out) == 32
    cols = np.flatnonzero((out > 127).any(axis=0))
    # 30 px wide at 120 px tall -> 16 px wide at 64 px tall, centred on column 32.
    assert 14 <= cols[-1] - cols[0] + 1 <= 18
    assert abs((cols[0] + cols[-1]) / 2 - 31.5) <= 1.0


def test_align_is_scale_and_position_invariant():
    big = align_silhouette(person(x=70, top=10, height=160, width=40, shape=(200, 200)))
    small = align_silhouette(person(x=20, top=60, height=80, width=20, shape=(200, 200)))
    assert big.shape == small.shape == (64, 64)
    # Same proportions at different sizes and places -> nearly the same aligned frame.
    assert np.mean(np.abs(big.astype(int) - small.astype(int)) > 127) < 0.02


def test_align_accepts_bool_and_float_frames_like_uint8():
    frame = person()
    ref = align_silhouette(frame)
    np.testing.assert_array_equal(align_silhouette(frame > 0), ref)
    np.testing.assert_array_equal(align_silhouette(frame / 255.0), ref)
    np.testing.assert_array_equal(align_silhouette(frame.astype(np.float32)), ref)


def test_align_thresholds_grey_input_at_127():
    frame = person()
    grey = frame.copy()
    grey[frame == 255] = 200          # body still above 127
    grey[:5, :] = 100                 # a grey band above the head: background after thresholding
    np.testing.assert_array_equal(align_silhouette(grey), align_silhouette(frame))


def test_align_returns_none_for_empty_and_near_empty_frames():
    assert align_silhouette(np.zeros((128, 128), np.uint8)) is None
    blob = np.zeros((128, 128), np.uint8)
    blob[60:68, 60:65] = 255          # 40 * 255 = 10200 > 10000: kept
    assert align_silhouette(blob).shape == (64, 64)
    blob[60, 60] = 0                  # 39 * 255 = 9945 <= 10000: OpenGait calls it empty
    assert align_silhouette(blob) is None


def test_align_centre_in_column_zero_counts_as_no_centre():
    # OpenGait tests `if not x_center`, so a body whose median column is 0 is dropped.
    bar = np.zeros((100, 100), np.uint8)
    bar[:, 0] = 255
    assert align_silhouette(bar) is None


def test_align_rejects_non_2d_input():
    with pytest.raises(ValueError, match="one \\[H, W\\] frame"):
        align_silhouette(np.zeros((2, 64, 64), np.uint8))


def test_align_sequence_drops_empty_frames():
    frames = np.stack([person(), np.zeros((180, 160), np.uint8), person(leg_shift=3)])
    out = align_sequence(frames)
    assert out.shape == (2, 64, 64) and out.dtype == np.uint8
    assert align_sequence(np.zeros((3, 50, 50), np.uint8)).shape == (0, 64, 64)


# --------------------------------------------------------------------------
# Real CASIA-B silhouettes
# --------------------------------------------------------------------------

@pytest.mark.data
@pytest.mark.parametrize("name", sorted(GIFS))
def test_real_casiab_gif_reads_and_aligns(name):
    seq = read_sequence(casia_b_sample(f"{name}.gif"))
    assert seq.shape == (GIFS[name], 128, 128) and seq.dtype == np.uint8

    out = align_sequence(seq)
    assert out.dtype == np.uint8 and out.shape[1:] == (64, 64)
    assert out.shape[0] >= 0.9 * GIFS[name]
    for frame in out:
        assert frame[0].any() and frame[-1].any(), "body must span the full height"
        assert abs(median_column(frame) - 32) <= 1, "body must be centred"
    binary = np.isin(out, (0, 255)).mean()
    assert binary > 0.9, f"aligned frames should be mostly 0/255, got {binary:.2f}"


# --------------------------------------------------------------------------
# read_sequence
# --------------------------------------------------------------------------

def test_read_folder_in_natural_order(tmp_path):
    frames = [np.full((20, 10), v, np.uint8) for v in (10, 20, 30)]
    for idx, frame in zip((2, 10, 1), frames):
        cv2.imwrite(str(tmp_path / f"frame{idx}.png"), frame)
    seq = read_sequence(tmp_path)
    assert seq.shape == (3, 20, 10)
    assert [int(f[0, 0]) for f in seq] == [30, 10, 20]  # frame1, frame2, frame10


def test_read_folder_with_a_corrupt_frame(tmp_path):
    write_frames(tmp_path, walk(3))
    bad = tmp_path / "frame4.png"
    bad.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(SequenceReadError, match="frame4.png"):
        read_sequence(tmp_path)
    skipped: list = []
    seq = read_sequence(tmp_path, bad_frames=skipped)
    assert seq.shape[0] == 3
    assert [p for p, _ in skipped] == [str(bad)]


def test_read_folder_errors(tmp_path):
    with pytest.raises(SequenceReadError, match="no .* frames"):
        read_sequence(tmp_path)
    missing = tmp_path / "nope"
    with pytest.raises(SequenceReadError, match="no such file"):
        read_sequence(missing)
    other = tmp_path / "x.txt"
    other.write_text("hi")
    with pytest.raises(SequenceReadError, match="unsupported file type"):
        read_sequence(other)


def test_read_corrupt_gif(tmp_path):
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a" + bytes(20))
    with pytest.raises(SequenceReadError, match="bad.gif"):
        read_sequence(bad)


def test_read_pkl_valid_and_bool(tmp_path):
    arr = np.stack([person() for _ in range(2)])
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps(arr))
    np.testing.assert_array_equal(read_sequence(good), arr)
    boolean = tmp_path / "bool.pkl"
    boolean.write_bytes(pickle.dumps(arr > 0))
    np.testing.assert_array_equal(read_sequence(boolean), arr)


@pytest.mark.parametrize("payload, message", [
    (np.random.default_rng(1).bytes(64), "not a readable pickle"),
    (pickle.dumps({"a": 1}), "holds a dict"),
    (pickle.dumps(np.zeros((64, 64), np.uint8)), "expected non-empty \\[T, H, W\\]"),
    (pickle.dumps(np.full((2, 4, 4), 300, np.int16)), "do not fit uint8"),
    (pickle.dumps(np.array([[["a"]]])), "refused to unpickle: its array has dtype 'U1'"),
])
def test_read_malformed_pkl(tmp_path, payload, message):
    path = tmp_path / "seq.pkl"
    path.write_bytes(payload)
    with pytest.raises(SequenceReadError, match=message) as info:
        read_sequence(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------
# pretreat: casiab layout
# --------------------------------------------------------------------------

@pytest.fixture()
def casiab_tree(tmp_path):
    """IN/<id>/<type>/<view>/ with good, corrupt-frame, empty and too-short sequences."""
    root = tmp_path / "in"
    write_frames(root / "001" / "nm-01" / "090", walk(8))
    good_with_bad = root / "001" / "nm-02" / "090"
    write_frames(good_with_bad, walk(7))
    corrupt = good_with_bad / "frame8.png"
    corrupt.write_bytes(np.random.default_rng(0).bytes(500))
    write_frames(root / "002" / "nm-01" / "090", [np.zeros((180, 160), np.uint8)] * 6)
    write_frames(root / "002" / "nm-02" / "090", walk(3))
    write_frames(root / "003" / "bg-01" / "000", walk(6))
    return root, corrupt


def test_pretreat_casiab_writes_good_and_reports_bad(casiab_tree, tmp_path):
    root, corrupt = casiab_tree
    out = tmp_path / "out"
    report = pt.pretreat("casiab", root, out, progress=False)

    expected = {out / "001/nm-01/090/090.pkl", out / "001/nm-02/090/090.pkl",
                out / "003/bg-01/000/000.pkl"}
    assert set(report.written) == expected
    assert {p for p in out.rglob("*.pkl")} == expected
    assert report.sequences_written == 3
    assert report.frames_written == 8 + 7 + 6
    lengths = {}
    for path in expected:
        with open(path, "rb") as fh:
            seq = load_stream(fh, fh.name)
        assert seq.dtype == np.uint8 and seq.shape[1:] == (64, 64)
        lengths[path.parent.parent.name + "/" + path.parent.parent.parent.name] = seq.shape[0]
    assert lengths == {"nm-01/001": 8, "nm-02/001": 7, "bg-01/003": 6}

    assert report.unreadable == [(str(corrupt), report.unreadable[0][1])]
    assert [p for p, _ in report.empty] == [str(root / "002" / "nm-01" / "090")]
    assert [p for p, _ in report.too_short] == [str(root / "002" / "nm-02" / "090")]
    assert "3 valid frames" in report.too_short[0][1]
    assert report.frames_dropped == 6
    assert report.partition_path is None

    summary = report.summary()
    for needle in (str(corrupt), str(root / "002" / "nm-01" / "090"), "too short", "unreadable"):
        assert needle in summary
    assert "sequences written" in summary and "3" in summary


def test_pretreat_min_frames_keeps_short_sequences(casiab_tree, tmp_path):
    root, _ = casiab_tree
    report = pt.pretreat("casiab", root, tmp_path / "out", min_frames=1, progress=False)
    assert report.sequences_written == 4 and not report.too_short


def test_pretreat_empty_view_folder_is_reported(tmp_path):
    root = tmp_path / "in"
    write_frames(root / "001" / "nm-01" / "000", walk(5))
    (root / "001" / "nm-01" / "018").mkdir()
    report = pt.pretreat("casiab", root, tmp_path / "out", progress=False)
    assert report.sequences_written == 1
    assert report.empty[0][0] == str(root / "001" / "nm-01" / "018")


# --------------------------------------------------------------------------
# pretreat: frames layout
# --------------------------------------------------------------------------

def test_pretreat_frames_layout_and_partition(tmp_path):
    root, out = tmp_path / "in", tmp_path / "out"
    write_frames(root / "train" / "alice", walk(6))
    write_frames(root / "train" / "bob", walk(5))
    write_frames(root / "train" / "empty", [np.zeros((180, 160), np.uint8)] * 5)
    write_frames(root / "test" / "carol", walk(7))
    write_frames(root / "test" / "alice", walk(5))      # also in train: an error, not an abort

    report = pt.pretreat("frames", root, out, progress=False)
    assert report.sequences_written == 3
    for sid, n in (("alice", 6), ("bob", 5), ("carol", 7)):
        with open(out / sid / "nm-01" / "000" / "000.pkl", "rb") as fh:
            assert load_stream(fh, fh.name).shape == (n, 64, 64)
    partition = json.loads((out / "partition.json").read_text())
    assert partition == {"TRAIN_SET": ["alice", "bob"], "TEST_SET": ["carol"]}
    assert report.partition_path == out / "partition.json"
    assert [p for p, _ in report.errors] == [str(root / "test" / "alice")]
    assert "also in train" in report.errors[0][1]
    assert [p for p, _ in report.empty] == [str(root / "train" / "empty")]
    assert str(root / "test" / "alice") in report.summary()


def test_pretreat_frames_layout_needs_split_folders(tmp_path):
    write_frames(tmp_path / "in" / "alice", walk(5))
    with pytest.raises(ValueError, match="train/"):
        pt.pretreat("frames", tmp_path / "in", tmp_path / "out", progress=False)


# --------------------------------------------------------------------------
# argument errors and CLI
# --------------------------------------------------------------------------

def test_unknown_layout_raises_with_hint(tmp_path):
    with pytest.raises(ValueError, match="unknown layout 'casia'.*'casiab'"):
        pt.pretreat("casia", tmp_path, tmp_path / "out")


def test_missing_and_empty_input_dir_raise_with_path(tmp_path):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(ValueError, match="does not exist") as info:
        pt.pretreat("casiab", missing, tmp_path / "out")
    assert str(missing) in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="is empty") as info:
        pt.pretreat("casiab", empty, tmp_path / "out")
    assert str(empty) in str(info.value)


def test_casiab_layout_on_frames_data_suggests_frames(tmp_path):
    write_frames(tmp_path / "in" / "train" / "alice", walk(5))
    with pytest.raises(ValueError, match="--layout frames"):
        pt.pretreat("casiab", tmp_path / "in", tmp_path / "out", progress=False)


def _parse(argv):
    parser = argparse.ArgumentParser()
    pt.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_main(casiab_tree, tmp_path, capsys):
    root, _ = casiab_tree
    out = tmp_path / "cli-out"
    args = _parse(["--layout", "casiab", str(root), str(out), "--min-frames", "2", "--no-progress"])
    assert args.img_size == 64 and args.min_frames == 2
    assert pt.main(args) == 0
    printed = capsys.readouterr().out
    assert "sequences written" in printed and (out / "002/nm-02/090/090.pkl").is_file()


def test_cli_exits_2_when_nothing_written_or_input_missing(tmp_path, capsys):
    from opengait_gaitbert.launcher import cli
    root = tmp_path / "in"
    write_frames(root / "001" / "nm-01" / "000", [np.zeros((50, 50), np.uint8)] * 3)
    assert cli.main(["pretreat", "--layout", "casiab", str(root), str(tmp_path / "o"), "--no-progress"]) == 2
    assert re.search(r"sequences written +0\b", capsys.readouterr().out)
    assert cli.main(["pretreat", "--layout", "casiab", str(tmp_path / "nope"), str(tmp_path / "o")]) == 2
    assert f"pretreat: error: input directory {tmp_path / 'nope'} does not exist" in capsys.readouterr().err


def test_report_summary_without_problems(tmp_path):
    report = PretreatReport(layout="casiab", in_dir=tmp_path, out_dir=tmp_path)
    text = report.summary()
    assert "Problems" not in text and "sequences written" in text
