"""The safe pkl loader: what a silhouette file needs loads as plain pickle would load it, rebuilt
without numpy's unpickling; anything that could run code, crash numpy or claim memory it does not
hold is refused, naming the file, what is wrong and the fix."""
import io
import os
import pickle
import warnings

import numpy as np
import pytest

from malicious import HOSTILE_NUMPY, ExecTouch, ShellTouch, silhouettes, write_malicious_pkl
from opengait_gaitbert.core.errors import ConfigError, SequenceReadError, UnsafePickleError
from opengait_gaitbert.data import safe_pickle, synth
from opengait_gaitbert.data.layouts import LAYOUTS
from opengait_gaitbert.data.safe_pickle.source import _Source

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
    # The check without the frames names it too.
    with pytest.raises(UnsafePickleError, match=refused):
        safe_pickle.check_pickle(path)
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
    assert safe_pickle.check_pickle(path) is None
    with open(path, "rb") as stream:
        plain = pickle.load(stream)  # made here, in this test: the reference
    assert_identical(safe_pickle.load_pickle(path), plain)
    assert_identical(plain, obj, rebuilt=False)


def assert_identical(a, b, rebuilt=True):
    """Same types, and arrays with the same dtype, shape and values; with ``rebuilt`` (``a`` is the
    safe loader's), every array of ``a`` is C-contiguous, writeable and owns its memory."""
    assert type(a) is type(b)
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
        if isinstance(a, np.ndarray) and rebuilt:
            assert a.flags.c_contiguous and a.flags.owndata and a.flags.writeable
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y, rebuilt)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_identical(a[key], b[key], rebuilt)
    else:
        assert a == b


def test_numpy_1_module_names_are_admitted(tmp_path):
    """numpy 1 wrote ``numpy.core.multiarray``; numpy 2 reads it through its ``numpy.core`` shim."""
    seq = silhouettes(4)
    text = pickle.dumps(seq, protocol=0).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"cnumpy.core.multiarray\n_reconstruct" in text
    path = tmp_path / "old.pkl"
    path.write_bytes(text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2 warns about its numpy.core shim
        np.testing.assert_array_equal(safe_pickle.load_pickle(path), seq)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_synth_layout_loads_through_the_safe_loader_unchanged(tmp_path, layout):
    size = {"grew": dict(ids=22, train_ids=2), "sustech1k": dict(ids=6, train_ids=1, views="000,090", types="00-nm")}
    synth.generate(tmp_path, frames=4, progress=False, layout=layout, **size.get(layout, dict(ids=3, train_ids=1)))
    files = sorted(p for p in tmp_path.rglob("*.pkl"))
    assert files
    for path in files:
        with open(path, "rb") as stream:
            plain = pickle.load(stream)  # our own synthetic data: the reference
        safe = safe_pickle.load_pickle(path)
        assert_identical(safe, plain)  # values; a Fortran-ordered array comes back C-contiguous


def test_every_truncation_is_a_read_error_naming_the_file(tmp_path):
    whole = pickle.dumps({"a": silhouettes(3), "b": [np.uint8(1)]})
    path = tmp_path / "cut.pkl"
    for cut in range(0, len(whole), 97):
        path.write_bytes(whole[:cut])
        with pytest.raises(SequenceReadError, match=f"^{path}: not a readable pickle .*truncated"):
            safe_pickle.check_pickle(path)
        with pytest.raises(SequenceReadError, match=f"^{path}: not a readable pickle .*pretreat"):
            safe_pickle.load_pickle(path)


@pytest.mark.parametrize("content", [b"", b"PNG\x89 not a pickle", b"\x80\x05\xff", "héllo\n".encode()])
def test_a_file_that_is_no_pickle_is_a_read_error(tmp_path, content):
    path = tmp_path / "x.pkl"
    path.write_bytes(content)
    with pytest.raises(SequenceReadError, match=f"^{path}: not a readable pickle"):
        safe_pickle.check_pickle(path)
    with pytest.raises(SequenceReadError, match=f"^{path}: not a readable pickle"):
        safe_pickle.load_pickle(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SequenceReadError, match=f"^{tmp_path / 'gone.pkl'}: cannot be opened"):
        safe_pickle.load_pickle(tmp_path / "gone.pkl")


def test_a_refusal_survives_a_dataloader_worker_round_trip():
    """DataLoader workers re-raise in the parent by pickling the exception."""
    err = UnsafePickleError("x.pkl: refused", path="x.pkl", global_name="posix.system")
    again = pickle.loads(pickle.dumps(err))
    assert (str(again), again.path, again.global_name) == (str(err), "x.pkl", "posix.system")


def test_load_stream_names_the_given_path():
    with pytest.raises(SequenceReadError, match="^somewhere.pkl: not a readable pickle"):
        safe_pickle.load_stream(io.BytesIO(b"junk"), "somewhere.pkl")


# -- files that name only numpy's globals, yet would crash numpy, run code or claim memory ----------

@pytest.mark.parametrize("name", sorted(HOSTILE_NUMPY))
def test_numpy_only_pickles_that_would_crash_or_claim_memory_are_refused(tmp_path, name):
    make, reason = HOSTILE_NUMPY[name]
    path = tmp_path / "01.pkl"
    path.write_bytes(make())
    for read in (safe_pickle.load_pickle, safe_pickle.check_pickle):
        with pytest.raises(UnsafePickleError) as err:
            read(path)
        assert str(err.value).startswith(f"{path}: refused to unpickle: {reason}"), str(err.value)
        assert err.value.path == str(path) and "pretreat" in str(err.value)


@pytest.mark.parametrize("dtype", ["O", "V8", "U3", "S4", "c8", "M8[s]", [("a", "u1"), ("b", "f4")]],
                         ids=["object", "void", "unicode", "bytes", "complex", "datetime", "structured"])
def test_only_plain_numeric_dtypes_are_rebuilt(tmp_path, dtype):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(np.zeros(3, dtype)))
    with pytest.raises(UnsafePickleError, match=r"refused to unpickle: its array has dtype .* not one of the plain"):
        safe_pickle.load_pickle(path)


def test_an_element_count_must_match_the_bytes_present(tmp_path):
    real = pickle.dumps(silhouettes(3), protocol=4)
    for fewer in (b"K\x02K@K@\x87", b"K\x03K@K?\x87", b"K\x03K@M\x00\x01\x87"):
        path = tmp_path / "x.pkl"
        path.write_bytes(real.replace(b"K\x03K@K@\x87", fewer))
        with pytest.raises(UnsafePickleError, match=r"its array claims shape .* but holds 12288 bytes of data"):
            safe_pickle.load_pickle(path)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("dtype", sorted(safe_pickle.PLAIN_DTYPES) + [">f4", ">i8", "<u2"])
@pytest.mark.parametrize("shape", [(), (0,), (7,), (2, 0, 3), (3, 5, 4), (2, 3, 4, 5), (3000, 3)])
def test_the_fast_path_and_the_machine_rebuild_the_same_array(dtype, shape, protocol):
    array = (np.arange(int(np.prod(shape))) % 7).astype(dtype).reshape(shape)
    data = pickle.dumps(array, protocol=protocol)
    fast = safe_pickle.load_stream(io.BytesIO(data), "x.pkl")
    machine = safe_pickle.load_stream(io.BytesIO(data), "x.pkl", fast=False)
    for rebuilt in (fast, machine):
        assert_identical(rebuilt, array.astype(array.dtype.newbyteorder("=")))
        assert rebuilt.dtype.isnative


def test_checking_reads_no_frames(tmp_path, monkeypatch):
    path = tmp_path / "seq.pkl"
    path.write_bytes(pickle.dumps([silhouettes(100), silhouettes(90)]))

    def refuse(*args):
        raise AssertionError("check_pickle read array data")
    monkeypatch.setattr(_Source, "fill", refuse)
    assert safe_pickle.check_pickle(path) is None


# -- the size limit ------------------------------------------------------------------------------

def test_a_file_over_the_size_limit_is_refused_naming_the_override(tmp_path, monkeypatch):
    path = tmp_path / "big.pkl"
    path.write_bytes(pickle.dumps(silhouettes(10)))
    monkeypatch.setenv(safe_pickle.MAX_BYTES_ENV, "4096")
    for read in (safe_pickle.load_pickle, safe_pickle.check_pickle):
        with pytest.raises(SequenceReadError, match=rf"^{path}: {path.stat().st_size} bytes, over the 4096-byte "
                                                    rf"limit .*{safe_pickle.MAX_BYTES_ENV}=65536"):
            read(path)
    monkeypatch.setenv(safe_pickle.MAX_BYTES_ENV, str(path.stat().st_size))
    assert safe_pickle.load_pickle(path).shape == (10, 64, 64)
    monkeypatch.setenv(safe_pickle.MAX_BYTES_ENV, "1GB")
    with pytest.raises(ConfigError, match=rf"{safe_pickle.MAX_BYTES_ENV}='1GB' is invalid; allowed: a positive"):
        safe_pickle.load_pickle(path)


# -- only regular files ----------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_named_pkl_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "01.pkl"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    for read in (safe_pickle.load_pickle, safe_pickle.check_pickle):
        with pytest.raises(SequenceReadError, match=rf"^{fifo}: is a FIFO \(named pipe\), not a regular file; "
                                                    "refused without opening it"):
            read(fifo)


def test_a_folder_or_a_device_named_pkl_is_refused(tmp_path):
    (tmp_path / "dir.pkl").mkdir()
    with pytest.raises(SequenceReadError, match="is a folder, not a regular file"):
        safe_pickle.load_pickle(tmp_path / "dir.pkl")
    if os.path.exists("/dev/zero"):  # endless: reading it never ends
        (tmp_path / "zero.pkl").symlink_to("/dev/zero")
        with pytest.raises(SequenceReadError, match="is a character device, not a regular file"):
            safe_pickle.load_pickle(tmp_path / "zero.pkl")


def test_symbolic_links_must_stay_inside_the_dataset_root(tmp_path):
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    (root / "001").mkdir(parents=True)
    outside.mkdir()
    (outside / "seq.pkl").write_bytes(pickle.dumps(silhouettes(3)))
    (root / "001" / "in.pkl").write_bytes(pickle.dumps(silhouettes(4)))
    (root / "001" / "out.pkl").symlink_to(outside / "seq.pkl")
    (root / "001" / "same.pkl").symlink_to("in.pkl")
    (root / "002").symlink_to(outside)  # a folder link leads out too
    assert safe_pickle.load_pickle(root / "001" / "same.pkl", root=root).shape == (4, 64, 64)
    for leaving in (root / "001" / "out.pkl", root / "002" / "seq.pkl"):
        with pytest.raises(SequenceReadError, match=rf"^{leaving}: resolves to {outside / 'seq.pkl'}, outside the "
                                                    rf"dataset root {root}"):
            safe_pickle.check_pickle(leaving, root=root)
    assert safe_pickle.load_pickle(root / "001" / "out.pkl").shape == (3, 64, 64)  # no root: the user's own file


# -- one trust switch ------------------------------------------------------------------------------

@pytest.mark.parametrize("value,trusted", [(None, False), ("", False), ("0", False), ("1", True)])
def test_the_trust_variable_takes_1_or_0(monkeypatch, value, trusted):
    if value is None:
        monkeypatch.delenv(safe_pickle.TRUST_ENV, raising=False)
    else:
        monkeypatch.setenv(safe_pickle.TRUST_ENV, value)
    assert safe_pickle.trusted() is trusted
    decided, line = safe_pickle.trust_decision(False)
    assert decided is trusted
    assert ("plain pickle" in line) is trusted and ("1 in the environment" in line) is trusted


@pytest.mark.parametrize("value", ["false", "true", "yes", "no", " 1", "on", "2"])
def test_any_other_trust_value_is_an_error_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv(safe_pickle.TRUST_ENV, value)
    with pytest.raises(ConfigError, match=rf"^{safe_pickle.TRUST_ENV}={value!r} is invalid; allowed: 1 .* or 0 / unset"):
        safe_pickle.trusted()
    with pytest.raises(ConfigError):
        safe_pickle.trust_decision(True)  # even with --trust-data: the environment must say one thing


def test_the_flag_says_why_it_trusts(monkeypatch):
    monkeypatch.delenv(safe_pickle.TRUST_ENV, raising=False)
    assert safe_pickle.trust_decision(True) == (True, safe_pickle.trust_decision(True)[1])
    assert "(--trust-data)" in safe_pickle.trust_decision(True)[1]
    assert "loaded safely (no --trust-data, OPENGAIT_GAITBERT_TRUST_DATA unset)" in safe_pickle.trust_decision()[1]
