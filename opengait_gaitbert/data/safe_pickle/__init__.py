"""Loading OpenGait's pkl files without letting them run code, crash or claim memory they do not hold.

OpenGait's datasets are Python pickles, downloaded from drives and mirrors.
Plain :func:`pickle.load` calls whatever callable a file names (``os.system``
included). An allow-list of global names is not enough either: numpy's own
``dtype`` and ``ndarray`` state restoring reads flags, strides and bytes from
the file, so a file naming only numpy's globals can make numpy take raw bytes
as object pointers (a crash, or code run at a known address), or build a
zero-stride array that claims terabytes over one byte. So nothing of numpy's
unpickling runs here:

* the pickle's opcodes are read by a small stack machine of our own
  (:class:`.machine._Machine`), which knows the few callables a pickled numpy array
  names (:data:`ALLOWED_GLOBALS`) and calls none of them;
* an array is rebuilt from its description (shape, dtype string, byte order,
  data bytes): the dtype must be one of :data:`PLAIN_DTYPES` (bool, integers,
  floats; no object, void, structured or flag-carrying dtype), the element count
  must equal the bytes the file holds, and the result is a new C-contiguous array
  that owns its memory (``np.empty`` filled with the file's bytes, native byte order);
* one file may hold at most :func:`max_bytes` bytes (:data:`MAX_BYTES_ENV`);
* only regular files are opened: FIFOs, devices and folders named ``*.pkl`` are
  refused from their ``stat``, unopened, and a symbolic link must resolve inside
  the dataset root where one is given.

Lists, tuples, dicts, sets, strings, bytes and numbers need no global, so
OpenGait's multi-modal files (lists of point-cloud arrays, dicts) load as before.
The common case, one array as ``pickle.dump`` writes it with protocol 3 or 4, is
recognised by a byte pattern (:func:`.fast_path._fast_array`) that feeds the same array
builder, so it costs no more than plain pickle. :func:`check_pickle` runs the
whole check without reading the array bytes (the launcher's preflight, and
OpenGait's DataSet before its first step).

``trust=True`` (the launcher's ``--trust-data``, or :data:`TRUST_ENV` = 1) is plain
:func:`pickle.load`, for files whose source the user knows.

Pure Python and numpy: nothing here imports OpenGait, torch or OpenCV.

The loader's parts, one job each:

* :mod:`.settings`: the trust switch and the size limit, from the environment;
* :mod:`.regular_files`: only regular files, checked from their ``stat``;
* :mod:`.source`: the pickle's bytes, read through a window;
* :mod:`.allow_list`: the globals a file may name;
* :mod:`.arrays`: rebuilding an array from its description;
* :mod:`.opcodes` and :mod:`.machine`: the stack machine and what each opcode does on it;
* :mod:`.fast_path`: the byte pattern of one pickled array;
* :mod:`.refusals`: why a file is refused, as errors naming it;
* :mod:`.loader`: :func:`load_pickle`, :func:`load_stream` and :func:`check_pickle`.

This module is the loader's public interface: it gathers their public names.
"""
from __future__ import annotations

from .allow_list import ALLOWED_GLOBALS
from .arrays import PLAIN_DTYPES
from .loader import check_pickle, load_pickle, load_stream
from .machine import MAX_OPERATIONS
from .refusals import REFUSED_FIX  # noqa: F401 - public here before the split, outside __all__
from .regular_files import open_regular, regular_file
from .settings import DEFAULT_MAX_BYTES, MAX_BYTES_ENV, TRUST_ENV, max_bytes, trust_decision, trust_setting, trusted

__all__ = ["ALLOWED_GLOBALS", "DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "MAX_OPERATIONS", "PLAIN_DTYPES", "TRUST_ENV",
           "check_pickle", "load_pickle", "load_stream", "max_bytes", "open_regular", "regular_file",
           "trust_decision", "trust_setting", "trusted"]
