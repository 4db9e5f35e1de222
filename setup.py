"""opengait-gaitbert: GaitBERT as a pip-installable add-on to OpenGait.

Besides the package, the install puts ``opengait_gaitbert.pth`` into
site-packages (the way pytest-cov installs its hook), so that OpenGait's own,
unchanged ``opengait/main.py`` finds GaitBERT's names. The YAML configs under
``configs/gaitbert/`` ship as the package ``opengait_gaitbert.configs``.
"""
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
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


try:  # PEP 660 editable installs (pip install -e) build a wheel without build_py's extra files
    from setuptools.command.editable_wheel import editable_wheel
except ImportError:  # old setuptools: `develop` installs, no .pth; register() by hand then
    editable_wheel = None


class _StrategyWithPth:
    """Wraps setuptools' editable strategy to add the .pth at the wheel root."""

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


COMMANDS = {"build_py": BuildPyWithPth}
if editable_wheel is not None:
    class EditableWheelWithPth(editable_wheel):
        def _select_strategy(self, *args, **kwargs):
            return _StrategyWithPth(super()._select_strategy(*args, **kwargs))

    COMMANDS["editable_wheel"] = EditableWheelWithPth

with open(os.path.join(HERE, "README.md"), encoding="utf-8") as readme:
    long_description = readme.read()

setup(
    name="opengait-gaitbert",
    version="0.1.0",
    description="GaitBERT masked-frame gait recognition as an add-on to OpenGait",
    long_description=long_description,
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["opengait_gaitbert", "opengait_gaitbert.core", "opengait_gaitbert.adapters",
              "opengait_gaitbert.launcher", "opengait_gaitbert.data", "opengait_gaitbert.tools",
              "opengait_gaitbert.video", "opengait_gaitbert.configs"],
    package_dir={"opengait_gaitbert.configs": "configs/gaitbert"},
    package_data={"opengait_gaitbert.configs": ["*.yaml"]},
    install_requires=["torch>=2.0", "numpy", "opencv-python-headless", "pyyaml", "kornia", "einops",
                      "tqdm", "pillow", "scipy"],
    extras_require={
        "test": ["pytest", "onnx", "onnxruntime", "onnxscript"],
        "export": ["onnx", "onnxruntime", "onnxscript"],  # onnxscript: torch's dynamo ONNX exporter
        "opengait": ["torchvision", "lightly", "matplotlib", "tensorboard", "scikit-learn", "imageio"],
        "bench": ["matplotlib"],
    },
    entry_points={"console_scripts": ["opengait-gaitbert=opengait_gaitbert.launcher.cli:main"]},
    cmdclass=COMMANDS,
)
