"""Test-time completion: a pretraining checkpoint's network fills in what an occluder blanked."""
import pytest
import torch

from opengait_gaitbert.core import GaitBERTNet, NetworkConfig
from opengait_gaitbert.core.completion import complete, load_completer
from opengait_gaitbert.core.errors import CheckpointError, ConfigError
from tiny_model import UNET_RECIPE

SMALL = dict(**UNET_RECIPE, channels=[4, 8], embed_stride=2, temporal_dim=8, temporal_layers=1, temporal_heads=2,
             embed_dim=6, bin_num=[4], class_num=5)


def saved(tmp_path, name="pre.pt", **overrides):
    """An OpenGait-style checkpoint of a small network (``net.`` keys, its model_cfg stored)."""
    torch.manual_seed(0)
    cfg = {**SMALL, **overrides}
    net = GaitBERTNet(NetworkConfig(**cfg))
    path = tmp_path / name
    torch.save({"model": {f"net.{k}": v for k, v in net.state_dict().items()}, "model_cfg": cfg, "iteration": 3}, path)
    return path, net


def test_the_completer_is_the_checkpoints_network_in_eval_mode(tmp_path):
    path, net = saved(tmp_path)
    completer = load_completer(path)
    assert not completer.training and completer.config == net.config
    for name, tensor in net.state_dict().items():
        assert torch.equal(completer.state_dict()[name], tensor), name


def test_completion_keeps_what_the_probe_shows_and_takes_the_reconstruction_where_it_is_darker(tmp_path):
    completer = load_completer(saved(tmp_path)[0])
    packed = (torch.rand(1, 7, 64, 44) > 0.5).float()  # two test sequences as OpenGait packs them
    packed[:, :, :, :20] = 0.0  # a side occluder over every frame
    lengths = [[3, 4]]
    out = complete(completer, packed, lengths)
    with torch.no_grad():
        recon = torch.sigmoid(completer(packed, lengths, reconstruct=True)["reconstruction"])
    torch.testing.assert_close(out, torch.maximum(packed, recon))
    assert torch.all(out[packed == 1] == 1)  # every shown pixel kept
    assert out[:, :, :, :20].sum() > 0  # the occluded side filled in


@pytest.mark.parametrize("overrides,message", [
    ({"pretrain_fraction": 0.0}, r"was trained without a pretraining phase \(pretrain_fraction 0\): it has no decoder"),
])
def test_a_checkpoint_without_a_decoder_is_refused(tmp_path, overrides, message):
    path, _ = saved(tmp_path, **overrides)
    with pytest.raises(CheckpointError, match=r"model_cfg\.test_completion: .*pre\.pt " + message):
        load_completer(path)


def test_a_checkpoint_without_its_model_cfg_or_missing_is_refused(tmp_path):
    path, net = saved(tmp_path)
    torch.save({"model": {f"net.{k}": v for k, v in net.state_dict().items()}}, path)
    with pytest.raises(CheckpointError, match=r"stores no model_cfg.*checkpoint of masked-frame pretraining"):
        load_completer(path)
    with pytest.raises(CheckpointError, match=r"missing\.pt: checkpoint not found. Point it at a checkpoint"):
        load_completer(tmp_path / "missing.pt")


def test_test_completion_must_be_a_path_or_null():
    with pytest.raises(ConfigError, match=r"`test_completion` = 3 is invalid; allowed: null, or the path"):
        NetworkConfig(**{**SMALL, "test_completion": 3})
    assert NetworkConfig(**{**SMALL, "test_completion": "pre.pt"}).test_completion == "pre.pt"
