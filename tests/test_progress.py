"""Progress on stderr: a bar on a terminal, a few plain lines in a log (no carriage returns)."""
import io

import cv2
import numpy as np
import pytest

from opengait_gaitbert.progress import LINE_EVERY, LINES_PER_RUN, progress
from opengait_gaitbert.tools.checkpoint import load_model
from opengait_gaitbert.tools.identify import embed_folder
from opengait_gaitbert.video.pipeline import process_video


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("total", [3, 25, 1000])
def test_a_log_gets_a_line_per_tenth_ending_at_the_total(total):
    log = io.StringIO()  # not a terminal, as stderr redirected to a file or a pipe
    assert list(progress(range(total), "embedding g/", "seq", stream=log)) == list(range(total))
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == min(total, LINES_PER_RUN) and lines[-1] == f"embedding g/: {total}/{total} seq"
    counts = [int(line.split(": ")[1].split("/")[0]) for line in lines]
    assert counts == sorted(set(counts))  # each line reports more than the one before


def test_a_log_without_a_total_gets_a_line_every_so_many_items():
    log = io.StringIO()
    items = (i for i in range(2 * LINE_EVERY + 7))  # a generator: no len()
    assert sum(1 for _ in progress(items, "Tracking v.avi", "frame", stream=log)) == 2 * LINE_EVERY + 7
    assert log.getvalue().splitlines() == [f"Tracking v.avi: {LINE_EVERY}/? frame",
                                           f"Tracking v.avi: {2 * LINE_EVERY}/? frame",
                                           f"Tracking v.avi: {2 * LINE_EVERY + 7}/{2 * LINE_EVERY + 7} frame"]


def test_a_terminal_gets_a_bar_and_disabled_progress_prints_nothing():
    terminal = Terminal()
    list(progress(range(50), "Synthesising", "seq", stream=terminal))
    assert "\r" in terminal.getvalue() and "50/50" in terminal.getvalue()  # tqdm redraws in place
    quiet = Terminal()
    assert list(progress(range(5), "x", enabled=False, stream=quiet)) == list(range(5))
    assert quiet.getvalue() == ""


def test_embed_writes_plain_progress_lines_when_stderr_is_not_a_terminal(tiny_gallery, capsys):
    root, cfg = tiny_gallery
    net = load_model(cfg)[0]
    embedded = embed_folder(net, root, progress=True)
    assert embedded.embeddings.shape[0] == 25
    err = capsys.readouterr().err  # pytest's captured stderr is not a terminal
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == LINES_PER_RUN and lines[-1] == f"embedding {root}: 25/25 seq"


def test_video_tracking_writes_plain_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    for t in range(40):  # an empty static scene: nobody to track, every frame still read
        cv2.imwrite(str(frames / f"{t:03d}.png"), np.full((48, 64, 3), 90, np.uint8))
    result = process_video(frames, progress=True)
    err = capsys.readouterr().err
    assert result.frames == 40 and "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("Tracking frames")]
    assert len(lines) == LINES_PER_RUN and lines[-1] == "Tracking frames: 40/40 frame"
