"""Reconstruction loss math on hand-computed cases; hidden positions only."""
import math

import pytest
import torch

from opengait_gaitbert.core import ConfigError
from opengait_gaitbert.core.losses import LossConfig, hidden_psnr, masked_reconstruction_loss, nearest_visible_frame_baseline


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
    assert masked_reconstruction_loss(logits, target, mask).item() == pytest.approx(expected, rel=1e-5)


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


def test_loss_config_defaults_and_errors_name_the_key():
    assert LossConfig.from_dict({"type": "GaitBERTLoss", "log_prefix": "gaitbert"}, "x.yaml") == LossConfig()
    assert LossConfig.from_dict({"margin": 0.3}, "x.yaml").margin == 0.3
    with pytest.raises(ConfigError, match=r"x\.yaml: unknown key `margn`\. Did you mean `margin`"):
        LossConfig.from_dict({"margn": 0.3}, "x.yaml")
    with pytest.raises(ConfigError, match=r"x\.yaml: `triplet_weight` = -1 is invalid; allowed: a number >= 0"):
        LossConfig.from_dict({"triplet_weight": -1}, "x.yaml")
    with pytest.raises(ConfigError, match=r"`margin` = True is invalid"):
        LossConfig.from_dict({"margin": True}, "x.yaml")


@pytest.mark.parametrize("key", ["feature_weight", "reconstruction", "positions"])
def test_a_retired_loss_key_says_why_and_the_fix(key):
    with pytest.raises(ConfigError, match=rf"x\.yaml: `{key}` was removed on 2026-12-07: .*Delete the key\."):
        LossConfig.from_dict({key: 1}, "x.yaml")
