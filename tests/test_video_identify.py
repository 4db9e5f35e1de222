"""``identify`` and ``embed`` with videos: walkers of one video found again in another.

What this proves, and what not: a tiny GaitBERT is trained here for a few steps on
``synth``'s own pretreated sequences (other recordings, nm-03..nm-06) of the three
walkers that the two videos show. The videos differ in background, codec noise,
clothes colour, order, place, speed, start phase and cadence jitter (synth's
nm-01 vs nm-02 nuisance), and each walker is found by the video front end in
both. Every probe track ranking its own walker first shows that the front end's
silhouettes carry the same identity signal as ``pretreat``'s, end to end through
the CLI. It is a closed set of three people the model was trained on (all three
right by chance: 1 in 27), not a test of GaitBERT on unseen people. Over torch
seeds 0-4 this recipe ranked all 15 probe tracks right (the nearest wrong walker
at least 1.35 times as far as the right one); with two training recordings per
walker instead of four, 1 of 15 was wrong.
"""
import json

import numpy as np
import pytest
import torch

from tiny_model import fit_identities, tiny_cfg
from opengait_gaitbert.data.synth import synth_sequence
from opengait_gaitbert.launcher import cli
from opengait_gaitbert.tools.checkpoint import load_model, preprocess
from opengait_gaitbert.video.pipeline import process_video
from video_scene import (IDS, SIZE, Walker, gallery_walkers, match_tracks, probe_walkers,
                         render_scene, track_boxes)

pytestmark = pytest.mark.usefixtures("one_thread")

FRAMES = 120
TRAIN_TYPES = ("nm-03", "nm-04", "nm-05", "nm-06")
TRAIN_STEPS = 10
TRAIN_FRAMES = 15


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(config, checkpoint) of a tiny GaitBERT after a few cross-entropy steps on synth's
    pretreated sequences of the three walkers (side view, types the videos do not use)."""
    root = tmp_path_factory.mktemp("model")
    cfg = root / "cfg.yaml"
    cfg.write_text(tiny_cfg())
    torch.manual_seed(0)
    net = load_model(cfg)[0]
    train = [(label, preprocess(synth_sequence(0, id_num, seq_type, "090", TRAIN_FRAMES)))
             for label, id_num in enumerate(IDS) for seq_type in TRAIN_TYPES]
    sils = torch.stack([s for _, s in train])  # [12, 15, 64, 44]
    fit_identities(net, sils, torch.tensor([label for label, _ in train]), TRAIN_STEPS)
    ckpt = root / f"GaitBERT-{TRAIN_STEPS:05d}.pt"
    torch.save({"model": {f"net.{k}": v for k, v in net.state_dict().items()}, "iteration": TRAIN_STEPS},
               ckpt)
    return cfg, ckpt


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    gallery = render_scene(gallery_walkers("nm-01"), FRAMES, size=SIZE, seed=0)
    probe = render_scene(probe_walkers("nm-02"), FRAMES, size=SIZE, seed=1)
    return gallery, gallery.write_video(root / "gallery.avi"), probe, probe.write_video(root / "probe.avi")


def walker_of(scene, boxes):
    """Track name -> synth id of the walker it follows."""
    return {name: scene.walkers[k].id_num for k, name in match_tracks(scene, boxes).items()}


def test_walkers_are_identified_across_two_videos(model, videos, tmp_path, capsys):
    cfg, ckpt = model
    gallery_scene, gallery_avi, probe_scene, probe_avi = videos
    assert cli.main(["video", str(gallery_avi), "--out", str(tmp_path / "gallery"), "--no-annotated",
                     "--no-progress"]) == 0
    ranking = tmp_path / "ranking.json"
    code = cli.main(["identify", "--cfgs", str(cfg), "--ckpt", str(ckpt), "--gallery",
                     str(tmp_path / "gallery" / "silhouettes"), "--probe", str(probe_avi),
                     "--topk", "3", "--json", str(ranking)])
    printed = capsys.readouterr().out
    assert code == 0
    assert printed.count("top identities:") == 3 and "probe probe_001" in printed

    summary = json.loads((tmp_path / "gallery" / "tracks.json").read_text())
    gallery_id = walker_of(gallery_scene, {t["name"]: [(b[0], np.array(b[1:5])) for b in t["boxes"]]
                                           for t in summary["tracks"]})
    probe_id = walker_of(probe_scene, track_boxes(process_video(probe_avi, progress=False)))
    assert sorted(gallery_id.values()) == sorted(probe_id.values()) == sorted(IDS)
    probes = json.loads(ranking.read_text())["probes"]
    assert sorted(p["probe"]["id"] for p in probes) == sorted(probe_id)
    for result in probes:
        ranked = [gallery_id[m["id"]] for m in result["identities"]]
        assert ranked[0] == probe_id[result["probe"]["id"]], (result["probe"]["id"], result["identities"])
        assert result["probe"]["path"] == f"{probe_avi}#{result['probe']['id'][-3:].lstrip('0')}"


def test_embed_takes_a_video(model, tmp_path):
    cfg, ckpt = model
    # 4 pixels a frame: over 30 frames the walker must leave each place free most of the time, or
    # the median background of the clip would show the walker itself.
    scene = render_scene([Walker(IDS[0], x=20, y=10, speed=4.0)], 30, size=(360, 150))
    path = scene.write_video(tmp_path / "walk.avi")
    out = tmp_path / "walk.npz"
    assert cli.main(["embed", "--cfgs", str(cfg), "--ckpt", str(ckpt), "--data", str(path),
                     "--out", str(out)]) == 0
    stored = np.load(out)
    assert stored["embeddings"].shape == (1, 32, 16)
    assert stored["ids"].tolist() == ["walk_001"] and stored["paths"].tolist() == [f"{path}#1"]


def test_a_missing_video_is_named_as_a_video(model, tmp_path, capsys):
    cfg, ckpt = model
    missing = tmp_path / "street.mp4"
    assert cli.main(["identify", "--cfgs", str(cfg), "--ckpt", str(ckpt), "--gallery", str(missing),
                     "--probe", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Pass a video file" in err
