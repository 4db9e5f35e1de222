"""The globals a silhouette pkl may name (:data:`ALLOWED_GLOBALS`), and the marker each becomes in
the machine: a step it rebuilds, never imported, never called.
"""
from __future__ import annotations

from typing import FrozenSet, Tuple

_NUMPY_ARRAY_GLOBALS = (
    ("multiarray", "_reconstruct"),  # ndarray.__reduce__ (protocols 0-4)
    ("multiarray", "scalar"),        # numpy scalars (np.uint8(3) in a list)
    ("numeric", "_frombuffer"),      # ndarray.__reduce_ex__(5)
)
#: (module, name) pairs a silhouette pkl may name: numpy 2 writes ``numpy._core``,
#: numpy 1 ``numpy.core``; ``_codecs.encode`` is how protocols 0-2 store bytes, and ``bytes()``
#: (spelt ``__builtin__.bytes`` there) the empty data of an empty array.
#: None of them is ever imported or called: each names a step the machine rebuilds.
ALLOWED_GLOBALS: FrozenSet[Tuple[str, str]] = frozenset(
    [(f"numpy.{core}.{module}", name) for core in ("core", "_core") for module, name in _NUMPY_ARRAY_GLOBALS]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("__builtin__", "bytes"),
       ("builtins", "bytes")])


class _Global:
    """A global the file names, as a marker: never imported, never called."""
    __slots__ = ("role",)

    def __init__(self, role: str):
        self.role = role


_ROLES = {"_reconstruct": "reconstruct", "scalar": "scalar", "_frombuffer": "frombuffer", "ndarray": "ndarray",
          "dtype": "dtype", "encode": "encode", "bytes": "bytes"}
_GLOBALS = {(module, name): _Global(_ROLES[name]) for module, name in ALLOWED_GLOBALS}
