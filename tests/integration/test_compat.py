"""Every copy in ``opengait_gaitbert.compat`` equals OpenGait's own function, and OpenGait's is
the one used once OpenGait is loaded."""
import copy
import sys
from collections import OrderedDict

import numpy as np
import pytest
import yaml

from opengait_gaitbert import compat, config_path


@pytest.fixture(scope="module")
def og(opengait_root):
    """OpenGait's ``data.transform`` and ``utils.common``, imported from the clone."""
    path = str(opengait_root / "opengait")
    sys.path.insert(0, path)
    try:
        from data import transform
        from utils import common
        yield transform, common
    finally:
        sys.path.remove(path)


def silhouettes(shape, seed=0, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(dtype)


CUTS = [((5, 64, 64), {}), ((3, 128, 128), {}), ((4, 64, 44), {}), ((2, 64, 64), {"cutting": 7}),
        ((2, 64, 64), {"cutting": 0}), ((3, 64, 64), {"divsor": 1.0}), ((3, 64, 64), {"divsor": 255}),
        ((1, 32, 200), {"divsor": 127.5, "cutting": 30})]


@pytest.mark.parametrize("shape, options", CUTS)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_cutting_copy_equals_opengait(og, shape, options, dtype):
    seq = silhouettes(shape, dtype=dtype)
    theirs = og[0].BaseSilCuttingTransform(**options)(seq)
    ours = compat.BaseSilCuttingTransform(**options)(seq)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(compat.cut_and_scale(seq, **options), theirs.astype(np.float32))


def merge_cases(opengait_root):
    default = yaml.safe_load((opengait_root / "configs" / "default.yaml").read_text())
    shipped = [yaml.safe_load(config_path(name).read_text())
               for name in ("gaitbert_casiab.yaml", "gaitbert_demo.yaml")]
    tricky_dst = {"a": {"x": 1, "y": {"z": 2}}, "b": {"k": 1}, "c": 3, "d": None, "e": [1, 2],
                  "f": OrderedDict(p=1, q=2)}
    tricky_src = {"a": {"y": {"z": 5, "w": 6}}, "b": 7, "c": {"new": 1}, "d": {"n": 1}, "e": [3],
                  "f": {"q": 9}, "g": OrderedDict(r=1), "h": None}
    return [(cfg, default) for cfg in shipped] + [(tricky_src, tricky_dst), (tricky_dst, tricky_src)]


def test_config_merge_copy_equals_opengait(og, opengait_root):
    for src, dst in merge_cases(opengait_root):
        theirs, ours = copy.deepcopy(dst), copy.deepcopy(dst)
        og[1].MergeCfgsDict(copy.deepcopy(src), theirs)
        compat.MergeCfgsDict(copy.deepcopy(src), ours)
        assert ours == theirs and [type(v) for v in ours.values()] == [type(v) for v in theirs.values()]
        assert compat.merge_cfgs(copy.deepcopy(src), copy.deepcopy(dst)) == theirs


def test_opengait_functions_are_used_once_loaded(og):
    transform, common = og
    assert compat.opengait_function("data.transform", "BaseSilCuttingTransform") is transform.BaseSilCuttingTransform
    assert compat.opengait_function("utils.common", "MergeCfgsDict") is common.MergeCfgsDict
