"""GaitBERT's pure core: network, masking and loss math. Never imports OpenGait.

The errors are imported eagerly (they need nothing); the torch-backed names load on
first use (PEP 562), so that ``from opengait_gaitbert.core.errors import ...`` in the
command line and the data tools does not import torch.
"""
from importlib import import_module

from .errors import ConfigError, DataError, GaitBERTError, SequenceReadError

_LAZY = {"MaskingPolicy": ".masking", "make_mask_fn": ".masking", "mask_sequence": ".masking",
         "GaitBERTNet": ".model", "NetworkConfig": ".model"}

__all__ = ["ConfigError", "DataError", "GaitBERTError", "GaitBERTNet", "MaskingPolicy",
           "NetworkConfig", "SequenceReadError", "make_mask_fn", "mask_sequence"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
