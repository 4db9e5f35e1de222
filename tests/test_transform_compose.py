"""The sampler composes with OpenGait's augmentation: its signature and the config rules (no OpenGait needed)."""
import ast
import copy
from pathlib import Path

import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core import ConfigError, MaskingPolicy
from opengait_gaitbert.core.config import SAMPLER_CUT_KEYS, SAMPLER_EXTRA_KEYS, validate_cfgs
from tiny_model import with_pretraining

TRANSFORM_PY = Path(__file__).resolve().parents[1] / "opengait_gaitbert" / "adapters" / "transform.py"
CUT, ROTATE, ERASE = ({"type": "BaseSilCuttingTransform"}, {"type": "RandomRotate", "prob": 0.3},
                      {"type": "RandomErasing", "prob": 0.3})
SAMPLER = {"type": "MaskedFrameSampler", "mode": ["band", "moving", "frame"], "mode_weights": [2, 1, 1], "ratio": 0.5}


def sampler_init():
    """``MaskedFrameSampler.__init__`` read from the source (importing it needs OpenGait)."""
    tree = ast.parse(TRANSFORM_PY.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MaskedFrameSampler")
    return next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__").args


def test_sampler_init_names_every_policy_field_and_the_cut_keys():
    """OpenGait's get_valid_args passes only keys named in __init__'s positional parameters."""
    args = sampler_init()
    assert args.vararg is None and args.kwarg is None and not args.kwonlyargs  # getfullargspec()[0] only
    names = [a.arg for a in args.args][1:]  # without self
    assert names == MaskingPolicy.field_names() + list(SAMPLER_CUT_KEYS)
    assert list(SAMPLER_EXTRA_KEYS) == ["type"] + list(SAMPLER_CUT_KEYS)


def test_sampler_defaults_are_left_to_the_policy():
    """Every keyword defaults to None, which means "the policy's default": the defaults are
    written once, in MaskingPolicy, not retyped in the sampler's signature."""
    args = sampler_init()
    names = [a.arg for a in args.args][len(args.args) - len(args.defaults):]
    defaults = dict(zip(names, (ast.literal_eval(d) for d in args.defaults)))
    assert set(defaults) == set(MaskingPolicy.field_names()) | set(SAMPLER_CUT_KEYS)
    assert set(defaults.values()) == {None}


@pytest.fixture
def cfgs():
    return with_pretraining(yaml.safe_load(config_path("gaitbert_demo.yaml").read_text()))


def with_transform(cfgs, transform):
    cfgs = copy.deepcopy(cfgs)
    cfgs["trainer_cfg"]["transform"] = copy.deepcopy(transform)
    return cfgs


def compose(*steps):
    return {"type": "Compose", "trf_cfg": [dict(s) for s in steps]}


@pytest.mark.parametrize("transform", [
    [compose(CUT, ROTATE, ERASE, SAMPLER)],                       # GaitBase's DA recipe, sampler last
    [compose(compose(CUT, ROTATE), ERASE, SAMPLER)],               # nested Compose
    [compose(ROTATE, ERASE, dict(SAMPLER, divsor=255.0))],         # no cutter before: the sampler cuts
    [dict(SAMPLER, divsor=255.0, cutting=10)],                     # standalone, as before
    dict(SAMPLER),                                                 # a single dict, not a list
])
def test_sampler_last_in_a_compose_is_valid(cfgs, transform):
    parsed = validate_cfgs(with_transform(cfgs, transform), training=True, source="x.yaml")
    assert parsed.masking.modes == ("band", "moving", "frame")


@pytest.mark.parametrize("transform,match", [
    ([compose(CUT, SAMPLER, ROTATE)],
     r"x.yaml: trainer_cfg.transform\[0\].trf_cfg\[1\] \(MaskedFrameSampler\) must be the last step of its "
     r"Compose, but `RandomRotate` \(trainer_cfg.transform\[0\].trf_cfg\[2\]\) follows it .*\[s, 3, h, w\]"),
    ([compose(compose(CUT, SAMPLER), ERASE)], r"trf_cfg\[0\].trf_cfg\[1\] \(MaskedFrameSampler\) must be the last"),
    ([compose(CUT, ROTATE, dict(SAMPLER, divsor=255.0))],
     r"x.yaml: trainer_cfg.transform\[0\].trf_cfg\[2\] \(MaskedFrameSampler\): `divsor` = 255.0 is set, but "
     r"`BaseSilCuttingTransform` \(trainer_cfg.transform\[0\].trf_cfg\[0\]\) .* already cuts and scales.* "
     r"Remove `divsor`"),
    ([compose(CUT, dict(SAMPLER, cutting=10))], r"`cutting` = 10 is set, .* Remove `cutting`"),
    ([compose(compose(CUT), ERASE, dict(SAMPLER, cutting=0))], r"`cutting` = 0 is set"),
    ([compose(CUT, SAMPLER), dict(SAMPLER)],
     r"x.yaml: trainer_cfg.transform has 2 `MaskedFrameSampler` entries "
     r"\(trainer_cfg.transform\[0\].trf_cfg\[1\], trainer_cfg.transform\[1\]\)"),
    ([compose(CUT, ROTATE, ERASE)], r"x.yaml: model_cfg.pretrain_fraction is 0.3 .*but trainer_cfg.transform has "
                                    r"no `MaskedFrameSampler`.*put it last"),
    ([compose(CUT, dict(SAMPLER, mode="wall"))],
     r"x.yaml: trainer_cfg.transform \(MaskedFrameSampler\): `mode` = 'wall'"),
    ([compose(CUT, dict(SAMPLER, band_sise=[0.1, 0.2]))], r"unknown key `band_sise`. Did you mean `band_size`"),
])
def test_misplaced_or_doubly_cutting_sampler_is_refused(cfgs, transform, match):
    with pytest.raises(ConfigError, match=match):
        validate_cfgs(with_transform(cfgs, transform), training=True, source="x.yaml")
