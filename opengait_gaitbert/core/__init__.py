"""GaitBERT's pure core: network, masking and loss math. Never imports OpenGait."""
from .errors import ConfigError, DataError, GaitBERTError
from .masking import MaskingPolicy, make_mask_fn, mask_sequence
from .model import GaitBERTNet, NetworkConfig

__all__ = ["ConfigError", "DataError", "GaitBERTError", "GaitBERTNet", "MaskingPolicy",
           "NetworkConfig", "make_mask_fn", "mask_sequence"]
