"""``visualize``: PNG grid and GIF animation of masked reconstruction, without OpenGait."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from real_data import casia_b_sample
from tiny_model import tiny_cfg
from opengait_gaitbert.core.masking import MaskingPolicy
from opengait_gaitbert.launcher import cli
from opengait_gaitbert.tools.checkpoint import load_model, masking_policy, preprocess
from opengait_gaitbert.tools.visualize import reconstruct, visualize

pytestmark = pytest.mark.usefixtures("one_thread")

H, W = 64, 44  # the network's frame size (64x64 pkl after BaseSilCuttingTransform)

TINY_CFG = tiny_cfg(extra="""
trainer_cfg:
  transform:
    - type: MaskedFrameSampler
      mode: frame
      ratio: 0.5
      seed: null
""")


def write_gif(path, seq: np.ndarray) -> None:
    """uint8 ``[T, H, W]`` frames as an animated GIF, as a user's recording would come."""
    frames = [Image.fromarray(f) for f in seq]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40, loop=0)


def grid_size(k: int, scale: int = 1):
    """PIL (width, height) of core.render's 4-row grid of k frames with 1-pixel gaps."""
    return (k * (W + 1) - 1) * scale, (4 * (H + 1) - 1) * scale


def walker(frames: int = 12, shape=(128, 96)) -> np.ndarray:
    """uint8 [T, H, W] of a boxy walker moving right, legs swinging."""
    seq = np.zeros((frames,) + shape, dtype=np.uint8)
    for t in range(frames):
        x = 20 + 2 * t
        swing = int(8 * np.sin(t / 2))
        cv2.circle(seq[t], (x + 12, 22), 9, 255, -1)
        cv2.rectangle(seq[t], (x, 32), (x + 24, 80), 255, -1)
        cv2.line(seq[t], (x + 12, 80), (x + 12 + swing, 118), 255, 7)
        cv2.line(seq[t], (x + 12, 80), (x + 12 - swing, 118), 255, 7)
    return seq




@pytest.fixture(scope="module")
def cfg_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(TINY_CFG)
    return path


@pytest.fixture(scope="module")
def net(cfg_path):
    torch.manual_seed(0)
    return load_model(cfg_path)[0]


def test_png_is_the_four_row_grid_and_reports_hidden_mse(net, tmp_path):
    out = tmp_path / "recon.png"
    policy = MaskingPolicy(mode="frame", ratio=0.5)
    result = visualize(net, walker(12), policy, out, max_frames=8, seed=3)

    assert result["frames"] == 8 and result["path"] == out
    image = Image.open(out)
    assert image.mode == "RGB" and image.size == grid_size(8)
    assert (result["width"], result["height"]) == grid_size(8)
    # frame mode, ratio 0.5 of 8 frames: 4 whole frames hidden.
    assert result["hidden"] == 4 * H * W
    assert 0.0 <= result["mse"] <= 1.0
    # The hidden frames are drawn red in the input row: red columns exist, with no green there.
    row0 = np.asarray(image)[:H]
    red = (row0[..., 0] > 100) & (row0[..., 1] < 80)
    assert red.any(axis=0).sum() >= 4 * W


def test_same_seed_same_picture_other_seed_other_mask(net, tmp_path):
    # patch mode: a huge mask space (a 4-frame span of 10 frames has 7 places, where seeds 0 and 1 coincide)
    policy = MaskingPolicy(mode="patch", ratio=0.4)
    a = visualize(net, walker(10), policy, tmp_path / "a.png", max_frames=10, seed=1)
    b = visualize(net, walker(10), policy, tmp_path / "b.png", max_frames=10, seed=1)
    assert a["mse"] == b["mse"]
    assert np.array_equal(np.asarray(Image.open(a["path"])), np.asarray(Image.open(b["path"])))
    # Every seed its own mask, and visualize draws the seed's mask: four seeds, four masks, four pictures.
    clip = preprocess(walker(10))[:10].numpy()
    masks = [reconstruct(net, clip, policy, seed=s)["mask"] for s in range(4)]
    assert len({m.tobytes() for m in masks}) == 4
    pictures = [np.asarray(Image.open(visualize(net, walker(10), policy, tmp_path / f"{s}.png", max_frames=10,
                                                seed=s)["path"])) for s in range(4)]
    assert all(not np.array_equal(pictures[i], pictures[j]) for i in range(4) for j in range(i))
    assert np.array_equal(pictures[1], np.asarray(Image.open(a["path"])))


def test_gif_has_one_frame_per_time_step_with_four_panels(net, tmp_path):
    out = tmp_path / "recon.gif"
    result = visualize(net, walker(12), MaskingPolicy(mode="patch", ratio=0.5, patch_size=16, patches_per_frame=2), out,
                       max_frames=6, seed=0, scale=2)
    gif = Image.open(out)
    assert gif.n_frames == 6 == result["frames"]
    assert gif.size == ((4 * (W + 1) - 1) * 2, H * 2)  # four panels side by side, enlarged 2x
    assert 0 < result["hidden"] <= 3 * 2 * 16 * 16  # 3 frames x 2 patches of 16x16


def test_short_sequence_shows_all_its_frames(net, tmp_path):
    result = visualize(net, walker(5), MaskingPolicy(), tmp_path / "s.png", max_frames=16)
    assert result["frames"] == 5
    assert Image.open(result["path"]).size == grid_size(5)


def test_cli_reads_gif_with_checkpoint_and_config_defaults(cfg_path, net, tmp_path, capsys):
    seq = tmp_path / "walk.gif"
    write_gif(seq, walker(14))
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"model": {f"net.{k}": v for k, v in net.state_dict().items()}, "iteration": 1}, ckpt)

    out = tmp_path / "pics" / "cli.png"
    code = cli.main(["visualize", "--cfgs", str(cfg_path), "--ckpt", str(ckpt), "--seq", str(seq),
                     "--frames", "7", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert Image.open(out).size == grid_size(7)
    assert "mode=frame ratio=0.5" in printed  # the config's MaskedFrameSampler
    assert "hidden-position MSE:" in printed and str(out) in printed


def test_cli_rejects_unknown_picture_type(cfg_path, tmp_path, capsys):
    code = cli.main(["visualize", "--cfgs", str(cfg_path), "--seq", str(tmp_path),
                     "--out", str(tmp_path / "x.jpg")])
    err = capsys.readouterr().err
    assert code == 2 and "x.jpg" in err and ".png" in err and ".gif" in err


def test_cli_names_an_unreadable_sequence(cfg_path, tmp_path, capsys):
    missing = tmp_path / "nope.gif"
    code = cli.main(["visualize", "--cfgs", str(cfg_path), "--seq", str(missing),
                     "--out", str(tmp_path / "x.png")])
    assert code == 2 and str(missing) in capsys.readouterr().err


def test_cli_refuses_a_model_without_a_decoder(tmp_path, capsys):
    """Without a pretraining phase there is no decoder: nothing to draw, said with the fix."""
    cfg = tmp_path / "nodecoder.yaml"
    cfg.write_text(TINY_CFG.replace("  pretrain_fraction: 0.3\n", "  pretrain_fraction: 0\n"))
    seq = tmp_path / "walk.gif"
    write_gif(seq, walker(12))
    assert "pretrain_fraction: 0\n" in cfg.read_text()
    code = cli.main(["visualize", "--cfgs", str(cfg), "--seq", str(seq), "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and "pretrain_fraction is 0" in err and "gaitbert_casiab_bert.yaml" in err


def test_policy_overrides_keep_config_fields(cfg_path):
    cfg = load_model(cfg_path)[1]
    assert masking_policy(cfg, cfg_path).ratio == 0.5
    policy = masking_policy(cfg, cfg_path, mode="band", ratio=None)
    assert (policy.mode, policy.ratio) == ("band", 0.5)


@pytest.mark.data
def test_real_casia_b_gif(cfg_path, tmp_path, capsys):
    gif = casia_b_sample("nm.gif")
    out = tmp_path / "nm.png"
    code = cli.main(["visualize", "--cfgs", str(cfg_path), "--seq", str(gif), "--mode", "band",
                     "--frames", "10", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert Image.open(out).size == grid_size(10)
    assert "nm.gif: 10 frames, mode=band" in capsys.readouterr().out


def test_mode_override_of_a_mixture_takes_that_modes_ratio():
    cfg = {"trainer_cfg": {"transform": [{"type": "MaskedFrameSampler", "mode": ["band", "frame"],
                                          "ratio": [1.0, 0.3], "mode_weights": [2, 1]}]}}
    assert masking_policy(cfg).ratio == (1.0, 0.3)
    band = masking_policy(cfg, mode="band")
    assert (band.mode, band.ratio, band.mode_weights) == ("band", 1.0, None)
    assert masking_policy(cfg, mode="patch").ratio == MaskingPolicy.ratio  # not in the mixture: the default
    assert masking_policy(cfg, mode="frame", ratio=0.6).ratio == 0.6
