"""The safe loader's settings, read from the environment: whether pkl files are trusted (loaded
with plain pickle) and the most bytes one file may hold.
"""
from __future__ import annotations

import os
from typing import Tuple

from ...core.errors import ConfigError

#: Set to 1 (or pass ``--trust-data``) to load pkl files with plain pickle; unset or 0 is the safe loader.
TRUST_ENV = "OPENGAIT_GAITBERT_TRUST_DATA"
#: The most bytes one pkl file may hold, to raise the default :data:`DEFAULT_MAX_BYTES`.
MAX_BYTES_ENV = "OPENGAIT_GAITBERT_MAX_PKL_BYTES"
#: 1 GiB: a uint8 [T, 64, 64] sequence of 262144 frames; OpenGait's largest modalities hold a few MB.
DEFAULT_MAX_BYTES = 1 << 30


def trust_setting(environ=None) -> bool:
    """Whether :data:`TRUST_ENV` asks for plain pickle: ``1`` yes; unset, empty or ``0`` no.

    Raises:
        ConfigError: any other value (``true``, ``false``, ``yes``...), naming the variable
            and the values it takes, so that a value meant as "off" never turns trust on.
    """
    value = (os.environ if environ is None else environ).get(TRUST_ENV, "")
    if value in ("", "0", "1"):
        return value == "1"
    raise ConfigError(f"{TRUST_ENV}={value!r} is invalid; allowed: 1 (load pkl files with plain pickle, which "
                      "runs any code a file carries) or 0 / unset (the safe loader, the default). For one "
                      "launcher run, pass --trust-data instead.")


def trusted() -> bool:
    """:func:`trust_setting` of this process's environment."""
    return trust_setting()


def trust_decision(flag: bool = False) -> Tuple[bool, str]:
    """``(trusted, a line saying what was decided and why)``: ``--trust-data`` is ``flag``, and
    :data:`TRUST_ENV` is read from this process's environment (:func:`trust_setting`)."""
    from_env = trust_setting()  # checked even with the flag: the environment must say one thing
    if flag or from_env:
        why = "--trust-data" if flag else f"{TRUST_ENV}=1 in the environment"
        return True, (f"pkl files are loaded with plain pickle ({why}), which runs any code a file carries; "
                      "use it only for data whose source you know")
    setting = f"{TRUST_ENV}=0" if os.environ.get(TRUST_ENV) == "0" else f"{TRUST_ENV} unset"
    return False, (f"pkl files are loaded safely (no --trust-data, {setting}): numpy arrays are rebuilt from "
                   "their description and nothing in a file runs")


def max_bytes() -> int:
    """The most bytes one pkl may hold: :data:`MAX_BYTES_ENV`, else :data:`DEFAULT_MAX_BYTES`.

    Raises:
        ConfigError: the variable is not a positive whole number of bytes.
    """
    value = os.environ.get(MAX_BYTES_ENV)
    if not value:
        return DEFAULT_MAX_BYTES
    value = value.strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ConfigError(f"{MAX_BYTES_ENV}={value!r} is invalid; allowed: a positive number of bytes "
                      f"(default {DEFAULT_MAX_BYTES}, 1 GiB).")
