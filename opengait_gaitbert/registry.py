"""Registration of GaitBERT's three names into OpenGait's lookup namespaces.

OpenGait resolves YAML names with ``getattr`` on module namespaces:
``model_cfg.model`` on ``modeling.models``, ``loss_cfg[].type`` on
``modeling.losses`` and ``*_cfg.transform[].type`` on ``data.transform``.
Registering is setting those attributes, in every process, before ``run_model``.
The fourth entry, ``dataset``, registers no name: it routes OpenGait's pkl loading
(``data.dataset``) through the safe loader (:mod:`.adapters.dataset`). Registering the
model also makes ``BaseModel`` read checkpoints weights-only (patch P6).
"""
from __future__ import annotations

import importlib

from .core.errors import GaitBERTError

# name -> (OpenGait namespace module, our adapter module, class name)
ENTRIES = {
    "transform": ("data.transform", "opengait_gaitbert.adapters.transform", "MaskedFrameSampler"),
    "loss": ("modeling.losses", "opengait_gaitbert.adapters.loss", "GaitBERTLoss"),
    "model": ("modeling.models", "opengait_gaitbert.adapters.model", "GaitBERT"),
}


class RegistrationError(GaitBERTError, RuntimeError):
    """Another class already holds one of GaitBERT's names in OpenGait."""


def _same_class(a, b) -> bool:
    # A re-imported module yields a new class object for the same definition.
    return a is b or (getattr(a, "__module__", None) == getattr(b, "__module__", None)
                      and getattr(a, "__qualname__", None) == getattr(b, "__qualname__", None))


def register_entry(kind: str) -> None:
    """Register one of ``transform``, ``loss``, ``model``, or protect ``dataset``; idempotent."""
    if kind == "dataset":
        from .adapters.patches import load_pickles_safely
        load_pickles_safely(importlib.import_module("data.dataset"))
        return
    namespace_name, adapter_name, class_name = ENTRIES[kind]
    namespace = importlib.import_module(namespace_name)
    cls = getattr(importlib.import_module(adapter_name), class_name)
    existing = getattr(namespace, class_name, None)
    if existing is not None and not _same_class(existing, cls):
        raise RegistrationError(
            f"OpenGait's `{namespace_name}` already has a `{class_name}` "
            f"({getattr(existing, '__module__', '?')}), which is not GaitBERT's. Rename or remove "
            f"that one, or set OPENGAIT_GAITBERT_DISABLE=1 and do not use GaitBERT in this run.")
    setattr(namespace, class_name, cls)
    if kind == "model":  # every model's checkpoints, GaitBERT's or not, are read weights-only
        from .adapters.patches import load_checkpoints_weights_only
        load_checkpoints_weights_only()


def register() -> None:
    """Register the transform, the loss and the model, and load OpenGait's pkl files safely.
    Needs OpenGait's ``opengait/`` on sys.path."""
    for kind in ("transform", "loss", "model", "dataset"):
        register_entry(kind)
