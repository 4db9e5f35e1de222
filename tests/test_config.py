"""Validation of GaitBERT's config sections against the shipped configs."""
import copy

import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core import ConfigError
from opengait_gaitbert.core.config import validate_cfgs


@pytest.fixture(params=["gaitbert_casiab.yaml", "gaitbert_casiab_masked.yaml", "gaitbert_casiab_transformer.yaml",
                        "gaitbert_casiab_unet.yaml",
                        "gaitbert_demo.yaml"])
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


TEMPORAL_KEYS = {"temporal", "temporal_dim", "temporal_layers", "temporal_heads", "temporal_window"}
ENCODER_KEYS = {"encoder", "channels", "embed_stride"}


@pytest.mark.parametrize("name,keys", [
    ("gaitbert_casiab_transformer.yaml", TEMPORAL_KEYS | {"reconstruct_fraction"}),
    ("gaitbert_casiab_unet.yaml", ENCODER_KEYS | TEMPORAL_KEYS | {"reconstruct_fraction"}),
])
def test_other_casiab_recipes_differ_from_the_default_in_their_model_keys_only(name, keys):
    """The other CASIA-B recipes may differ from gaitbert_casiab.yaml only in the model keys that
    make them what they are, the reconstruction they train (the default has no masked pass) and
    the checkpoint name, so that they cannot drift apart."""
    default, other = (yaml.safe_load(config_path(n).read_text()) for n in ("gaitbert_casiab.yaml", name))
    assert (default["loss_cfg"][0].pop("reconstruction_weight"), other["loss_cfg"][0].pop("reconstruction_weight")) \
        == (0.0, 1.0)
    differing = {k for k in set(default["model_cfg"]) | set(other["model_cfg"])
                 if default["model_cfg"].get(k) != other["model_cfg"].get(k)}
    assert differing == keys
    for cfg in (default, other):
        for key in keys:
            cfg["model_cfg"].pop(key, None)
    for section in ("trainer_cfg", "evaluator_cfg"):
        assert other[section].pop("save_name") == "GaitBERT_" + name[len("gaitbert_casiab_"):-len(".yaml")]
        default[section].pop("save_name")
    assert other == default


def test_the_masked_recipe_is_the_default_with_its_masked_pass():
    """gaitbert_casiab_masked.yaml, the masked-frame objective as an opt-in recipe: the shipped
    recipe (which has no masked pass) with a masked pass on an eighth of each batch and the
    reconstruction term, nothing else changed."""
    default, masked = (yaml.safe_load(config_path(n).read_text())
                       for n in ("gaitbert_casiab.yaml", "gaitbert_casiab_masked.yaml"))
    assert validate_cfgs(default, training=True, source="gaitbert_casiab.yaml").network.reconstruct_fraction == 0
    parsed = validate_cfgs(masked, training=True, source="gaitbert_casiab_masked.yaml")
    assert parsed.network.reconstruct_fraction == 0.125 and not parsed.predict_features
    assert (masked["loss_cfg"][0].pop("reconstruction_weight"), default["loss_cfg"][0].pop("reconstruction_weight")) \
        == (1.0, 0.0)
    assert (masked["model_cfg"].pop("reconstruct_fraction"), default["model_cfg"].pop("reconstruct_fraction")) == (0.125, 0)
    for section in ("trainer_cfg", "evaluator_cfg"):
        assert masked[section].pop("save_name") == "GaitBERT_masked"
        default[section].pop("save_name")
    assert masked == default


def test_pretraining_configs_build_the_shipped_network():
    """Pretraining, fine-tuning and zero-shot configs restore each other's weights, and they are
    the shipped recipe's network: what pretraining buys is bought for the model users train."""
    shipped = yaml.safe_load(config_path("gaitbert_casiab.yaml").read_text())["model_cfg"]
    for name in ("gaitbert_pretrain_gaitlu1m.yaml", "gaitbert_pretrain_folder.yaml",
                 "gaitbert_finetune_casiab.yaml", "gaitbert_zeroshot_casiab.yaml"):
        model = yaml.safe_load(config_path(name).read_text())["model_cfg"]
        for key in ENCODER_KEYS | TEMPORAL_KEYS | {"frame_size", "bin_num", "part_columns", "embed_dim"}:
            assert model.get(key) == shipped.get(key), (name, key)


def test_masked_objective_weights_need_a_masked_pass(cfgs):
    """reconstruct_fraction 0 (no masked clip) with a masked term's weight left on would silently
    train without it: refused, naming the key and both fixes."""
    no_pass = edit(edit(cfgs, ["model_cfg", "identity_view"], "clean"), ["model_cfg", "reconstruct_fraction"], 0)
    no_pass = edit(no_pass, ["loss_cfg", 0, "reconstruction_weight"], 1.0)
    with pytest.raises(ConfigError, match=r"x.yaml: loss_cfg \(GaitBERTLoss\): `reconstruction_weight` = 1.0, "
                                          r"but model_cfg.reconstruct_fraction is 0.*`reconstruction_weight: 0`"):
        validate_cfgs(no_pass, training=True, source="x.yaml")
    ablation = edit(no_pass, ["loss_cfg", 0, "reconstruction_weight"], 0.0)
    assert not validate_cfgs(ablation, training=True, source="x.yaml").predict_features
    unset = copy.deepcopy(ablation)
    del unset["loss_cfg"][0]["reconstruction_weight"]  # left out: its default weighs a term that never runs
    assert validate_cfgs(unset, training=True, source="x.yaml").network.reconstruct_fraction == 0
    with pytest.raises(ConfigError, match=r"`feature_weight` = 2.0, but model_cfg.reconstruct_fraction is 0"):
        validate_cfgs(edit(ablation, ["loss_cfg", 0, "feature_weight"], 2.0), training=True, source="x.yaml")


@pytest.mark.parametrize("value,match", [(-1.0, r"`feature_weight` = -1.0 is invalid; allowed: a number >= 0"),
                                         ("high", r"`feature_weight` = 'high' is invalid")])
def test_feature_weight_must_be_a_weight(cfgs, value, match):
    with pytest.raises(ConfigError, match=match):
        validate_cfgs(edit(cfgs, ["loss_cfg", 0, "feature_weight"], value), training=True, source="x.yaml")


def test_feature_prediction_needs_the_clean_view(cfgs):
    clean = edit(edit(cfgs, ["model_cfg", "identity_view"], "clean"), ["model_cfg", "reconstruct_fraction"], 0.125)
    assert validate_cfgs(edit(clean, ["loss_cfg", 0, "feature_weight"], 1.0), training=True,
                         source="x.yaml").predict_features
    masked = edit(edit(clean, ["model_cfg", "identity_view"], "masked"), ["model_cfg", "reconstruct_fraction"], 1.0)
    with pytest.raises(ConfigError, match=r"`feature_weight` > 0 .* needs model_cfg.identity_view: clean"):
        validate_cfgs(edit(masked, ["loss_cfg", 0, "feature_weight"], 1.0), training=True, source="x.yaml")


def test_yaml_comments_list_exactly_the_allowed_values():
    """A ``key: value  # a | b | c`` comment in a shipped config lists the key's allowed
    values as the code defines them (a comment that drifts from the code misleads)."""
    import re
    from pathlib import Path

    from opengait_gaitbert.core.losses import POSITION_CHOICES, RECONSTRUCTION_KINDS
    from opengait_gaitbert.core.model import ENCODER_KINDS, IDENTITY_VIEWS, TEMPORAL_KINDS

    allowed = {"positions": POSITION_CHOICES, "reconstruction": RECONSTRUCTION_KINDS, "encoder": ENCODER_KINDS,
               "identity_view": IDENTITY_VIEWS, "temporal": TEMPORAL_KINDS}
    seen = 0
    for path in sorted(Path(config_path("gaitbert_casiab.yaml")).parent.glob("*.yaml")):
        for line in path.read_text().splitlines():
            match = re.match(r"\s*(\w+): [^#]*#\s*(\w+(?:\s*\|\s*\w+)+)", line)
            if match:
                key, listed = match.group(1), [v.strip() for v in match.group(2).split("|")]
                assert key in allowed, f"{path.name}: `{line.strip()}`: add {key}'s allowed values to this test"
                assert sorted(listed) == sorted(allowed[key]), f"{path.name}: `{line.strip()}`"
                seen += 1
    assert seen >= 20  # the shipped configs do carry such comments


def test_network_defaults_are_the_shipped_recipe():
    """One source of truth: ``model_cfg`` left out of a config means the shipped recipe."""
    from dataclasses import asdict

    from opengait_gaitbert.core.model import NetworkConfig

    shipped = yaml.safe_load(open(config_path("gaitbert_casiab.yaml")))["model_cfg"]
    defaults = asdict(NetworkConfig())
    differing = {k: (v, defaults[k]) for k, v in shipped.items() if k != "model" and defaults[k] != v}
    assert not differing, f"gaitbert_casiab.yaml vs NetworkConfig defaults: {differing}"
    assert len(shipped) > 12  # the recipe states its keys


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
])
def test_the_config_reference_gives_every_key_and_its_default(heading, make):
    """The reference page lists each key of the dataclass with the dataclass's own default."""
    from dataclasses import fields

    documented, config = _reference_table(heading), make()
    names = {f.name for f in fields(config)}
    assert names <= set(documented) | {"band_sides"}, names - set(documented)  # band_sides: "all four"
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
