"""Reconstruction loss math on hand-computed cases; hidden positions only."""
import math

import pytest
import torch

from opengait_gaitbert.core import ConfigError
from opengait_gaitbert.core.losses import (check_reconstruction_options, feature_prediction_loss, hidden_psnr,
                                           masked_reconstruction_loss, nearest_visible_frame_baseline)


def logit(p):
    return math.log(p / (1 - p))


def case():
    """2 pixels hidden: predictions 0.5 and 0.9 against targets 1 and 0."""
    target = torch.tensor([1.0, 0.0, 1.0, 0.0]).reshape(1, 1, 2, 2)
    mask = torch.tensor([1.0, 1.0, 0.0, 0.0]).reshape(1, 1, 2, 2)
    logits = torch.tensor([logit(0.5), logit(0.9), logit(0.2), logit(0.7)]).reshape(1, 1, 2, 2)
    return logits, target, mask


def test_mse_on_hidden_positions():
    logits, target, mask = case()
    expected = ((0.5 - 1) ** 2 + (0.9 - 0) ** 2) / 2
    assert masked_reconstruction_loss(logits, target, mask, "mse").item() == pytest.approx(expected, rel=1e-5)


def test_l1_and_bce_and_all_positions():
    logits, target, mask = case()
    assert masked_reconstruction_loss(logits, target, mask, "l1").item() == pytest.approx((0.5 + 0.9) / 2, rel=1e-5)
    bce = (-math.log(0.5) - math.log(0.1)) / 2
    assert masked_reconstruction_loss(logits, target, mask, "bce").item() == pytest.approx(bce, rel=1e-5)
    everything = (0.25 + 0.81 + 0.64 + 0.49) / 4
    assert masked_reconstruction_loss(logits, target, mask, "mse", "all").item() == pytest.approx(everything, rel=1e-5)


def test_visible_positions_do_not_count():
    logits, target, mask = case()
    before = masked_reconstruction_loss(logits, target, mask)
    changed = logits.clone()
    changed[mask == 0] = 20.0
    assert masked_reconstruction_loss(changed, target, mask).item() == pytest.approx(before.item())
    logits.requires_grad_(True)
    masked_reconstruction_loss(logits, target, mask).backward()
    assert torch.all(logits.grad[mask == 0] == 0) and torch.all(logits.grad[mask == 1] != 0)


def test_fp16_inputs_give_fp32_loss():
    logits, target, mask = case()
    assert masked_reconstruction_loss(logits.half(), target.half(), mask.half()).dtype == torch.float32


def test_empty_mask_is_zero_not_nan():
    logits, target, mask = case()
    assert masked_reconstruction_loss(logits, target, torch.zeros_like(mask)).item() == 0.0


def test_psnr():
    logits, target, mask = case()
    mse = ((0.5 - 1) ** 2 + 0.9 ** 2) / 2
    assert hidden_psnr(logits, target, mask).item() == pytest.approx(-10 * math.log10(mse), rel=1e-5)


def test_nearest_visible_frame_copy():
    target = torch.arange(5.0).reshape(1, 5, 1, 1).expand(1, 5, 2, 2).clone()
    mask = torch.zeros_like(target)
    mask[0, 1:3] = 1.0  # frames 1 and 2 hidden: copies of frames 0 and 3
    copy, mse = nearest_visible_frame_baseline(target, mask)
    assert copy[0, :, 0, 0].tolist() == [0, 0, 3, 3, 4]
    assert mse.item() == pytest.approx(1.0)


def test_bad_options():
    with pytest.raises(ConfigError, match="Did you mean `mse`"):
        check_reconstruction_options("mes", "hidden", "x.yaml: loss_cfg")
    with pytest.raises(ConfigError, match="`positions`"):
        check_reconstruction_options("mse", "visible", "x.yaml: loss_cfg")


def test_seen_positions_leave_out_places_no_frame_shows():
    """``positions: seen``: a place hidden in every frame of a clip (a whole-clip static occluder) is
    not a reconstruction target; a place hidden in some frames only still is, in every clip."""
    target = torch.zeros(2, 3, 4, 4)
    logits = torch.full((2, 3, 4, 4), 20.0)  # sigmoid ~ 1: error 1 on every pixel
    mask = torch.zeros(2, 3, 4, 4)
    mask[:, :, 0, :] = 1  # row 0 hidden in every frame: no frame shows it
    mask[:, 1, 3, 0] = 1  # one pixel hidden in frame 1 only
    logits[:, :, 0, :] = 0.0  # error 0.25 on the never-shown row, so it would change the mean
    assert masked_reconstruction_loss(logits, target, mask, "mse", "seen").item() == pytest.approx(1.0, abs=1e-6)
    assert masked_reconstruction_loss(logits, target, mask, "mse", "hidden").item() == pytest.approx(
        (24 * 0.25 + 2 * 1.0) / 26, abs=1e-6)
    mask[1, 2, 0, 2] = 0  # clip 1 shows one place of row 0 in its last frame: it counts again, there only
    seen = masked_reconstruction_loss(logits, target, mask, "mse", "seen").item()
    assert seen == pytest.approx((2 * 1.0 + 2 * 0.25) / 4, abs=1e-6)


def test_feature_prediction_is_one_minus_cosine_per_part():
    """Part 0 points the same way at another scale (loss 0), part 1 at right angles (loss 1): mean 0.5."""
    target = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # [b=1, e=2, p=2]: part 0 = (1, 0), part 1 = (0, 1)
    predicted = torch.tensor([[[3.0, 1.0], [0.0, 0.0]]])  # part 0 = (3, 0), part 1 = (1, 0)
    assert feature_prediction_loss(predicted, target).item() == pytest.approx(0.5, abs=1e-6)


def test_feature_prediction_moves_the_masked_view_only():
    """The clean view is a stop-gradient teacher: moving both let earlier consistency terms collapse."""
    predicted = torch.randn(2, 4, 3, requires_grad=True)
    target = torch.randn(2, 4, 3, requires_grad=True)
    feature_prediction_loss(predicted, target).backward()
    assert predicted.grad.abs().sum() > 0 and target.grad is None
    assert feature_prediction_loss(predicted.half(), target.half()).dtype == torch.float32
