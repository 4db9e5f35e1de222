"""Pretraining without labels and fine-tuning, pure core: the head-less model, freezing,
learning rates per part, which checkpoint tensors fine-tuning restores, configs and partitions."""
import copy
import json

import pytest
import torch
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core import ConfigError, DataError, GaitBERTNet, NetworkConfig
from opengait_gaitbert.core.errors import CheckpointError
from opengait_gaitbert.core.config import validate_cfgs
from opengait_gaitbert.core.finetune import part_param_groups, restorable_state
from opengait_gaitbert.core.losses import masked_reconstruction_loss
from opengait_gaitbert.data import partition, synth
from tiny_model import UNET_RECIPE

SMALL = dict(**UNET_RECIPE, channels=[4, 8], embed_stride=2, temporal_dim=8, temporal_layers=1, temporal_heads=2,
             embed_dim=6, bin_num=[4], class_num=5)


def net(**overrides) -> GaitBERTNet:
    torch.manual_seed(0)
    return GaitBERTNet(NetworkConfig(**{**SMALL, **overrides}))


def prefixed(module) -> dict:
    """The state dict as the OpenGait adapter holds it (``self.net``)."""
    return {f"net.{k}": v for k, v in module.state_dict().items()}


def test_pretraining_model_has_no_identity_head_and_every_weight_learns_from_reconstruction():
    model = net(class_num=0)
    assert list(model.head.parameters()) == []
    sils = (torch.rand(2, 6, 64, 44) > 0.5).float()
    mask = torch.zeros_like(sils)
    mask[:, ::2] = 1
    out = model(sils)
    assert out["logits"] is None
    assert out["embeddings"].shape == (2, 8, 4)  # [b, channels[-1], parts]: the pooled bottleneck
    masked_reconstruction_loss(model(sils * (1 - mask), reconstruct=True)["reconstruction"], sils, mask).backward()
    # DDP's find_unused_parameters is not needed: nothing waits for an identity loss.
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_frozen_parts_get_no_gradient_and_keep_their_batchnorm_statistics():
    model = net(part_lr={"frame_embedding": 0.0, "encoder": 0.0})
    model.freeze(["frame_embedding", "encoder"])
    model.train()
    before = {k: v.clone() for k, v in model.encoder.state_dict().items() if "running" in k}
    clips = torch.rand(2, 6, 64, 44)
    (model(clips)["embeddings"].sum() + model(clips, reconstruct=True)["reconstruction"].sum()).backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.head.fc.grad is not None and all(p.grad is not None for p in model.temporal.parameters())
    after = model.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.decoder.training and not model.encoder.training


def test_parameter_groups_give_each_part_its_rate_and_leave_frozen_parts_out():
    model = net()
    model.freeze(["frame_embedding"])
    groups = part_param_groups(model.part_parameters(), {"frame_embedding": 0.0, "encoder": 0.01}, lr=0.1)
    rates = {g["name"]: g["lr"] for g in groups}
    assert rates == {"encoder": 0.01, "temporal": 0.1, "head": 0.1, "decoder": 0.1}
    grouped = sum(len(g["params"]) for g in groups)
    assert grouped == len([p for p in model.parameters() if p.requires_grad])
    assert torch.optim.SGD(groups, lr=0.1).param_groups[1]["lr"] == 0.1


def test_fine_tuning_restores_all_but_the_new_head():
    pretrained, fine_tune = prefixed(net(class_num=0)), prefixed(net(class_num=7))
    keep, fresh = restorable_state(fine_tune, pretrained, "pre.pt", "ft.yaml", ("net.head.",))
    assert set(keep) == set(pretrained)
    assert fresh == [k for k in fine_tune if k.startswith("net.head.")] and fresh


def test_a_head_trained_for_other_identities_is_dropped_not_loaded():
    other, fine_tune = prefixed(net(class_num=3)), prefixed(net(class_num=7))
    keep, fresh = restorable_state(fine_tune, other, "casiab.pt", "ft.yaml", ("net.head.",))
    assert "net.head.classifier" in fresh and "net.head.classifier" not in keep
    assert "net.head.fc" in keep  # same shape: restored


def test_a_checkpoint_of_another_width_is_refused_naming_file_and_tensors():
    with pytest.raises(CheckpointError, match=r"(?s)pre\.pt does not fit.*shape mismatches: net\.encoder\.levels\.1\.0\.weight: "
                                              r"checkpoint \[16, 4, 3, 3\] vs model \[8, 4, 3, 3\]"):
        restorable_state(prefixed(net()), prefixed(net(channels=[4, 16], class_num=0)), "pre.pt", "ft.yaml",
                         ("net.head.",))


def test_a_checkpoint_lacking_a_part_is_refused():
    state = {k: v for k, v in prefixed(net(class_num=0)).items() if not k.startswith("net.temporal.")}
    with pytest.raises(CheckpointError, match=r"tensors missing from the checkpoint: net\.temporal\."):
        restorable_state(prefixed(net()), state, "pre.pt", "ft.yaml", ("net.head.",))


def test_another_models_checkpoint_is_refused_by_name():
    gaitbase = {"Backbone.forward_block.0.weight": torch.zeros(3), "FCs.fc_bin": torch.zeros(2)}
    with pytest.raises(CheckpointError, match=r"ft\.yaml: restore_hint base\.pt holds no tensor of this GaitBERT"):
        restorable_state(prefixed(net()), gaitbase, "base.pt", "ft.yaml", ("net.head.",))


# -- configs ---------------------------------------------------------------------------------

def shipped(name: str) -> dict:
    return yaml.safe_load(config_path(name).read_text())


@pytest.mark.parametrize("name", ["gaitbert_pretrain_gaitlu1m.yaml", "gaitbert_pretrain_folder.yaml"])
def test_shipped_pretraining_configs_need_no_labels(name):
    parsed = validate_cfgs(shipped(name), training=True, source=name)
    assert parsed.network.class_num == 0 and parsed.loss_prefixes == ["gaitbert"]
    assert shipped(name)["trainer_cfg"]["sampler"]["type"] == "CommonSampler"


def test_shipped_fine_tuning_and_zero_shot_configs_are_valid():
    fine = validate_cfgs(shipped("gaitbert_finetune_casiab.yaml"), training=True, source="ft.yaml")
    assert fine.network.class_num == 74 and fine.network.part_lr["encoder"] < 0.1
    # fine-tuning trains the shipped default (no masked pass, no decoder, its part_lr) on the pretrained weights
    default = validate_cfgs(shipped("gaitbert_casiab.yaml"), training=True, source="casiab.yaml").network
    assert vars(fine.network) == vars(default) and not fine.network.has_decoder
    zero = validate_cfgs(shipped("gaitbert_zeroshot_casiab.yaml"), training=False, source="zs.yaml")
    assert zero.network.class_num == 0
    pretrained = shipped("gaitbert_pretrain_gaitlu1m.yaml")["model_cfg"]
    for name in ("gaitbert_finetune_casiab.yaml", "gaitbert_zeroshot_casiab.yaml"):  # restorable: same network
        other = shipped(name)["model_cfg"]
        for key in ("encoder", "channels", "embed_stride", "frame_size", "temporal", "temporal_layers", "bin_num"):
            assert other[key] == pretrained[key], (name, key)


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["loss_cfg"].append({"type": "CrossEntropyLoss", "log_prefix": "softmax"}),
     r"pre\.yaml: model_cfg\.class_num is 0 .* `softmax` CrossEntropyLoss"),
    (lambda c: c["trainer_cfg"]["sampler"].update(type="TripletSampler", batch_size=[4, 4]),
     r"sampler\.type = 'TripletSampler' draws P identities.*CommonSampler"),
])
def test_a_pretraining_config_that_asks_for_labels_fails_naming_the_key(edit, message):
    cfgs = copy.deepcopy(shipped("gaitbert_pretrain_folder.yaml"))
    edit(cfgs)
    with pytest.raises(ConfigError, match=message):
        validate_cfgs(cfgs, training=True, source="pre.yaml")


# -- partition ---------------------------------------------------------------------------------

def test_partition_lists_the_folders_with_sequences(tmp_path):
    synth.generate(tmp_path / "data", ids=4, seed=0, frames=8, views=["090"], types=["nm-01"], progress=False)
    (tmp_path / "data" / "empty" / "nm-01" / "090").mkdir(parents=True)
    split = partition.make_partition(tmp_path / "data", test=1)
    assert split == {"TRAIN_SET": ["001", "002", "003"], "TEST_SET": ["004"]}
    out = tmp_path / "p.json"
    args = type("Args", (), {"root": tmp_path / "data", "out": out, "test": 0})
    assert partition.main(args) == 0
    assert json.loads(out.read_text())["TRAIN_SET"] == ["001", "002", "003", "004"]


def test_partition_errors_name_the_folder_and_the_fix(tmp_path):
    with pytest.raises(DataError, match="no sequence in OpenGait's layout"):
        partition.make_partition(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        partition.make_partition(tmp_path / "missing")


def test_strict_restore_refuses_a_checkpoint_with_a_head_the_model_lacks():
    with pytest.raises(CheckpointError, match=r"(?s)extra tensors: net\.head\..*restore_ckpt_strict: false"):
        restorable_state(prefixed(net(class_num=0)), prefixed(net()), "ft.pt", "zs.yaml", ("net.head.",), strict=True)
    keep, fresh = restorable_state(prefixed(net()), prefixed(net()), "a.pt", "a.yaml", ("net.head.",), strict=True)
    assert fresh == [] and len(keep) == len(prefixed(net()))
