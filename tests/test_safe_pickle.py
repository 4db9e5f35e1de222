"""The safe pkl loader: what a silhouette file needs loads unchanged; anything that could run code is
refused before it is imported, naming the file, the global and the fix."""
import io
import pickle
import warnings

import numpy as np
import pytest

from malicious import ExecTouch, ShellTouch, silhouettes, write_malicious_pkl
from opengait_gaitbert.core.errors import SequenceReadError, UnsafePickleError
from opengait_gaitbert.data import safe_pickle, synth
from opengait_gaitbert.data.layouts import LAYOUTS

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("payload", [ShellTouch, ExecTouch])
def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, payload, protocol):
    marker = tmp_path / "PWNED"
    path = write_malicious_pkl(tmp_path / "evil.pkl", marker, payload, protocol)
    with pytest.raises(UnsafePickleError) as err:
        safe_pickle.load_pickle(path)
    # Protocols 0-2 spell the builtins module as Python 2 did.
    refused = "posix.system" if payload is ShellTouch else ("builtins.exec" if protocol > 2 else "__builtin__.exec")
    assert err.value.path == str(path) and err.value.global_name == refused
    assert str(err.value).startswith(f"{path}: refused to unpickle: it names the global `{refused}`")
    assert "check-data" in str(err.value) and "--trust-data" in str(err.value)
    # The scan names it too, from the opcodes alone.
    assert safe_pickle.refused_globals(path) == [refused]
    with pytest.raises(UnsafePickleError, match=refused):
        safe_pickle.check_globals(path)
    assert not marker.exists()


def test_trust_loads_with_plain_pickle(tmp_path):
    marker = tmp_path / "ran"
    path = write_malicious_pkl(tmp_path / "mine.pkl", marker, ExecTouch)
    _, seq = safe_pickle.load_pickle(path, trust=True)
    assert marker.exists() and seq.shape == (10, 64, 64)  # the opt-in really is plain pickle


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("obj", [
    silhouettes(), silhouettes().astype(bool), silhouettes().astype(np.float32) / 255,
    np.asfortranarray(silhouettes()), silhouettes()[:, ::2, ::3],  # strided: pickled as a copy
    [np.zeros((5, 3)), np.ones((2, 3))],  # OpenGait's point-cloud modality: a list of arrays
    {"sils": silhouettes(3), "ratio": np.float64(0.5), "n": np.uint8(7)},  # dict, numpy scalars
    (silhouettes(2), "text", b"bytes", 1.5, None, True),
], ids=["uint8", "bool", "float32", "fortran", "strided", "list", "dict", "tuple"])
def test_what_a_sequence_needs_loads_unchanged(tmp_path, obj, protocol):
    path = tmp_path / "seq.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    assert safe_pickle.refused_globals(path) == []
    with open(path, "rb") as stream:
        plain = pickle.load(stream)  # made here, in this test: the reference
    assert_identical(safe_pickle.load_pickle(path), plain)
    assert_identical(plain, obj)


def assert_identical(a, b):
    """Same types, and arrays with the same dtype, shape, memory order and bytes."""
    assert type(a) is type(b)
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        if isinstance(a, np.ndarray):
            assert a.flags.f_contiguous == b.flags.f_contiguous
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_identical(a[key], b[key])
    else:
        assert a == b


def test_numpy_1_module_names_are_admitted(tmp_path):
    """numpy 1 wrote ``numpy.core.multiarray``; numpy 2 reads it through its ``numpy.core`` shim."""
    seq = silhouettes(4)
    text = pickle.dumps(seq, protocol=0).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"cnumpy.core.multiarray\n_reconstruct" in text
    path = tmp_path / "old.pkl"
    path.write_bytes(text)
    assert safe_pickle.scan_globals(path)[0] == "numpy.core.multiarray._reconstruct"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2 warns about its numpy.core shim
        np.testing.assert_array_equal(safe_pickle.load_pickle(path), seq)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_synth_layout_loads_through_the_safe_loader_bit_for_bit(tmp_path, layout):
    size = {"grew": dict(ids=22, train_ids=2), "sustech1k": dict(ids=6, train_ids=1, views="000,090", types="00-nm")}
    synth.generate(tmp_path, frames=4, progress=False, layout=layout, **size.get(layout, dict(ids=3, train_ids=1)))
    files = sorted(p for p in tmp_path.rglob("*.pkl"))
    assert files
    for path in files:
        with open(path, "rb") as stream:
            plain = pickle.load(stream)  # our own synthetic data: the reference
        safe = safe_pickle.load_pickle(path)
        assert_identical(safe, plain)
        assert pickle.dumps(safe) == path.read_bytes(), path  # written with the default protocol


def test_every_truncation_is_a_read_error_naming_the_file(tmp_path):
    whole = pickle.dumps({"a": silhouettes(3), "b": [np.uint8(1)]})
    path = tmp_path / "cut.pkl"
    for cut in range(0, len(whole), 97):
        path.write_bytes(whole[:cut])
        with pytest.raises(SequenceReadError, match=f"^{path}: not a readable pickle .*truncated"):
            safe_pickle.scan_globals(path)
        with pytest.raises(SequenceReadError, match=f"^{path}: not a readable pickle .*pretreat"):
            safe_pickle.load_pickle(path)


@pytest.mark.parametrize("content", [b"", b"PNG\x89 not a pickle", b"\x80\x05\xff", "héllo\n".encode()])
def test_a_file_that_is_no_pickle_is_a_read_error(tmp_path, content):
    path = tmp_path / "x.pkl"
    path.write_bytes(content)
    with pytest.raises(SequenceReadError, match=f"^{path}: not a readable pickle"):
        safe_pickle.scan_globals(path)
    with pytest.raises(SequenceReadError, match=f"^{path}: not a readable pickle"):
        safe_pickle.load_pickle(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SequenceReadError, match=f"^{tmp_path / 'gone.pkl'}: cannot be opened"):
        safe_pickle.load_pickle(tmp_path / "gone.pkl")


@pytest.mark.parametrize("make", [
    lambda: b"cnumpy\nload\n.",                               # an allowed module, another name
    lambda: b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00.\x80\x02c__builtin__\neval\n.",
    lambda: b"\x80\x02\x82\x01.",                             # EXT1: a copyreg extension code
    lambda: b"\x80\x02(X\x05\x00\x00\x00numpyX\x07\x00\x00\x00ndarrayt.",  # strings alone: no global
], ids=["numpy.load", "second pickle", "extension", "strings"])
def test_the_scan_follows_what_the_unpickler_would_do(tmp_path, make):
    path = tmp_path / "x.pkl"
    path.write_bytes(make())
    refused = safe_pickle.refused_globals(path)
    try:
        safe_pickle.load_pickle(path)
        loaded = True
    except UnsafePickleError:
        loaded = False
    except SequenceReadError:  # e.g. no extension registered under that code
        loaded = None
    if loaded is not None:
        assert loaded == (refused == []), refused


def test_a_refusal_survives_a_dataloader_worker_round_trip():
    """DataLoader workers re-raise in the parent by pickling the exception."""
    err = UnsafePickleError("x.pkl: refused", path="x.pkl", global_name="posix.system")
    again = pickle.loads(pickle.dumps(err))
    assert (str(again), again.path, again.global_name) == (str(err), "x.pkl", "posix.system")


def test_load_stream_names_the_given_path():
    with pytest.raises(SequenceReadError, match="^somewhere.pkl: not a readable pickle"):
        safe_pickle.load_stream(io.BytesIO(b"junk"), "somewhere.pkl")
