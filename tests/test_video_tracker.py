"""The IoU + Hungarian tracker on hand-made boxes: ids, gaps, noise, people crossing, groups splitting."""
import numpy as np
import pytest

from opengait_gaitbert.video.tracker import (COASTING, MERGED, SEEN, IoUTracker, TrackerSettings,
                                             iou_matrix, place_in_blob)


def box(x, y=0.0, w=20.0, h=60.0):
    return np.array([x, y, x + w, y + h], float)


def run(frames):
    """Feed ``frames`` (a list of lists of boxes) to a tracker; return it after ``finish``."""
    tracker = IoUTracker(TrackerSettings(max_gap=4, min_hits=3))
    for index, boxes in enumerate(frames):
        tracker.update(index, np.array(boxes).reshape(-1, 4))
    tracker.finish()
    return tracker


def test_iou_matrix_values():
    iou = iou_matrix(np.array([box(0), box(100)]), np.array([box(0), box(10), box(500)]))
    np.testing.assert_allclose(iou, [[1.0, 10 / 30, 0.0], [0.0, 0.0, 0.0]], atol=1e-9)


def test_two_walkers_keep_their_ids_and_flickers_get_none():
    frames = [[box(3 * t), box(200 - 3 * t, y=100)] for t in range(20)]
    frames[5].append(box(400, y=300))   # noise for two frames: never confirmed
    frames[6].append(box(401, y=300))
    tracker = run(frames)
    assert [t.id for t in tracker.tracks] == [1, 2]
    first, second = tracker.tracks
    assert len(first.history) == len(second.history) == 20
    assert first.history[-1][1][0] == pytest.approx(57) and second.history[-1][1][0] == pytest.approx(143)
    assert tracker.events == []


def test_a_short_gap_is_bridged_and_a_long_one_ends_the_track():
    frames = [[box(3 * t)] for t in range(30)]
    for t in range(8, 11):      # 3 missed frames < max_gap 4: bridged by the prediction
        frames[t] = []
    for t in range(18, 24):     # 6 missed frames: the track ends, a new one starts
        frames[t] = []
    tracker = run(frames)
    assert [t.id for t in tracker.tracks] == [1, 2]
    states = {f: s for f, _, s in tracker.tracks[0].history}
    assert [states[t] for t in range(8, 11)] == [COASTING] * 3 and states[11] == SEEN
    coasted = {f: b for f, b, s in tracker.tracks[0].history if s == COASTING}
    assert coasted[9][0] == pytest.approx(27, abs=0.5)  # the prediction kept walking
    assert max(states) == 17  # trailing coasting boxes were dropped when it ended
    assert tracker.tracks[1].history[0][0] == 24


def test_people_crossing_merge_then_split_and_keep_their_ids():
    frames = []
    for t in range(40):
        a, b = box(4 * t, y=0), box(156 - 4 * t, y=5)
        if abs(a[0] - b[0]) < 20:   # one blob while they overlap
            frames.append([np.concatenate([np.minimum(a, b)[:2], np.maximum(a, b)[2:]])])
        else:
            frames.append([a, b])
    tracker = run(frames)
    assert [t.id for t in tracker.tracks] == [1, 2]
    kinds = [(e["kind"], e["tracks"]) for e in tracker.events]
    assert kinds == [("merge", [1, 2]), ("split", [1, 2])]
    merge, split = tracker.events
    assert merge["frame"] < split["frame"]
    right_walker = tracker.tracks[0]
    assert right_walker.history[-1][1][0] == pytest.approx(4 * 39)  # still the one walking right
    merged = [f for f, _, s in right_walker.history if s == MERGED]
    assert merged == list(range(merge["frame"], split["frame"]))


def test_a_group_that_splits_reports_the_new_track():
    frames = [[box(2 * t, w=40)] for t in range(10)]
    frames += [[box(2 * t, w=18), box(2 * t + 22 + 3 * (t - 10), w=18)] for t in range(10, 20)]
    tracker = run(frames)
    assert [t.id for t in tracker.tracks] == [1, 2]
    assert [(e["kind"], e["tracks"], e["frame"]) for e in tracker.events] == [("split", [1, 2], 10)]


def test_place_in_blob_puts_the_outermost_people_at_its_edges():
    blob = np.array([10.0, 0.0, 70.0, 60.0])
    boxes = np.array([[4.0, 0.0, 34.0, 60.0], [50.0, 2.0, 80.0, 58.0]])
    placed = place_in_blob(boxes, blob)
    np.testing.assert_allclose(placed, [[10, 0, 40, 60], [40, 2, 70, 58]])
    too_big = place_in_blob(np.array([[0.0, 0.0, 100.0, 60.0]]), blob)
    np.testing.assert_allclose(too_big, [[-10, 0, 90, 60]])  # centred where it cannot fit


def test_appearance_decides_between_two_equally_overlapping_blobs():
    red, blue = np.eye(2)  # two one-bin "histograms"
    tracker = IoUTracker(TrackerSettings(min_hits=1))
    for t in range(4):
        tracker.update(t, box(100)[None], red[None])
    # Next frame: two blobs overlapping the prediction by the same IoU, blue one listed first.
    owners = tracker.update(4, np.array([box(90), box(110)]), np.stack([blue, red]))
    assert owners[1] is tracker.tracks[0] and owners[0] is not tracker.tracks[0]
    geometry_only = IoUTracker(TrackerSettings(min_hits=1, appearance_weight=0.0))
    for t in range(4):
        geometry_only.update(t, box(100)[None], red[None])
    assert geometry_only.update(4, np.array([box(90), box(110)]), np.stack([blue, red]))[0].id == 1


def test_a_blob_that_suddenly_grows_is_not_the_tracks_own():
    """Someone walks in under a tracked person: the blob of both is no silhouette of either."""
    frames = [[box(2 * t)] for t in range(8)] + [[box(2 * t, h=100)] for t in range(8, 12)]
    frames += [[box(2 * t), box(2 * t, y=70, h=30)] for t in range(12, 16)]
    tracker = IoUTracker(TrackerSettings(max_gap=4, min_hits=3))
    owned = [tracker.update(t, np.array(b)) for t, b in enumerate(frames)]
    tracker.finish()
    track = tracker.tracks[0]
    assert all(owned[t] == {} for t in range(8, 12))  # the grown blob belongs to nobody
    assert [s for f, _, s in track.history if 8 <= f < 12] == [MERGED] * 4
    assert [(e["kind"], e["tracks"], e["frame"]) for e in tracker.events] == [
        ("merge", [1], 8), ("split", [1], 12)]
    assert owned[12][0] is track  # its own blob again once they part
