"""GaitBERT for OpenGait: masked-frame gait recognition as a pip-installable add-on.

Importing this package is cheap (no torch): the startup hook imports it in every
Python process. The core lives in :mod:`opengait_gaitbert.core`, the OpenGait
adapters in :mod:`opengait_gaitbert.adapters`.
"""
__version__ = "0.1.0"


def register() -> None:
    """Register GaitBERT, GaitBERTLoss and MaskedFrameSampler into OpenGait (idempotent).

    OpenGait's ``opengait/`` folder must be on ``sys.path``. After ``pip install``
    the startup hook does this by itself whenever OpenGait's modules are imported.
    """
    from .registry import register as _register
    _register()


def config_path(name: str = "gaitbert_casiab.yaml"):
    """Path of a shipped config, e.g. ``gaitbert_demo.yaml``.

    Installed, the configs are the package ``opengait_gaitbert.configs``
    (``importlib.resources``); in a source checkout they sit in ``configs/gaitbert/``.
    """
    from importlib.resources import files
    try:
        return files("opengait_gaitbert.configs").joinpath(name)
    except ModuleNotFoundError:
        from pathlib import Path
        return Path(__file__).resolve().parent.parent / "configs" / "gaitbert" / name
