"""Validation of GaitBERT's config sections against the shipped configs."""
import copy

import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core import ConfigError
from opengait_gaitbert.core.config import validate_cfgs


@pytest.fixture(params=["gaitbert_casiab.yaml", "gaitbert_casiab_resnet9.yaml", "gaitbert_demo.yaml"])
def cfgs(request):
    return yaml.safe_load(config_path(request.param).read_text())


def test_shipped_configs_are_valid(cfgs):
    parsed = validate_cfgs(cfgs, training=True, source="shipped.yaml")
    assert parsed.masking.mode == ("patch", "band", "moving", "frame")
    assert parsed.loss_prefixes == ["gaitbert", "softmax"]
    assert cfgs["trainer_cfg"]["sampler"]["sample_type"] == "unfixed_ordered"  # variable clip lengths
    assert parsed.network.padded_size[0] % parsed.network.downsampling == 0


def edit(cfgs, path, value):
    cfgs = copy.deepcopy(cfgs)
    node = cfgs
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return cfgs


@pytest.mark.parametrize("path,value,match", [
    (["model_cfg", "temporal_heads"], 3, r"x.yaml: model_cfg: `temporal_heads` = 3"),
    (["model_cfg", "bin_nums"], [16], r"unknown key `bin_nums`. Did you mean `bin_num`"),
    (["trainer_cfg", "transform", 0, "ratoi"], 0.5, r"trainer_cfg.transform \(MaskedFrameSampler\): unknown key `ratoi`. Did you mean `ratio`"),
    (["trainer_cfg", "transform", 0, "ratio"], 1.5, r"`ratio` = 1.5"),
    (["trainer_cfg", "transform", 0, "type"], "BaseSilCuttingTransform", "has no `MaskedFrameSampler`"),
    (["trainer_cfg", "sampler", "sample_type"], "fixed_unordered", "fixed_ordered"),
    (["trainer_cfg", "sampler", "frames_skip_num"], KeyError, "frames_skip_num"),
    (["trainer_cfg", "sampler", "frames_num_min"], KeyError, r"`frames_num_min` <= `frames_num_max` \(got None, (30|40)\)"),
    (["trainer_cfg", "sampler", "frames_num_max"], 5, r"\(got 10, 5\)"),
    (["loss_cfg", 0, "margn"], 0.2, r"unknown key `margn`. Did you mean `margin`"),
    (["loss_cfg", 0, "log_prefix"], "triplet", "`log_prefix` must be `gaitbert`"),
    (["loss_cfg", 0, "reconstruction"], "l2", "`reconstruction` = 'l2'"),
    (["loss_cfg", 1, "log_prefix"], "softmx", "Did you mean `softmax`"),
])
def test_config_errors_name_file_and_key(cfgs, path, value, match):
    with pytest.raises(ConfigError, match=match):
        validate_cfgs(edit(cfgs, path, value), training=True, source="x.yaml")


def test_reconstruction_only_needs_find_unused_parameters(cfgs):
    cfgs = edit(edit(cfgs, ["loss_cfg", 0, "triplet_weight"], 0), ["trainer_cfg", "find_unused_parameters"], False)
    with pytest.raises(ConfigError, match="find_unused_parameters: true"):
        validate_cfgs(cfgs, training=True, source="x.yaml")
    cfgs["trainer_cfg"]["find_unused_parameters"] = True
    assert validate_cfgs(cfgs, training=True, source="x.yaml").loss_prefixes == ["gaitbert", "softmax"]


def test_test_phase_needs_no_sampler_or_loss(cfgs):
    cfgs = edit(edit(cfgs, ["trainer_cfg", "transform"], []), ["loss_cfg"], [])
    assert validate_cfgs(cfgs, training=False, source="x.yaml").masking is None


def test_resnet9_recipe_is_the_casiab_recipe_with_gaitbase_s_encoder():
    """gaitbert_casiab_resnet9.yaml may differ from gaitbert_casiab.yaml only in the encoder keys
    and the checkpoint name, so that the two cannot drift apart."""
    casiab, resnet9 = (yaml.safe_load(config_path(name).read_text())
                       for name in ("gaitbert_casiab.yaml", "gaitbert_casiab_resnet9.yaml"))
    assert resnet9["model_cfg"].pop("encoder") == "resnet9"
    assert resnet9["model_cfg"].pop("channels") == [64, 128, 256, 512]
    assert (resnet9["model_cfg"].pop("embed_stride"), casiab["model_cfg"].pop("embed_stride")) == (1, 2)
    casiab["model_cfg"].pop("channels")
    for section in ("trainer_cfg", "evaluator_cfg"):
        assert resnet9[section].pop("save_name") == "GaitBERT_resnet9"
        casiab[section].pop("save_name")
    assert resnet9 == casiab
