"""Validation of GaitBERT's config sections against the shipped configs."""
import copy

import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core import ConfigError
from opengait_gaitbert.core.config import validate_cfgs


#: the configs that pretrain on masked frames, then fine-tune, in one run
PHASED = ["gaitbert_casiab_bert.yaml"]
#: the configs that train on identities from the first step: the default and its variants
SUPERVISED = ["gaitbert_casiab.yaml", "gaitbert_casiab_transformer.yaml", "gaitbert_casiab_unet.yaml", "gaitbert_demo.yaml",
              "gaitbert_oumvlp.yaml", "gaitbert_grew.yaml", "gaitbert_gait3d.yaml", "gaitbert_sustech1k.yaml"]


def load(name):
    return yaml.safe_load(config_path(name).read_text())


@pytest.fixture(params=PHASED)
def cfgs(request):
    return load(request.param)


@pytest.mark.parametrize("name", PHASED)
def test_shipped_configs_pretrain_then_fine_tune(name):
    cfgs = load(name)
    parsed = validate_cfgs(cfgs, training=True, source=name)
    assert parsed.network.pretrain_fraction == 0.3 and parsed.network.has_decoder
    # pretraining runs at the starting learning rate; the milestones fall in the fine-tuning phase
    boundary = parsed.network.pretrain_iterations(cfgs["trainer_cfg"]["total_iter"])
    assert min(cfgs["scheduler_cfg"]["milestones"]) > boundary
    assert parsed.masking.mode == ("patch", "band", "moving", "frame")
    assert parsed.loss_prefixes == ["gaitbert", "softmax"]


@pytest.mark.parametrize("name", SUPERVISED)
def test_shipped_configs_train_on_identities_from_the_first_step(name):
    parsed = validate_cfgs(load(name), training=True, source=name)
    assert parsed.network.pretrain_fraction == 0 and not parsed.network.has_decoder and parsed.masking is None
    assert parsed.loss_prefixes == ["gaitbert", "softmax"]
    assert load(name)["trainer_cfg"]["sampler"]["sample_type"] == "unfixed_ordered"  # variable clip lengths
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
    (["trainer_cfg", "transform", 0, "ratoi"], 0.5,
     r"trainer_cfg.transform \(MaskedFrameSampler\): unknown key `ratoi`. Did you mean `ratio`"),
    (["trainer_cfg", "transform", 0, "ratio"], 1.5, r"`ratio` = 1.5"),
    (["trainer_cfg", "transform", 0, "type"], "BaseSilCuttingTransform", "has no `MaskedFrameSampler`"),
    (["trainer_cfg", "sampler", "sample_type"], "fixed_unordered", "fixed_ordered"),
    (["trainer_cfg", "sampler", "frames_skip_num"], KeyError, "frames_skip_num"),
    (["trainer_cfg", "sampler", "frames_num_min"], KeyError, r"`frames_num_min` <= `frames_num_max` \(got None, (30|40)\)"),
    (["trainer_cfg", "sampler", "frames_num_max"], 5, r"\(got 10, 5\)"),
    (["loss_cfg", 0, "margn"], 0.2, r"unknown key `margn`. Did you mean `margin`"),
    (["loss_cfg", 0, "log_prefix"], "triplet", "`log_prefix` must be `gaitbert`"),
    (["loss_cfg", 0, "reconstruction"], "l2", r"`reconstruction` was removed on 2026-12-07"),
    (["trainer_cfg", "transform", 0, "bert_policy"], False,
     r"x.yaml: trainer_cfg.transform \(MaskedFrameSampler\): `bert_policy` .*was removed on 2026-12-07.*Delete the key"),
    (["trainer_cfg", "transform", 0, "span_count"], 1, r"`span_count` .*was removed on 2026-12-07"),
    (["trainer_cfg", "transform", 0, "mode"], ["band", "span"],
     r"x.yaml: trainer_cfg.transform \(MaskedFrameSampler\): `mode: span` .*was removed.*`band` and `moving`"),
    (["model_cfg", "temporal"], "none", r"x.yaml: model_cfg: `temporal: none` was removed on 2026-12-07.*`temporal: conv`"),
    (["model_cfg", "reconstruct_fraction"], 0.125, r"`reconstruct_fraction` was removed on 2026-12-07.*pretrain_fraction"),
    (["model_cfg", "pretrain_fraction"], 1.0, r"`pretrain_fraction` = 1.0 is invalid; allowed: a number in \[0, 1\)"),
    (["trainer_cfg", "find_unused_parameters"], False, r"pretraining steps leave the identity head without a gradient"),
    (["loss_cfg", 1, "log_prefix"], "softmx", "Did you mean `softmax`"),
])
def test_config_errors_name_file_and_key(cfgs, path, value, match):
    with pytest.raises(ConfigError, match=match):
        validate_cfgs(edit(cfgs, path, value), training=True, source="x.yaml")


def test_a_fine_tuning_run_without_the_triplet_needs_find_unused_parameters():
    cfgs = edit(edit(load("gaitbert_casiab.yaml"), ["loss_cfg", 0, "triplet_weight"], 0),
                ["trainer_cfg", "find_unused_parameters"], False)
    with pytest.raises(ConfigError, match="with triplet_weight 0, part of the embedding head gets none.*"
                                          "find_unused_parameters: true"):
        validate_cfgs(cfgs, training=True, source="x.yaml")
    cfgs["trainer_cfg"]["find_unused_parameters"] = True
    assert validate_cfgs(cfgs, training=True, source="x.yaml").loss.triplet_weight == 0


def test_test_phase_needs_no_sampler_or_loss(cfgs):
    cfgs = edit(edit(cfgs, ["trainer_cfg", "transform"], []), ["loss_cfg"], [])
    assert validate_cfgs(cfgs, training=False, source="x.yaml").masking is None


TEMPORAL_KEYS = {"temporal", "temporal_dim", "temporal_layers", "temporal_heads", "temporal_window"}
ENCODER_KEYS = {"encoder", "channels", "embed_stride"}


def differing_model_keys(default: dict, other: dict) -> set:
    return {k for k in set(default["model_cfg"]) | set(other["model_cfg"])
            if default["model_cfg"].get(k) != other["model_cfg"].get(k)}


def without_save_names(cfg: dict) -> dict:
    cfg = copy.deepcopy(cfg)
    for section in ("trainer_cfg", "evaluator_cfg"):
        cfg[section].pop("save_name")
    return cfg


@pytest.mark.parametrize("name,keys", [
    ("gaitbert_casiab_transformer.yaml", TEMPORAL_KEYS),
    ("gaitbert_casiab_unet.yaml", ENCODER_KEYS | TEMPORAL_KEYS),
])
def test_other_casiab_recipes_differ_from_the_default_in_their_model_keys_only(name, keys):
    """The other CASIA-B networks may differ from gaitbert_casiab.yaml only in the model keys that
    make them what they are and the checkpoint name, so that they cannot drift apart."""
    default, other = load("gaitbert_casiab.yaml"), load(name)
    assert differing_model_keys(default, other) == keys
    for cfg in (default, other):
        for key in keys:
            cfg["model_cfg"].pop(key, None)
    assert other["trainer_cfg"]["save_name"] == "GaitBERT_" + name[len("gaitbert_casiab_"):-len(".yaml")]
    assert without_save_names(other) == without_save_names(default)


#: GaitBase's learning-rate milestones for CASIA-B (its 60000 iterations)
GAITBASE_MILESTONES = [20000, 40000, 50000]


def test_berts_recipe_is_the_default_network_with_a_pretraining_phase_on_gaitbases_schedule():
    """gaitbert_casiab_bert.yaml is the default with pretrain_fraction 0.3 and what only pretraining
    reads (the target, test-time completion, the sampler, the reconstruction weight, unused-parameter
    detection), on the schedule it was measured with: one learning rate for every part (a tenth for the
    backbone would slow its pretraining too) and GaitBase's milestones placed in its fine-tuning phase.
    Nothing else differs."""
    bert, default = load("gaitbert_casiab_bert.yaml"), load("gaitbert_casiab.yaml")
    parsed = validate_cfgs(default, training=True, source="gaitbert_casiab.yaml")
    assert parsed.masking is None and not parsed.network.has_decoder
    pretraining_keys = {"pretrain_fraction", "pretrain_target", "test_completion"}
    assert differing_model_keys(bert, default) == {"pretrain_fraction", "part_lr"}
    assert "part_lr" not in bert["model_cfg"] and default["model_cfg"]["part_lr"]
    del default["model_cfg"]["part_lr"]
    assert default["trainer_cfg"]["transform"] == [{"type": "BaseSilCuttingTransform"}]
    assert (bert["trainer_cfg"].pop("find_unused_parameters"), default["trainer_cfg"].pop("find_unused_parameters")) \
        == (True, False)
    fraction, total = bert["model_cfg"]["pretrain_fraction"], bert["trainer_cfg"]["total_iter"]
    assert bert.pop("scheduler_cfg")["milestones"] == [round(fraction * total + (1 - fraction) * m)
                                                       for m in GAITBASE_MILESTONES]
    default.pop("scheduler_cfg")
    bert["loss_cfg"][0].pop("reconstruction_weight")
    for cfg in (bert, default):
        for key in pretraining_keys:
            cfg["model_cfg"].pop(key, None)
        cfg["trainer_cfg"].pop("transform")
    assert without_save_names(default) == without_save_names(bert)


def test_the_fine_tuning_config_is_the_default_started_from_a_checkpoint():
    """gaitbert_finetune_casiab.yaml trains what gaitbert_casiab.yaml trains (so the converged protocol's
    ablation of the two-config route, the fine-tuning config from random weights, is the default), on its
    shorter budget with the milestones at the same fractions, from a pretraining checkpoint."""
    finetune, default = load("gaitbert_finetune_casiab.yaml"), load("gaitbert_casiab.yaml")
    assert default["model_cfg"]["part_lr"] == {"frame_embedding": 0.01, "encoder": 0.01, "temporal": 0.01}
    fractions = [[m / cfg["trainer_cfg"]["total_iter"] for m in cfg.pop("scheduler_cfg")["milestones"]]
                 for cfg in (finetune, default)]
    assert fractions[0] == fractions[1] == [0.5, 2 / 3, 5 / 6]
    restore = {"restore_hint", "restore_ckpt_strict", "optimizer_reset", "scheduler_reset", "save_iter", "total_iter"}
    assert finetune["trainer_cfg"]["restore_ckpt_strict"] is False and finetune["trainer_cfg"]["restore_hint"]
    for cfg in (finetune, default):
        for key in restore:
            cfg["trainer_cfg"].pop(key, None)
        cfg["evaluator_cfg"].pop("restore_hint")
        for key in ("pretrain_target", "test_completion"):  # read by a pretraining phase only; neither has one
            cfg["model_cfg"].pop(key, None)
    assert without_save_names(finetune) == without_save_names(default)


def test_a_sampler_whose_masks_nothing_reads_is_refused():
    """Without a pretraining phase nothing reconstructs: a masked-frame sampler would only cost time."""
    cfgs = edit(load("gaitbert_casiab_bert.yaml"), ["model_cfg", "pretrain_fraction"], 0)
    cfgs["trainer_cfg"]["find_unused_parameters"] = False
    del cfgs["loss_cfg"][0]["reconstruction_weight"]
    with pytest.raises(ConfigError, match=r"x\.yaml: trainer_cfg.transform has a `MaskedFrameSampler`, but "
                                          r"model_cfg.pretrain_fraction is 0.*`- type: BaseSilCuttingTransform`"):
        validate_cfgs(cfgs, training=True, source="x.yaml")
    assert validate_cfgs(cfgs, training=False, source="x.yaml").masking is not None  # the test phase reads no transform


def test_a_pretraining_phase_needs_a_sampler():
    cfgs = edit(load("gaitbert_casiab_bert.yaml"), ["trainer_cfg", "transform"], [{"type": "BaseSilCuttingTransform"}])
    with pytest.raises(ConfigError, match=r"model_cfg.pretrain_fraction is 0.3 \(a masked-frame pretraining phase\), "
                                          r"but trainer_cfg.transform has no `MaskedFrameSampler`"):
        validate_cfgs(cfgs, training=True, source="x.yaml")


def test_a_reconstruction_weight_without_pretraining_is_refused():
    cfgs = edit(load("gaitbert_casiab.yaml"), ["loss_cfg", 0, "reconstruction_weight"], 1.0)
    with pytest.raises(ConfigError, match=r"`reconstruction_weight` = 1.0, but model_cfg.pretrain_fraction is 0: "
                                          r"nothing is reconstructed"):
        validate_cfgs(cfgs, training=True, source="x.yaml")


def test_pretraining_without_labels_takes_no_pretrain_fraction():
    cfgs = edit(load("gaitbert_pretrain_folder.yaml"), ["model_cfg", "pretrain_fraction"], 0.5)
    with pytest.raises(ConfigError, match=r"`pretrain_fraction` is set, but class_num 0 pretrains in every iteration"):
        validate_cfgs(cfgs, training=True, source="x.yaml")
    parsed = validate_cfgs(load("gaitbert_pretrain_folder.yaml"), training=True, source="x.yaml")
    assert parsed.network.has_decoder and parsed.network.pretrain_iterations(150) == 150


def test_pretraining_configs_build_the_shipped_network():
    """Pretraining, fine-tuning and zero-shot configs restore each other's weights, and they are
    the shipped recipe's network: what pretraining buys is bought for the model users train."""
    shipped = yaml.safe_load(config_path("gaitbert_casiab.yaml").read_text())["model_cfg"]
    for name in ("gaitbert_pretrain_gaitlu1m.yaml", "gaitbert_pretrain_folder.yaml",
                 "gaitbert_finetune_casiab.yaml", "gaitbert_zeroshot_casiab.yaml"):
        model = yaml.safe_load(config_path(name).read_text())["model_cfg"]
        for key in ENCODER_KEYS | TEMPORAL_KEYS | {"frame_size", "bin_num", "part_columns", "embed_dim"}:
            assert model.get(key) == shipped.get(key), (name, key)


def test_yaml_comments_list_exactly_the_allowed_values():
    """A ``key: value  # a | b | c`` comment in a shipped config lists the key's allowed
    values as the code defines them (a comment that drifts from the code misleads)."""
    import re
    from pathlib import Path

    from opengait_gaitbert.core.model import ENCODER_KINDS, PRETRAIN_TARGETS, TEMPORAL_KINDS

    allowed = {"encoder": ENCODER_KINDS, "temporal": TEMPORAL_KINDS, "pretrain_target": PRETRAIN_TARGETS}
    seen = set()
    for path in sorted(Path(config_path("gaitbert_casiab.yaml")).parent.glob("*.yaml")):
        for line in path.read_text().splitlines():
            match = re.match(r"\s*(\w+): [^#]*#\s*(\w+(?:\s*\|\s*\w+)+)", line)
            if match:
                key, listed = match.group(1), [v.strip() for v in match.group(2).split("|")]
                assert key in allowed, f"{path.name}: `{line.strip()}`: add {key}'s allowed values to this test"
                assert sorted(listed) == sorted(allowed[key]), f"{path.name}: `{line.strip()}`"
                seen.add((path.name, key))
    assert ("gaitbert_casiab.yaml", "temporal") in seen  # the check did read the shipped recipe's comment


def test_network_defaults_are_the_shipped_recipe():
    """One source of truth: ``model_cfg`` left out of a config means the shipped recipe."""
    from dataclasses import asdict

    from opengait_gaitbert.core.model import NetworkConfig

    shipped = yaml.safe_load(open(config_path("gaitbert_casiab.yaml")))["model_cfg"]
    defaults = asdict(NetworkConfig())
    # part_lr: the shipped CASIA-B schedule; left out (pretraining, BERT's recipe), every part learns at
    # optimizer_cfg.lr
    differing = {k: (v, defaults[k]) for k, v in shipped.items() if k not in ("model", "part_lr") and defaults[k] != v}
    assert not differing, f"gaitbert_casiab.yaml vs NetworkConfig defaults: {differing}"
    # the transformer's keys: unread by the conv context
    # teacher_momentum: read by the latent target only (refused beside pixels)
    unstated = {k for k in defaults if k not in shipped} - {"temporal_dim", "temporal_heads", "temporal_window",
                                                             "teacher_momentum"}
    assert not unstated, f"gaitbert_casiab.yaml leaves {unstated} to the defaults: state every key of the recipe"


def _reference_table(heading: str) -> dict:
    """``{key: default}`` of the docs/config-reference.md table after the line starting ``heading``."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "config-reference.md").read_text()
    table = text[text.index(heading):].split("\n\n")[1]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| `([^`]*)` \|", table, re.M)}


@pytest.mark.parametrize("heading,make", [
    ("`model_cfg`", lambda: __import__("opengait_gaitbert.core.model", fromlist=["x"]).NetworkConfig()),
    ("`trainer_cfg.transform: - type: MaskedFrameSampler`",
     lambda: __import__("opengait_gaitbert.core.masking", fromlist=["x"]).MaskingPolicy()),
    ("`loss_cfg` entry `type: GaitBERTLoss`", lambda: __import__("opengait_gaitbert.core.losses", fromlist=["x"]).LossConfig()),
])
def test_the_config_reference_gives_every_key_and_its_default(heading, make):
    """The reference page lists each key of the dataclass with the dataclass's own default."""
    from dataclasses import fields

    documented, config = _reference_table(heading), make()
    names = {f.name for f in fields(config)}
    assert names <= set(documented) | {"band_sides"}, names - set(documented)  # band_sides: "all four"
    assert set(documented) <= names | {"model", "divsor", "cutting"}, set(documented) - names  # OpenGait's own
    for key, default in documented.items():
        if key in names:
            value = getattr(config, key)
            value = list(value) if isinstance(value, tuple) else value
            assert yaml.safe_load(default) == value, f"docs/config-reference.md `{key}`: {default} vs {value!r}"


def test_errors_name_the_file_without_rewriting_messages():
    """The config dataclasses name the caller's location (a context, not string surgery), and a
    dataclass built directly names its generic section."""
    from opengait_gaitbert.core.masking import MaskingPolicy
    from opengait_gaitbert.core.model import NetworkConfig

    with pytest.raises(ConfigError, match=r"^my\.yaml: model_cfg: `embed_stride` = 3 is invalid; allowed: 1 "):
        NetworkConfig.from_dict({"encoder": "unet", "embed_stride": 3}, where="my.yaml: model_cfg")
    with pytest.raises(ConfigError, match=r"^model_cfg: `embed_stride` = 3 is invalid"):
        NetworkConfig(encoder="unet", embed_stride=3)
    with pytest.raises(ConfigError, match=r"^MaskedFrameSampler \(trainer_cfg\.transform\): `ratio` = 2 is invalid"):
        MaskingPolicy(ratio=2)


def test_masking_and_loss_defaults_are_the_shipped_recipe():
    """One source of truth: a sampler or loss entry with no keys means BERT's recipe's (gaitbert_casiab_bert.yaml)."""
    from opengait_gaitbert.core.losses import LossConfig
    from opengait_gaitbert.core.masking import MaskingPolicy

    parsed = validate_cfgs(load("gaitbert_casiab_bert.yaml"), training=True, source="gaitbert_casiab_bert.yaml")
    assert parsed.masking == MaskingPolicy()
    assert parsed.loss == LossConfig()
