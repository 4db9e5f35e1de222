"""``opengait-gaitbert video`` on a synthetic static-camera video with known tracks and masks.

Three of synth's walkers are composited over a static, textured, noisy background
(``video_scene.py``); two of them cross. The video is a folder of PNG frames, so
the comparison with ``pretreat`` is not blurred by a codec.
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from opengait_gaitbert.data.pretreat import align_silhouette
from opengait_gaitbert.launcher import cli
from opengait_gaitbert.data.safe_pickle import load_stream
from video_scene import SIZE, box_iou, gallery_walkers, match_tracks, render_scene

FRAMES = 150


@pytest.fixture(scope="module")
def scene():
    return render_scene(gallery_walkers(), FRAMES, size=SIZE, seed=0)


@pytest.fixture(scope="module")
def run(scene, tmp_path_factory):
    """The CLI on the scene's frames: its exit status, printed summary and output folder."""
    root = tmp_path_factory.mktemp("video")
    frames = scene.write_frames(root / "street")
    out = root / "out"
    code = cli.main(["video", str(frames), "--out", str(out), "--annotated", str(out / "tracks.gif"),
                     "--no-progress"])
    return code, json.loads((out / "tracks.json").read_text()), out


def tracks_by_walker(scene, summary):
    boxes = {t["name"]: [(b[0], np.array(b[1:5])) for b in t["boxes"]] for t in summary["tracks"]}
    matched = match_tracks(scene, boxes)
    return {k: next(t for t in summary["tracks"] if t["name"] == name) for k, name in matched.items()}


def test_every_walker_is_one_track_with_boxes_on_nine_frames_in_ten(scene, run):
    code, summary, _ = run
    assert code == 0
    assert summary["counts"]["tracks"] == summary["counts"]["kept"] == 3
    tracks = tracks_by_walker(scene, summary)
    assert sorted(t["id"] for t in tracks.values()) == [1, 2, 3]  # three walkers, three tracks
    for k, track in tracks.items():
        boxes = {b[0]: np.array(b[1:5]) for b in track["boxes"]}
        ious = [box_iou(scene.box(k, f), boxes[f]) if f in boxes else 0.0 for f in range(FRAMES)]
        assert np.mean(np.array(ious) >= 0.7) >= 0.9, (k, np.round(ious, 2))


def test_silhouettes_are_pretreats_alignment_of_the_rendered_masks(scene, run):
    """Each written frame equals ``align_silhouette`` of the walker's rendered full-frame mask
    within one pixel: fewer than 1 % of the 64 x 64 pixels lie further than that."""
    _, summary, out = run
    near = np.ones((3, 3), np.uint8)
    for k, track in tracks_by_walker(scene, summary).items():
        with open(track["pkl"], "rb") as fh:
            sils = load_stream(fh, fh.name)
        assert sils.dtype == np.uint8 and sils.shape == (track["silhouettes"], 64, 64)
        assert Path(track["pkl"]) == out / "silhouettes" / track["name"] / "nm-01" / "000" / "000.pkl"
        # Frames apart from the others (no blob of two) should all be there.
        alone = [f for f in range(FRAMES)
                 if all(box_iou(scene.box(k, f), scene.box(j, f)) == 0 for j in range(3) if j != k)]
        assert len(track["silhouette_frames"]) >= 0.9 * len(alone)
        far = []
        for frame, sil in zip(track["silhouette_frames"], sils):
            reference = align_silhouette(scene.masks[k][frame])
            ours, ref = (sil > 127).astype(np.uint8), (reference > 127).astype(np.uint8)
            far.append(np.mean((ours & ~cv2.dilate(ref, near)) | (ref & ~cv2.dilate(ours, near))))
        assert max(far) < 0.01 and np.mean(far) < 0.003, (k, max(far), np.mean(far))


def test_the_crossing_is_reported_as_a_merge_then_a_split(scene, run):
    _, summary, _ = run
    tracks = tracks_by_walker(scene, summary)
    crossing = sorted([tracks[1]["id"], tracks[2]["id"]])
    events = [(e["kind"], e["tracks"]) for e in summary["events"]]
    assert ("merge", crossing) in events and ("split", crossing) in events
    merge = next(e["frame"] for e in summary["events"] if e["kind"] == "merge")
    split = next(e["frame"] for e in summary["events"] if e["kind"] == "split")
    overlapping = [f for f in range(FRAMES) if box_iou(scene.box(1, f), scene.box(2, f)) > 0]
    assert overlapping[0] <= merge < split <= overlapping[-1] + 1
    assert tracks[1]["frames_merged"] == split - merge and tracks[0]["frames_merged"] == 0


def test_outputs_annotated_gif_overview_and_summary(run):
    _, summary, out = run
    with Image.open(out / "tracks.gif") as gif:
        assert gif.n_frames == FRAMES // 3  # 25 fps -> every third frame: at most 10 fps
        assert gif.size[0] == 480  # at most 480 pixels wide
    overview = cv2.imread(str(out / "overview.png"))
    assert overview.shape[0] > 3 * 66 and overview.shape[1] >= 640  # the scene plus a row per track
    assert summary["source"].endswith("street") and summary["frames"] == FRAMES
    assert summary["size"] == list(SIZE) and summary["scale"] == 1.0
    assert summary["warnings"] == [] and summary["counts"]["moving_camera_frames"] == 0
    assert set(summary["timings_s"]) >= {"decode", "foreground", "track", "align"}
