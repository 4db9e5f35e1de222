"""Build commands that install GaitBERT's startup hook; the metadata is in pyproject.toml.

Besides the package, an install puts ``opengait_gaitbert.pth`` into site-packages
(the way pytest-cov installs its hook), so that OpenGait's own, unchanged
``opengait/main.py`` finds GaitBERT's names. ``pip install .`` writes it through
``build_py``, ``pip install -e .`` through ``editable_wheel`` (PEP 660).
"""
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "opengait_gaitbert.pth"
PTH_LINE = "import opengait_gaitbert._autoregister\n"  # site.py runs import lines of .pth files


class BuildPyWithPth(build_py):
    """Also copy the startup-hook .pth into the build root, hence into site-packages."""

    def run(self):
        super().run()
        with open(os.path.join(self.build_lib, PTH), "w", encoding="utf-8") as pth:
            pth.write(PTH_LINE)

    def get_outputs(self, include_bytecode=True):  # editable installs list the .pth too
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, PTH)]


class _StrategyWithPth:
    """Wraps setuptools' editable strategy to add the .pth at the wheel root.

    An editable wheel does not run build_py's copy into the build root, so the
    .pth has to be written into the wheel itself.
    """

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, wheel, files, mapping):
        self.inner(wheel, files, mapping)
        wheel.writestr(PTH, PTH_LINE)

    def __enter__(self):
        self.inner.__enter__()
        return self

    def __exit__(self, *exc):
        return self.inner.__exit__(*exc)


class EditableWheelWithPth(editable_wheel):
    def _select_strategy(self, *args, **kwargs):
        return _StrategyWithPth(super()._select_strategy(*args, **kwargs))


setup(
    # The package list is here, not in pyproject.toml: the configs package is mapped
    # from configs/gaitbert (pyproject's package-dir), outside the folder a find covers.
    packages=find_packages(include=["opengait_gaitbert", "opengait_gaitbert.*"])
    + ["opengait_gaitbert.configs"],
    cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth},
)
