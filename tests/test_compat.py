"""``compat`` without OpenGait: its own copies run, and a foreign ``data``/``utils`` module is never used.
(tests/integration/test_compat.py proves the copies equal to OpenGait's functions.)"""
import sys
import types

import numpy as np
import pytest

from opengait_gaitbert import compat


@pytest.fixture
def foreign_modules(monkeypatch, tmp_path):
    """``data.transform`` and ``utils.common`` loaded from a folder that is not OpenGait's."""
    def refuse(*args, **kwargs):
        raise AssertionError("a module outside OpenGait was used")

    for name, attr in (("data.transform", "BaseSilCuttingTransform"), ("utils.common", "MergeCfgsDict")):
        module = types.ModuleType(name)
        module.__file__ = str(tmp_path / (name.replace(".", "/") + ".py"))
        setattr(module, attr, refuse)
        monkeypatch.setitem(sys.modules, name, module)


def test_foreign_modules_are_not_opengait(foreign_modules):
    assert compat.opengait_function("data.transform", "BaseSilCuttingTransform") is None
    seq = np.full((2, 64, 64), 255, np.uint8)
    seq[..., :10] = 0
    out = compat.cut_and_scale(seq)
    assert out.dtype == np.float32 and out.shape == (2, 64, 44) and np.all(out == 1.0)
    assert compat.merge_cfgs({"a": {"b": 2}, "c": 3}, {"a": {"b": 1, "d": 4}}) == {"a": {"b": 2, "d": 4}, "c": 3}


def test_read_yaml_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- list\n")
    with pytest.raises(compat.ConfigError, match=f"--cfgs {bad}: holds a list"):
        compat.read_yaml(bad)
    with pytest.raises(compat.ConfigError, match="config file not found"):
        compat.read_yaml(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert compat.read_yaml(tmp_path / "empty.yaml") == {}
