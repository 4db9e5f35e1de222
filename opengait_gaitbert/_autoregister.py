"""Startup hook: register GaitBERT whenever OpenGait's own modules are imported.

``opengait_gaitbert.pth`` (installed next to the package, as pytest-cov does)
imports this module at interpreter start. It only appends a meta-path finder:
no torch, no OpenGait, and nothing else happens until a module named
``data.transform``, ``modeling.losses``, ``modeling.models`` or ``data.dataset``
is imported. Then, if that module really sits inside an OpenGait ``opengait/``
folder, the matching GaitBERT name is registered right after the module finishes
loading, so OpenGait's unchanged ``main.py`` finds ``GaitBERT``, ``GaitBERTLoss``
and ``MaskedFrameSampler``; and ``data.dataset`` unpickles its pkl files with the
safe loader (``opengait_gaitbert.adapters.dataset``), so a downloaded dataset
cannot run code in a plain ``main.py`` run either.

``OPENGAIT_GAITBERT_DISABLE=1`` switches the hook off.
"""
import os
import sys
from importlib.machinery import PathFinder

TARGETS = {"data.transform": "transform", "modeling.losses": "loss", "modeling.models": "model",
           "data.dataset": "dataset"}
# Files that identify OpenGait's ``opengait/`` folder (the parent of ``modeling``).
OPENGAIT_MARKERS = ("main.py", "modeling/base_model.py", "data/transform.py", "utils/common.py")


def opengait_root_of(origin: str, module_name: str):
    """The ``opengait/`` folder holding this module, or None if it is not OpenGait's."""
    if not origin:
        return None
    root = os.path.dirname(origin)
    for _ in range(module_name.count(".") + (os.path.basename(origin) == "__init__.py")):
        root = os.path.dirname(root)
    if all(os.path.isfile(os.path.join(root, marker)) for marker in OPENGAIT_MARKERS):
        return root
    return None


class _RegisteringLoader:
    """Wraps OpenGait's loader: run the module, then register GaitBERT's name in it."""

    def __init__(self, loader, kind):
        self.loader, self.kind = loader, kind

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        from opengait_gaitbert.registry import register_entry
        register_entry(self.kind)

    def __getattr__(self, name):  # get_filename, get_resource_reader, ... of the real loader
        return getattr(self.loader, name)


class OpenGaitFinder:
    """A meta-path finder that only ever looks at OpenGait's three namespaces."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        kind = TARGETS.get(fullname)
        if kind is None:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or opengait_root_of(spec.origin, fullname) is None:
            return None
        spec.loader = _RegisteringLoader(spec.loader, kind)
        return spec


def install() -> bool:
    """Add the finder once; returns whether it is active."""
    if os.environ.get("OPENGAIT_GAITBERT_DISABLE", "").strip() not in ("", "0"):
        return False
    if not any(isinstance(f, OpenGaitFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, OpenGaitFinder())
    return True


install()
