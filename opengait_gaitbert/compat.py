"""OpenGait parity in one place: the OpenGait functions GaitBERT needs where OpenGait is absent.

The launcher, the data tools and ``embed``/``identify``/``visualize``/``export`` run
without OpenGait on ``sys.path``, yet must cut frames and merge configs exactly as
OpenGait does. Each function here calls OpenGait's own when OpenGait runs in this
process (its module already imported from a real OpenGait ``opengait/`` folder) and
otherwise runs the one copy below. ``tests/integration/test_compat.py`` proves every
copy equal to OpenGait's function.

Nothing here imports OpenGait: its ``data.transform`` costs torchvision, einops and
more, and a top-level ``data`` or ``utils`` package outside an OpenGait clone is
someone else's.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from ._autoregister import opengait_root_of
from .core.errors import ConfigError


def opengait_function(module_name: str, name: str):
    """``module_name.name`` if that module is loaded from a real OpenGait folder, else None."""
    module = sys.modules.get(module_name)
    if module is None or opengait_root_of(getattr(module, "__file__", None), module_name) is None:
        return None
    return getattr(module, name, None)


def cut_and_scale(seq: np.ndarray, divsor: float = 255.0, cutting: Optional[int] = None) -> np.ndarray:
    """OpenGait's ``BaseSilCuttingTransform(divsor, cutting)(seq)``, as float32.

    Cuts ``cutting`` columns from each side (None: ``int(W // 64) * 10``, so 64x64
    pkl frames become 64x44) and divides by ``divsor``: ``[T, H, W]`` -> ``[T, H, W - 2 cut]``.
    """
    transform = opengait_function("data.transform", "BaseSilCuttingTransform") or BaseSilCuttingTransform
    return np.asarray(transform(divsor=divsor, cutting=cutting)(seq), dtype=np.float32)


def merge_cfgs(src: Mapping, dst: Dict[str, Any]) -> Dict[str, Any]:
    """OpenGait's ``MergeCfgsDict(src, dst)``: ``src`` laid over ``dst`` in place, nested dicts
    merged key by key (how ``config_loader`` lays a config over ``configs/default.yaml``).

    Returns ``dst``.
    """
    merge = opengait_function("utils.common", "MergeCfgsDict") or MergeCfgsDict
    merge(src, dst)
    return dst


# --------------------------------------------------------------------------
# The copies, named as in OpenGait; used only where OpenGait is not loaded.
# --------------------------------------------------------------------------

class BaseSilCuttingTransform:
    """Copy of OpenGait's ``data.transform.BaseSilCuttingTransform``."""

    def __init__(self, divsor: float = 255.0, cutting: Optional[int] = None):
        self.divsor, self.cutting = divsor, cutting

    def __call__(self, x: np.ndarray) -> np.ndarray:
        cutting = int(x.shape[-1] // 64) * 10 if self.cutting is None else self.cutting
        if cutting != 0:
            x = x[..., cutting:-cutting]
        return x / self.divsor


def MergeCfgsDict(src: Mapping, dst: Dict[str, Any]) -> None:  # noqa: N802 - OpenGait's name
    """Copy of OpenGait's ``utils.common.MergeCfgsDict``."""
    for key, value in src.items():
        if type(value) is dict and isinstance(dst.get(key), dict):
            MergeCfgsDict(value, dst[key])
        else:
            dst[key] = value


def yaml_problem(err: Exception) -> str:
    """What is wrong with a YAML text that ``yaml.safe_load`` refused, and the fix: a tag that would
    build a Python object (``!!python/object/apply:os.system``) is named as such, since a config
    never needs one; anything else is "not readable YAML"."""
    import yaml

    tag = re.search(r"constructor for the tag '(?:tag:yaml\.org,2002:)?([^']*)'", str(getattr(err, "problem", "")))
    if isinstance(err, yaml.constructor.ConstructorError) and tag:
        mark = err.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        shown = f"!!{tag.group(1)}" if not tag.group(1).startswith("!") else tag.group(1)
        return (f"uses the YAML tag `{shown}`{where}, which asks to build a Python object (and could run code): "
                "a config holds only mappings, lists, numbers and strings. Remove the tag; nothing was read.")
    return f"not a readable YAML file ({err})."


def read_yaml(path: Union[str, Path], what: str = "--cfgs") -> Dict[str, Any]:
    """A YAML config file as a dict (``{}`` when empty), as OpenGait's ``config_loader`` reads it.

    Raises:
        ConfigError: the file is missing, not YAML, or not a mapping (names ``what`` and the file).
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path}: config file not found.")
    try:
        cfg = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{what} {path}: {yaml_problem(err)}") from err
    if cfg is None:
        return {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{what} {path}: holds a {type(cfg).__name__}, expected an OpenGait "
                          "config mapping (model_cfg, data_cfg, ...).")
    return cfg
