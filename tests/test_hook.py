"""The startup hook: present after pip install, free at interpreter start, and picky about OpenGait."""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PTH = Path(sysconfig.get_paths()["purelib"]) / "opengait_gaitbert.pth"


@pytest.fixture(autouse=True)
def installed_hook():
    if not PTH.is_file():
        pytest.skip(f"{PTH} is not installed; run `pip install .` first (the hook ships with the install)")


def python(code, env=None, cwd=None):
    full_env = {k: v for k, v in os.environ.items() if k != "OPENGAIT_GAITBERT_DISABLE"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, *code], capture_output=True, text=True, env=full_env, cwd=cwd)


def test_hook_is_active_and_imports_nothing_heavy():
    result = python(["-X", "importtime", "-c",
                     "import sys; print('torch' in sys.modules, 'numpy' in sys.modules,"
                     " any(type(f).__name__ == 'OpenGaitFinder' for f in sys.meta_path))"])
    assert result.stdout.split() == ["False", "False", "True"]
    # Every module imported at startup because of the hook is ours or the standard library's.
    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line]
    ours = {name for name in imported if name.split(".")[0] == "opengait_gaitbert"}
    assert ours == {"opengait_gaitbert", "opengait_gaitbert._autoregister"}
    assert not {"torch", "numpy", "yaml"} & {name.split(".")[0] for name in imported}


def test_disable_switch_removes_the_finder():
    result = python(["-c", "import sys; print(any(type(f).__name__ == 'OpenGaitFinder' for f in sys.meta_path))"],
                    env={"OPENGAIT_GAITBERT_DISABLE": "1"})
    assert result.stdout.split() == ["False"]


def test_a_modeling_package_that_is_not_opengait_is_left_alone(tmp_path):
    models = tmp_path / "modeling" / "models"
    models.mkdir(parents=True)
    (models / "__init__.py").write_text("VALUE = 42\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "transform.py").write_text("VALUE = 7\n")
    result = python(["-c", "from modeling import models; from data import transform; import sys;"
                           " print(models.VALUE, transform.VALUE, hasattr(models, 'GaitBERT'),"
                           " 'opengait_gaitbert.registry' in sys.modules)"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["42", "7", "False", "False"]


def test_opengait_root_detection(tmp_path):
    from opengait_gaitbert._autoregister import opengait_root_of
    root = tmp_path / "opengait"
    for marker in ("main.py", "modeling/base_model.py", "data/transform.py", "utils/common.py",
                   "modeling/models/__init__.py"):
        (root / marker).parent.mkdir(parents=True, exist_ok=True)
        (root / marker).write_text("")
    assert opengait_root_of(str(root / "modeling/models/__init__.py"), "modeling.models") == str(root)
    assert opengait_root_of(str(root / "data/transform.py"), "data.transform") == str(root)
    (root / "main.py").unlink()
    assert opengait_root_of(str(root / "data/transform.py"), "data.transform") is None
