"""The latent pretraining target: an EMA teacher's bottleneck features of the clean clip, predicted at the
hidden cells of the masked one."""
import pytest
import torch

from opengait_gaitbert.core import ConfigError, GaitBERTNet, NetworkConfig
from opengait_gaitbert.core.latent import TEACHER_PARTS
from opengait_gaitbert.core.losses import masked_latent_loss
from tiny_model import UNET_RECIPE

SMALL = dict(**UNET_RECIPE, channels=[4, 8], embed_stride=2, temporal_dim=8, temporal_layers=1, temporal_heads=2,
             embed_dim=6, bin_num=[4], class_num=5, pretrain_target="latent")


def net(**overrides) -> GaitBERTNet:
    torch.manual_seed(0)
    return GaitBERTNet(NetworkConfig(**{**SMALL, **overrides})).train()


def clips():
    torch.manual_seed(1)
    clean = (torch.rand(2, 6, 64, 44) > 0.5).float()
    mask = torch.zeros_like(clean)
    mask[:, :, :16] = 1.0  # a band over the top quarter of every frame
    return clean * (1 - mask), clean, mask


def test_a_latent_network_has_a_teacher_and_a_predictor_but_no_decoder():
    model = net()
    assert model.config.has_teacher and not model.config.has_decoder
    assert not list(model.decoder.parameters())
    assert all(not p.requires_grad for p in model.latent.teacher.parameters())
    for name in TEACHER_PARTS:  # the teacher starts as the student
        for t, s in zip(getattr(model.latent.teacher, name).state_dict().values(), getattr(model, name).state_dict().values()):
            assert torch.equal(t, s)


def test_the_prediction_is_trained_at_the_hidden_cells_and_the_teacher_gets_no_gradient():
    model = net()
    masked, clean, mask = clips()
    out = model.forward_latent(masked, clean, mask)
    prediction, target, hidden = out["latent_prediction"], out["latent_target"], out["latent_mask"]
    frames = 2 * 6
    assert prediction.shape == target.shape == (frames, 8, 16, 11) and hidden.shape == (frames, 1, 16, 11)
    assert torch.all(hidden[:, :, :4] == 1) and torch.all(hidden[:, :, 4:] == 0)  # 16 rows / 4x downsampling
    torch.testing.assert_close(target.mean(dim=1), torch.zeros(frames, 16, 11), atol=1e-5, rtol=0)  # layer-normalised
    masked_latent_loss(prediction, target, hidden).backward()
    assert all(p.grad is None for p in model.latent.teacher.parameters())
    assert all(p.grad is not None for p in model.latent.predictor.parameters())
    assert model.encoder.levels[0][0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.head.parameters())  # pretraining reads no identity


def test_the_loss_ignores_visible_cells():
    prediction, target = torch.zeros(2, 3, 2, 2), torch.ones(2, 3, 2, 2)
    hidden = torch.zeros(2, 1, 2, 2)
    hidden[0, 0, 0, 0] = 1
    target[1] = 100.0  # a visible frame's error does not count
    assert masked_latent_loss(prediction, target, hidden).item() == pytest.approx(1.0)
    assert masked_latent_loss(prediction, target, torch.zeros_like(hidden)).item() == 0.0


def test_the_teacher_moves_a_momentum_share_towards_the_student():
    model = net()
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(1.0)
    before = [t.clone() for t in model.latent.teacher["encoder"].parameters()]
    model.latent.update(model, momentum=0.9)
    for t0, t, s in zip(before, model.latent.teacher["encoder"].parameters(), model.encoder.parameters()):
        torch.testing.assert_close(t, 0.9 * t0 + 0.1 * s)


@pytest.mark.parametrize("overrides,key,message", [
    ({"pretrain_target": "features"}, "pretrain_target", r"allowed: pixels \| latent"),
    ({"teacher_momentum": 1.0}, "teacher_momentum", r"allowed: a number in \(0, 1\)"),
])
def test_latent_options_are_checked(overrides, key, message):
    with pytest.raises(ConfigError, match=rf"`{key}` = .* is invalid; {message}"):
        NetworkConfig(**{**SMALL, **overrides})


def test_a_latent_target_without_a_pretraining_phase_is_refused():
    with pytest.raises(ConfigError, match=r"x\.yaml: `pretrain_target` is latent, but pretrain_fraction is 0: "
                                          r"nothing pretrains\. Set pretrain_fraction > 0"):
        NetworkConfig.from_dict({**SMALL, "pretrain_fraction": 0, "pretrain_target": "latent"}, where="x.yaml")


def test_a_teacher_momentum_without_the_latent_target_is_refused():
    with pytest.raises(ConfigError, match=r"x\.yaml: `teacher_momentum` is set, but only the latent pretraining "
                                          r"target has a teacher"):
        NetworkConfig.from_dict({**SMALL, "pretrain_target": "pixels", "teacher_momentum": 0.9}, where="x.yaml")
    assert NetworkConfig.from_dict({**SMALL, "teacher_momentum": 0.9}).teacher_momentum == 0.9
