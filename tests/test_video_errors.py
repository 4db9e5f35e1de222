"""The video front end's hard cases: each ends in a message that names the file, the problem and the fix."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from opengait_gaitbert.core.errors import DataError, SequenceReadError
from opengait_gaitbert.launcher import cli
from opengait_gaitbert.video.frames import FrameSource
from video_scene import Walker, render_scene

SMALL = (360, 150)
ROOT = str(Path(__file__).resolve().parents[1])


def video(path: Path, walkers, frames=40, **kwargs) -> Path:
    return render_scene(walkers, frames, size=SMALL, **kwargs).write_video(path)


def run_cli(capsys, *argv):
    code = cli.main(["video", *map(str, argv), "--no-progress"])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def test_unreadable_and_missing_files_are_named(tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    code, _, err = run_cli(capsys, broken, "--out", tmp_path / "out")
    assert code == 2 and str(broken) in err and "unreadable" in err and "ffmpeg" in err
    with pytest.raises(SequenceReadError, match="no such file or folder"):
        FrameSource.open(tmp_path / "missing.avi")


def test_zero_frames_is_named_for_a_video_and_a_folder(tmp_path, capsys):
    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 25, SMALL)
    writer.release()  # a valid container that holds no frame
    code, _, err = run_cli(capsys, empty, "--out", tmp_path / "out")
    assert code == 2 and str(empty) in err and "zero frames" in err
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match="no frames: the folder holds no"):
        FrameSource.open(tmp_path / "frames")


def test_a_scene_without_people_says_so_after_writing_the_summary(tmp_path, capsys):
    path = video(tmp_path / "empty_street.avi", [])
    code, _, err = run_cli(capsys, path, "--out", tmp_path / "out", "--no-annotated")
    assert code == 2 and "no person found in 40 frames" in err and "--min-area" in err
    summary = json.loads((tmp_path / "out" / "tracks.json").read_text())
    assert summary["counts"]["tracks"] == 0 and summary["frames"] == 40


def test_a_moving_camera_is_detected_not_tracked(tmp_path, capsys):
    path = video(tmp_path / "pan.avi", [Walker(1, x=100, y=10, speed=2.0)], pan=6.0)
    code, _, err = run_cli(capsys, path, "--out", tmp_path / "out", "--no-annotated")
    assert code == 2
    assert "the camera seems to move" in err and "static camera" in err
    summary = json.loads((tmp_path / "out" / "tracks.json").read_text())
    assert summary["counts"]["moving_camera_frames"] >= 30  # of 40
    assert summary["counts"]["kept"] == 0 and summary["warnings"]


def test_tracks_too_short_are_skipped_and_counted(tmp_path, capsys):
    walkers = [Walker(1, x=20, y=10, speed=2.0), Walker(2, x=200, y=10, speed=-2.0, first=5, last=14)]
    path = video(tmp_path / "brief.avi", walkers)
    code, out, _ = run_cli(capsys, path, "--out", tmp_path / "out")
    assert code == 0
    assert "2 found, 1 kept, 1 skipped as too short (< 15 silhouettes)" in out
    summary = json.loads((tmp_path / "out" / "tracks.json").read_text())
    short = [t for t in summary["tracks"] if t["status"] == "too short"]
    assert len(short) == 1 and short[0]["pkl"] is None and short[0]["silhouettes"] < 15
    assert sorted(p.name for p in (tmp_path / "out" / "silhouettes").iterdir()) == ["brief_001"]
    annotated = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    assert annotated.isOpened() and int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == 40


def test_bad_options_are_user_errors(tmp_path, capsys):
    path = video(tmp_path / "one.avi", [Walker(1, x=20, y=10, speed=2.0)], frames=5)
    code, _, err = run_cli(capsys, path, "--out", tmp_path / "out", "--annotated", tmp_path / "a.txt")
    assert code == 2 and "--annotated" in err and ".gif" in err
    code, _, err = run_cli(capsys, path, "--out", tmp_path / "out", "--min-frames", "0")
    assert code == 2 and "--min-frames must be >= 1" in err


def test_video_help_imports_no_torch():
    done = subprocess.run([sys.executable, "-c", "import sys\nfrom opengait_gaitbert.launcher.cli import main\n"
                           "try:\n    main(['video', '--help'])\nexcept SystemExit:\n    pass\n"
                           "print('torch' in sys.modules, 'opengait_gaitbert.video.command' in sys.modules)"],
                          cwd=ROOT, capture_output=True, text=True)
    assert "static camera" in done.stdout  # the help text was printed
    assert done.stdout.strip().splitlines()[-1] == "False True"
