"""The sampler as the last step of OpenGait's own Compose (GaitBase's DA recipe), built by OpenGait.

Uses OpenGait's ``data.transform.get_transform`` and ``utils.get_valid_args``,
exactly as ``BaseModel`` builds ``trainer_cfg.transform``.
"""
import copy
import inspect
import random
import sys

import numpy as np
import pytest
import yaml

from opengait_gaitbert import config_path
from opengait_gaitbert.core import ConfigError, DataError, MaskingPolicy
from opengait_gaitbert.core.config import SAMPLER_CUT_KEYS, validate_cfgs

from .conftest import with_pretraining

SAMPLER = {"type": "MaskedFrameSampler", "mode": ["band", "moving", "frame", "patch"], "ratio": 0.5}
DA_STEPS = [{"type": "BaseSilCuttingTransform"}, {"type": "RandomRotate", "prob": 1.0},
            {"type": "RandomErasing", "prob": 1.0}]


@pytest.fixture(scope="module")
def og(opengait_root):
    """OpenGait's ``data.transform`` and ``utils`` with GaitBERT's names registered."""
    path = str(opengait_root / "opengait")
    sys.path.insert(0, path)
    try:
        import opengait_gaitbert
        opengait_gaitbert.register()
        import utils
        from data import transform
        yield transform, utils
    finally:
        sys.path.remove(path)


def walking_uint8(s=30, seed=0):
    """OpenGait-style pkl content: uint8 [s, 64, 64], a 255-valued figure moving right."""
    rng = np.random.default_rng(seed)
    seq = np.zeros((s, 64, 64), np.uint8)
    for t in range(s):
        x = 18 + (t * 2) % 16 + int(rng.integers(0, 2))
        seq[t, 6:60, x:x + 12] = 255
        seq[t, 6:16, x + 2:x + 10] = 255
    return seq


def run_seeded(trf, seq, seed):
    random.seed(seed)
    np.random.seed(seed)
    return trf(seq.copy())


def test_opengait_passes_every_sampler_key(og):
    """get_valid_args keeps only __init__'s named parameters: every policy field must be one."""
    transform, utils = og
    cls = transform.MaskedFrameSampler
    assert inspect.getfullargspec(cls.__init__)[0][1:] == MaskingPolicy.field_names() + list(SAMPLER_CUT_KEYS)
    entry = dict(SAMPLER, patch_size=8, patches_per_frame=3, band_sides=["bottom", "left"],
                 band_size=[0.1, 0.3], mode_weights=[1, 2, 3, 4], seed=4, divsor=255.0, cutting=10)
    assert utils.get_valid_args(cls, entry, ["type"]) == {k: v for k, v in entry.items() if k != "type"}
    built = transform.get_transform(entry)
    assert built.policy.band_sides == ("bottom", "left") and built.policy.mode_weights == (1, 2, 3, 4)


def test_sampler_last_in_gaitbase_da_compose(og):
    transform, _ = og
    with_sampler = transform.get_transform({"type": "Compose", "trf_cfg": DA_STEPS + [SAMPLER]})
    without = transform.get_transform({"type": "Compose", "trf_cfg": DA_STEPS})
    cut_only = transform.get_transform({"type": "BaseSilCuttingTransform"})
    seq = walking_uint8()
    for seed in range(8):
        out = run_seeded(with_sampler, seq, seed)
        assert out.shape == (30, 3, 64, 44) and out.dtype == np.float32  # cut once: 64 -> 44, not 24
        inputs, target, mask = out[:, 0], out[:, 1], out[:, 2]
        augmented = run_seeded(without, seq, seed)
        np.testing.assert_array_equal(target, augmented.astype(np.float32))  # clean target = the DA output
        assert not np.allclose(augmented, cut_only(seq))  # the rotation and erasing did happen
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert set(np.unique(mask)) == {0.0, 1.0}
        assert np.all(inputs[mask == 1] == 0) and np.array_equal(inputs[mask == 0], target[mask == 0])
        assert mask.reshape(30, -1).min(1).sum() < 30  # never every frame wholly hidden
    assert np.array_equal(seq, walking_uint8())  # the pkl array is untouched


def test_standalone_sampler_still_cuts_raw_frames(og):
    transform, _ = og
    seq = walking_uint8()
    out = transform.get_transform(dict(SAMPLER, divsor=255.0))(seq)
    assert out.shape == (30, 3, 64, 44)
    np.testing.assert_array_equal(out[:, 1], transform.BaseSilCuttingTransform()(seq).astype(np.float32))


def test_float_frames_with_cut_keys_set_are_refused(og):
    transform, _ = og
    sampler = transform.MaskedFrameSampler(divsor=255.0)
    with pytest.raises(DataError, match=r"floating-point frames .* `divsor` is set"):
        sampler(transform.BaseSilCuttingTransform()(walking_uint8()))


def gaitbase_da_transform(opengait_root):
    cfg = yaml.safe_load((opengait_root / "configs" / "gaitbase" / "gaitbase_da_casiab.yaml").read_text())
    return cfg["trainer_cfg"]["transform"]


def gaitbert_cfgs(transform):
    cfgs = with_pretraining(yaml.safe_load(config_path("gaitbert_demo.yaml").read_text()))
    cfgs["trainer_cfg"]["transform"] = transform
    return cfgs


def test_gaitbase_da_recipe_with_the_sampler_appended_validates(opengait_root):
    transform = gaitbase_da_transform(opengait_root)
    transform[0]["trf_cfg"].append(dict(SAMPLER))
    parsed = validate_cfgs(gaitbert_cfgs(transform), training=True, source="da.yaml")
    assert parsed.masking.modes == tuple(SAMPLER["mode"])


@pytest.mark.parametrize("edit,match", [
    (lambda steps: steps.insert(2, dict(SAMPLER)),
     r"da.yaml: trainer_cfg.transform\[0\].trf_cfg\[2\] \(MaskedFrameSampler\) must be the last step .*"
     r"`RandomErasing` \(trainer_cfg.transform\[0\].trf_cfg\[3\]\) follows it"),
    (lambda steps: steps.append(dict(SAMPLER, divsor=255.0)),
     r"da.yaml: trainer_cfg.transform\[0\].trf_cfg\[3\] \(MaskedFrameSampler\): `divsor` = 255.0 is set, but "
     r"`BaseSilCuttingTransform` \(trainer_cfg.transform\[0\].trf_cfg\[0\]\)"),
    (lambda steps: steps.append(dict(SAMPLER, cutting=10)), r"`cutting` = 10 is set"),
    (lambda steps: None, r"da.yaml: model_cfg.pretrain_fraction is 0.3 .*but trainer_cfg.transform has no `MaskedFrameSampler`"),
])
def test_gaitbase_da_recipe_with_a_misplaced_sampler_is_refused(opengait_root, edit, match):
    transform = copy.deepcopy(gaitbase_da_transform(opengait_root))
    edit(transform[0]["trf_cfg"])
    with pytest.raises(ConfigError, match=match):
        validate_cfgs(gaitbert_cfgs(transform), training=True, source="da.yaml")
