"""Fuzzing the safe pkl loader: hostile pickles over numpy's own globals, each loaded in a subprocess.

Cases come from three seeded generators (:func:`generate`):

* ``stream``: random opcode streams over the allow-listed globals (and a few refused
  ones), with the numbers, strings and bytes a pickled array uses, hostile ones included
  (object and void dtype strings, dtype states with flags, huge and negative shapes, data
  of the wrong length, ``numpy.ndarray`` called with strides);
* ``array``: pickled-array descriptions built field by field, each field drawn from
  plain and hostile values (the ways numpy's unpickling was made to crash or claim memory);
* ``mutation``: real silhouette pkls (and lists and dicts of them, protocols 0-5) with bytes
  flipped, inserted, deleted, cut, spliced or numbers and dtype strings replaced.

Each batch of files is loaded by a worker process (:func:`worker`, run with an empty
folder as its working directory and temporary folder) that prints one JSON line per
file. A case fails (a *finding*) when the worker dies by a signal or hangs on it, when
the load raises anything but a refusal naming the file (``UnsafePickleError`` /
``SequenceReadError``), when what it returns holds anything but plain data and new
plain numeric arrays no larger than the file, or when the worker's folder is no longer
empty afterwards. A batch whose worker dies goes on in a new worker after the case it
died on, so every case is run.

``tests/test_pkl_fuzz.py`` runs 10,000 cases in CI; the longer run is this script::

    nice -n 15 python benchmarks/pkl_fuzz.py --cases 200000          # writes results/pkl-fuzz.md, .json
    python benchmarks/pkl_fuzz.py --cases 2000 --seed 7 --no-write    # a quick look

With ``--samples`` (default ``$GAITBERT_CASIA_B_SAMPLES``, the real CASIA-B GIFs) the
mutation seeds also include real silhouettes, aligned as OpenGait's pretreatment does.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import pickle
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np

if __package__ in (None, ""):  # python benchmarks/pkl_fuzz.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 500              # files per worker
BATCH_TIMEOUT = 120.0    # seconds a worker may take for one batch before the case in progress counts as a hang
WORKER_MEMORY = 2 << 30  # address space of a worker: a load that tries to allocate more fails loudly
#: Set by ``--against``: the workers import ``opengait_gaitbert`` from this checkout instead.
AGAINST_ENV = "GAITBERT_FUZZ_AGAINST"
KEEP_FINDINGS = 50  # findings kept with their bytes in the results; all are counted

# --------------------------------------------------------------------------
# Generating cases
# --------------------------------------------------------------------------

ALLOWED = [("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
           ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
           ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
           ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"), ("builtins", "bytes"),
           ("__builtin__", "bytes")]
REFUSED = [("posix", "system"), ("builtins", "eval"), ("numpy", "load"), ("numpy.lib.format", "read_array")]
PLAIN_SPECS = ["u1", "b1", "i1", "i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4", "f8"]
HOSTILE_SPECS = ["O8", "O4", "V8", "V0", "U3", "S4", "c8", "M8", "m8", "f16", "u3", "", "|u1", "<f4", "u1,u1"]
DTYPE_SPECS = PLAIN_SPECS + HOSTILE_SPECS
ORDERS = ["|", "<", ">", "=", "", "x"]
TEXTS = ["b", "latin1", "latin-1", "C", "F", "A", "touch pwned", "utf-8", "numpy", "dtype"]
INTS = [0, 1, 2, 3, 4, -1, 63, 64, 255, 256, 65535, 2 ** 30, 2 ** 31 - 1, -2 ** 31, 2 ** 32, 2 ** 62, 2 ** 63,
        -(2 ** 63), 10 ** 30]


def _uint(value: int, width: int) -> bytes:
    return (value % (1 << (8 * width))).to_bytes(width, "little")


def op_int(value: int) -> bytes:
    """The shortest pickle opcode for ``value``, as pickle writes it."""
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + _uint(value, 2)
    if -2 ** 31 <= value < 2 ** 31:
        return b"J" + _uint(value, 4)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def op_text(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return (b"\x8c" + bytes([len(data)]) + data) if len(data) < 256 else (b"X" + _uint(len(data), 4) + data)


def op_bytes(data: bytes) -> bytes:
    return (b"C" + bytes([len(data)]) + data) if len(data) < 256 else (b"B" + _uint(len(data), 4) + data)


def op_global(module: str, name: str, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"
    return op_text(module) + op_text(name) + b"\x93"


def random_bytes(rng: random.Random) -> bytes:
    """Array data: short (read with the opcodes) or long (left in the file until an array needs it)."""
    return rng.randbytes(rng.choice([0, 1, 2, 4, 8, 12, 16, 48, 100, 4097, 5000, 12288]))


def stream_case(rng: random.Random) -> bytes:
    """A random opcode stream over the allowed globals and the values arrays use."""
    pieces = [b"\x80" + bytes([rng.choice([2, 3, 4, 5, 6])])] if rng.random() < 0.8 else []
    simple = [b"N", b"\x88", b"\x89", b"(", b")", b"]", b"}", b"t", b"\x85", b"\x86", b"\x87", b"R", b"b",
              b"a", b"e", b"s", b"u", b"d", b"l", b"0", b"1", b"2", b"\x94", b"\x8f", b"\x90", b"\x91",
              b"\x81", b"\x92", b"o", b"i", b"P", b"Q", b"\x97", b"\x98", b"\x95" + _uint(rng.choice([0, 9, 2 ** 40]), 8)]
    for _ in range(rng.randint(1, 40)):
        kind = rng.random()
        if kind < 0.2:
            module, name = rng.choice(ALLOWED) if rng.random() < 0.95 else rng.choice(REFUSED)
            pieces.append(op_global(module, name, rng))
        elif kind < 0.35:
            pieces.append(op_int(rng.choice(INTS)))
        elif kind < 0.5:
            pieces.append(op_text(rng.choice(DTYPE_SPECS + ORDERS + TEXTS)))
        elif kind < 0.6:
            pieces.append(op_bytes(random_bytes(rng)))
        elif kind < 0.7:
            pieces.append(rng.choice([b"h", b"q"]) + bytes([rng.randrange(12)]))
        else:
            pieces.append(rng.choice(simple))
    if rng.random() < 0.9:
        pieces.append(b".")
    return b"".join(pieces)


def dtype_ops(rng: random.Random, spec: Optional[str] = None) -> bytes:
    """``numpy.dtype(spec, align, copy)`` and (mostly) its BUILD with a drawn state."""
    spec = spec if spec is not None else rng.choice(DTYPE_SPECS)
    align, copy = (False, True) if rng.random() < 0.8 else (rng.choice([True, 1, 2]), rng.choice([0, "x"]))
    out = op_global("numpy", "dtype", rng) + op_text(spec) + _value(align) + _value(copy) + b"\x87R"
    if rng.random() < 0.95:
        version = 3 if rng.random() < 0.85 else rng.choice([1, 4, -1, 2 ** 40])
        order = rng.choice(ORDERS[:3]) if rng.random() < 0.85 else rng.choice(ORDERS)
        tail = [None, None, None, -1, -1, 0]
        if rng.random() < 0.3:
            tail[rng.randrange(6)] = rng.choice([1, 8, 63, -2, ("a",), {"a": 1}, (spec, 2), "x"])
        out += b"(" + op_int(version) + op_text(order) + b"".join(_value(v) for v in tail) + b"tb"
    return out


def _value(value) -> bytes:
    """A plain value's opcodes (None, bools, ints, strings, and tuples or dicts of them)."""
    if isinstance(value, bool) or value is None:
        return {True: b"\x88", False: b"\x89", None: b"N"}[value]
    if isinstance(value, int):
        return op_int(value)
    if isinstance(value, str):
        return op_text(value)
    if isinstance(value, tuple):
        return b"(" + b"".join(map(_value, value)) + b"t"
    return b"}(" + b"".join(_value(k) + _value(v) for k, v in value.items()) + b"u"


def _shape(rng: random.Random, nbytes: int) -> tuple:
    choice = rng.random()
    if choice < 0.4:
        return (nbytes,)
    if choice < 0.6:
        return (2 ** 30, 64, 64)
    return tuple(rng.choice(INTS[:12] + [-1, 2 ** 31]) for _ in range(rng.choice([0, 1, 2, 3, 4, 33, 65])))


def array_case(rng: random.Random) -> bytes:
    """A pickled-array description built field by field (protocol 2 or 4 framing): mostly what numpy
    writes, one or two fields drawn from hostile values."""
    data = random_bytes(rng)
    spec = rng.choice(PLAIN_SPECS) if rng.random() < 0.6 else rng.choice(HOSTILE_SPECS)
    itemsize = int(spec[1:]) if spec in PLAIN_SPECS else 1
    shape = (len(data) // itemsize,) if rng.random() < 0.3 else _shape(rng, len(data))
    how = rng.random()
    proto = b"\x80" + bytes([rng.choice([2, 4])])
    shape_ops = b"(" + b"".join(op_int(n) for n in shape) + b"t" if all(isinstance(n, int) for n in shape) else b")"
    if how < 0.5:  # _reconstruct + BUILD (protocols 0-4)
        module = rng.choice(ALLOWED[:2])
        state = (b"(" + op_int(1 if rng.random() < 0.9 else rng.choice([0, 2])) + shape_ops + dtype_ops(rng, spec)
                 + _value(rng.choice([False, False, True, 2])) + op_bytes(data) + b"t")
        return (proto + op_global(*module, rng) + op_global("numpy", "ndarray", rng) + op_int(0) + b"\x85"
                + op_bytes(b"b" if rng.random() < 0.9 else rng.choice([b"B", b""])) + b"\x87R" + state + b"b.")
    if how < 0.7:  # _frombuffer (protocol 5)
        return (b"\x80\x05" + op_global(*ALLOWED[4], rng) + b"(" + b"\x96" + _uint(len(data), 8) + data
                + dtype_ops(rng, spec) + shape_ops + op_text(rng.choice(["C", "F", "A", ""])) + b"tR.")
    if how < 0.85:  # scalar
        return proto + op_global(*ALLOWED[2], rng) + dtype_ops(rng, spec) + op_bytes(data[:rng.choice([1, 8, 16])]) + b"\x86R."
    # numpy.ndarray called directly: shape, dtype, buffer, offset, strides
    strides = b"(" + b"".join(op_int(rng.choice([0, 1, -1, 2 ** 40])) for _ in shape) + b"t"
    return (proto + op_global("numpy", "ndarray", rng) + b"(" + shape_ops + op_text(spec) + op_bytes(data)
            + op_int(rng.choice([0, 1, 2 ** 31])) + strides + b"tR.")


def seed_pickles(samples: Optional[Path] = None) -> List[bytes]:
    """Real silhouette pkls to mutate: synthetic sequences (and lists and dicts of them) in every
    protocol, plus the real CASIA-B GIFs under ``samples``, aligned as OpenGait's pretreatment does."""
    sequences = [_blocks(4, 32), _blocks(3, 64)]
    if samples is not None and Path(samples).is_dir():
        from opengait_gaitbert.data.pretreat import align_sequence, read_sequence
        for gif in sorted(Path(samples).glob("*.gif")):
            sequences.append(align_sequence(read_sequence(gif), 64)[:8])  # real frames; a few keep cases small
    objects = []
    for seq in sequences:
        objects += [seq, seq.astype(np.float32) / 255, [seq[:2], seq[2:4]], {"sils": seq[:3], "n": np.uint8(3)}]
    return [pickle.dumps(obj, protocol=protocol) for obj in objects for protocol in range(6)]


def _blocks(frames: int, size: int) -> np.ndarray:
    """A [frames, size, size] uint8 bar of foreground that moves a column per frame."""
    seq = np.zeros((frames, size, size), np.uint8)
    for t in range(frames):
        seq[t, size // 8:-size // 8, size // 3 + t:-size // 3 + t] = 255
    return seq


def mutate(rng: random.Random, seeds: List[bytes]) -> bytes:
    """One to four random edits of a real pkl."""
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        edit, at = rng.random(), rng.randrange(len(data) + 1)
        if edit < 0.3 and data:
            data[min(at, len(data) - 1)] = rng.getrandbits(8)
        elif edit < 0.45:
            data[at:at] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 8)))
        elif edit < 0.6:
            del data[at:at + rng.randint(1, 16)]
        elif edit < 0.7:
            del data[at:]
        elif edit < 0.8:
            other = rng.choice(seeds)
            start = rng.randrange(len(other))
            data[at:at] = other[start:start + rng.randint(1, 64)]
        elif edit < 0.9:
            for old in (b"u1", b"f4", b"K@", b"K\x04", b"K\x02", b"K\x01"):
                if old in data:
                    new = rng.choice([b"O8", b"V8", b"U3", b"J\xff", b"K\x00", b"f8", b"i8"])
                    data = bytearray(bytes(data).replace(old, new[:len(old)].ljust(len(old), b"\x00"), 1))
                    break
        else:
            data[at:at] = op_global(*rng.choice(ALLOWED + REFUSED), rng)
    return bytes(data)


GENERATORS: Dict[str, Callable] = {"stream": stream_case, "array": array_case, "mutation": mutate}


def generate(count: int, seed: int, seeds: List[bytes]) -> Iterator[tuple]:
    """``count`` cases ``(generator name, bytes)``, made one at a time: a third from each generator,
    deterministic in ``seed``."""
    rng = random.Random(seed)
    for i in range(count):
        name = ("stream", "array", "mutation")[i % 3]
        yield name, (mutate(rng, seeds) if name == "mutation" else GENERATORS[name](rng))


# --------------------------------------------------------------------------
# Loading, one worker per batch
# --------------------------------------------------------------------------

def _plain(value, size: int, depth: int = 0) -> Optional[str]:
    """Why ``value`` (a load's result from a ``size``-byte file) is not plain data, or None."""
    if depth > 200:
        return None  # deep but plain so far; the machine bounds the work anyway
    if value is None or type(value) in (bool, int, float, str, bytes, bytearray):
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.str.lstrip("<>|=") not in PLAIN_SPECS or value.nbytes > size:
            return f"an array of {value.dtype}, shape {value.shape}, {value.nbytes} bytes from a {size}-byte file"
        flags = value.flags
        if not (value.dtype.isnative and flags.c_contiguous and flags.owndata and flags.writeable):
            return (f"an array layout: {value.dtype} {value.shape}, C-contiguous {flags.c_contiguous}, owns its "
                    f"memory {flags.owndata}, writeable {flags.writeable}")
        return None
    if isinstance(value, (np.generic, np.dtype)):
        return None if value.dtype.kind in "buif" else f"numpy {type(value).__name__} {value.dtype}"
    if type(value) in (list, tuple, set, frozenset):
        return next((why for item in value if (why := _plain(item, size, depth + 1))), None)
    if type(value) is dict:
        return next((why for item in value.items() if (why := _plain(item, size, depth + 1))), None)
    return f"a {type(value).__module__}.{type(value).__name__}"


def worker(list_file: str) -> int:
    """Load each file named in ``list_file`` (one per line) with the safe loader; print one JSON line
    per file: ``{"i", "outcome": "ok"|"refused"|"finding", "detail"}``."""
    import resource  # POSIX

    against = os.environ.get(AGAINST_ENV)
    if against:  # another checkout's loader: past the startup hook's import and an editable install's finder
        for name in [m for m in sys.modules if m.split(".")[0] == "opengait_gaitbert"]:
            del sys.modules[name]
        sys.meta_path = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
        sys.path.insert(0, against)
    from opengait_gaitbert.core.errors import GaitBERTError
    from opengait_gaitbert.data.safe_pickle import load_pickle
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    paths = Path(list_file).read_text().splitlines()
    crash_on = os.environ.get("GAITBERT_FUZZ_CRASH_ON")  # tests of the harness: die on this file
    for i, path in enumerate(paths):
        if path == crash_on:
            os.kill(os.getpid(), signal.SIGSEGV)
        try:
            value = load_pickle(path)
            why = _plain(value, os.path.getsize(path))
            kind = "layout" if why and why.startswith("an array layout") else "result"
            outcome, kind, detail = ("finding", kind, f"returned {why}") if why else ("ok", "", type(value).__name__)
        except GaitBERTError as err:
            text = str(err)
            memory = isinstance(err.__cause__, MemoryError)
            clear = text.startswith(f"{path}: ") and not memory
            outcome, kind = ("refused", "") if clear else ("finding", "memory" if memory else "unclear")
            detail = f"{type(err).__name__}: {text[len(path) + 2:][:160] if clear else text[:300]}"
        except BaseException as err:  # noqa: BLE001 - whatever escapes is what the fuzzer looks for
            outcome, kind, detail = "finding", "exception", f"{type(err).__name__} escaped: {str(err)[:300]}"
        print(json.dumps({"i": i, "outcome": outcome, "kind": kind, "detail": detail}), flush=True)
    return 0


def run_batch(paths: List[Path], folder: Path, timeout: float = BATCH_TIMEOUT, against: Optional[str] = None) -> List[dict]:
    """Outcomes of ``paths``, loaded by workers in the empty ``folder``: one dict per path, in order."""
    results: List[dict] = []
    while len(results) < len(paths):
        rest = paths[len(results):]
        listing = folder.parent / f"{folder.name}.list"
        listing.write_text("\n".join(map(str, rest)))
        env = {**os.environ, "TMPDIR": str(folder), "HOME": str(folder), "PYTHONDONTWRITEBYTECODE": "1",
               "OMP_NUM_THREADS": "1", **({AGAINST_ENV: against} if against else {})}
        try:
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", str(listing)],
                                  cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
            lines, code, hung = proc.stdout.splitlines(), proc.returncode, False
            err_tail = proc.stderr[-300:]
        except subprocess.TimeoutExpired as expired:
            out = expired.stdout or b""
            lines = (out.decode() if isinstance(out, bytes) else out).splitlines()
            code, hung, err_tail = None, True, ""
        done = [json.loads(line) for line in lines if line.startswith("{")]
        results += [{key: d[key] for key in ("outcome", "kind", "detail")} for d in done]
        if len(results) < len(paths) and (hung or code != 0):
            kind = "hang" if hung else "signal" if code < 0 else "exit"
            why = (f"hung (no result within {timeout:.0f} s)" if hung else
                   f"worker died by signal {-code}" if code < 0 else f"worker exited {code}: {err_tail}")
            results.append({"outcome": "finding", "kind": kind, "detail": why})
        elif len(results) < len(paths):
            results.append({"outcome": "finding", "kind": "exit", "detail": f"worker stopped early: {err_tail}"})
        written = sorted(p.name for p in folder.iterdir())
        if written:
            results[-1] = {"outcome": "finding", "kind": "written",
                           "detail": f"files written in the worker's folder: {written}"}
            for path in folder.iterdir():
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    return results


def fuzz(count: int, seed: int = 0, samples: Optional[Path] = None, batch: int = BATCH,
         progress: bool = False, against: Optional[str] = None) -> dict:
    """Generate ``count`` cases and load each in a worker (with ``against``, by that checkout's
    loader); returns counts and findings."""
    seeds = seed_pickles(samples)
    started = time.monotonic()
    cases = generate(count, seed, seeds)
    outcomes = {"ok": 0, "refused": 0, "finding": 0}
    by_generator: Dict[str, Dict[str, int]] = {name: dict.fromkeys(outcomes, 0) for name in GENERATORS}
    findings, refusals, kinds = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="gaitbert-fuzz-") as tmp:
        work, quiet = Path(tmp) / "cases", Path(tmp) / "worker"
        work.mkdir()
        quiet.mkdir()
        for start in range(0, count, batch):
            chunk = list(itertools.islice(cases, batch))
            paths = []
            for j, (_, data) in enumerate(chunk):
                path = work / f"{start + j:07d}.pkl"
                path.write_bytes(data)
                paths.append(path)
            for (name, data), path, result in zip(chunk, paths, run_batch(paths, quiet, against=against)):
                outcomes[result["outcome"]] += 1
                by_generator[name][result["outcome"]] += 1
                if result["outcome"] == "finding":
                    kinds[result["kind"]] = kinds.get(result["kind"], 0) + 1
                    if len(findings) < KEEP_FINDINGS:
                        findings.append({"case": path.name, "generator": name, "kind": result["kind"],
                                         "detail": result["detail"].replace(str(path), path.name),
                                         "bytes": data[:200].hex()})
                elif result["outcome"] == "refused":
                    kind = result["detail"].split(" (", 1)[0][:90]
                    refusals[kind] = refusals.get(kind, 0) + 1
            for path in paths:
                path.unlink()
            if progress:
                print(f"  {start + len(chunk)} cases, {outcomes['finding']} findings", file=sys.stderr, flush=True)
    return {"cases": count, "seed": seed, "outcomes": outcomes, "by_generator": by_generator,
            "finding_kinds": dict(sorted(kinds.items())), "findings": findings,
            "top_refusals": dict(sorted(refusals.items(), key=lambda kv: -kv[1])[:15]),
            "seeds_real_gifs": bool(samples and Path(samples).is_dir()),
            "wall_s": round(time.monotonic() - started, 1)}


# --------------------------------------------------------------------------
# The longer run
# --------------------------------------------------------------------------

def _summary(result: dict) -> List[str]:
    """The outcome table and the findings of one fuzz run, as markdown lines."""
    out = result["outcomes"]
    lines = ["| generator | cases | loaded | refused | findings |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, counts in result["by_generator"].items():
        lines.append(f"| {name} | {sum(counts.values())} | {counts['ok']} | {counts['refused']} | {counts['finding']} |")
    lines.append(f"| all | {result['cases']} | {out['ok']} | {out['refused']} | {out['finding']} |")
    listed = ", ".join(f"{n} {k}" for k, n in result["finding_kinds"].items())
    lines += ["", f"Findings: {out['finding']}" + (f" ({listed})" if listed else "") + "."]
    lines += [f"- {f['case']} ({f['generator']}, {f['kind']}): {f['detail'][:200]}" for f in result["findings"][:12]]
    return lines


def markdown(doc: dict) -> str:
    result = doc["result"]
    lines = [
        f"# Safe pkl loading: fuzzing ({doc['date']})",
        "",
        f"Written by `benchmarks/pkl_fuzz.py` on {doc['date']}: {result['cases']} cases (seed {result['seed']}), "
        f"Python {doc['machine']['python']}, numpy {doc['machine']['numpy']}, {doc['machine']['cpus']} CPUs, "
        f"{result['wall_s']} s wall time on a shared machine. Mutation seeds: synthetic silhouettes"
        + (" and the real CASIA-B GIFs (one subject), aligned as OpenGait's pretreatment does" if
           result["seeds_real_gifs"] else "") + ", every protocol.",
        "",
        "Each case is a pkl file loaded by `load_pickle` in a worker process. A finding is a signal (`signal`), "
        "a hang (`hang`), an exception other than a refusal naming the file (`exception`, `unclear`), a refusal "
        "caused by running out of memory (`memory`), a result holding anything but plain data and plain numeric "
        "arrays no larger than the file (`result`), arrays that are not new, C-contiguous, native and writeable "
        "(`layout`: plain pickle's own arrays are views of its bytes), or a file written by the worker (`written`).",
        "",
        *_summary(result),
        "",
        "Most frequent refusals (the loader's own words, after the file name):",
        "",
        *[f"- {count}: {kind}" for kind, count in result["top_refusals"].items()],
    ]
    against = doc.get("against")
    if against:
        lines += ["", f"## The same generators against {against['label']}", "",
                  f"The first {against['result']['cases']} of these cases (seed {against['result']['seed']}), loaded "
                  "by that checkout's `load_pickle` in the same workers:", "", *_summary(against["result"])]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--cases", type=int, default=200_000, help="cases to run (default 200000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1; CI uses 0)")
    parser.add_argument("--samples", default=os.environ.get("GAITBERT_CASIA_B_SAMPLES"),
                        help="folder of real silhouette GIFs for mutation seeds (default: $GAITBERT_CASIA_B_SAMPLES)")
    parser.add_argument("--against", help="also run the first --against-cases cases against the loader of this "
                                          "checkout (e.g. a `git worktree` of an older commit), for comparison")
    parser.add_argument("--against-cases", type=int, default=20_000, help="cases for --against (default 20000)")
    parser.add_argument("--against-label", help="how the results name --against (default: its path)")
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    parser.add_argument("--no-write", action="store_true", help="print the summary only")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="date written into the results")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    samples = Path(args.samples) if args.samples else None
    result = fuzz(args.cases, args.seed, samples, progress=True)
    doc = {"date": args.date, "result": result,
           "machine": {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
                       "platform": platform.platform()}}
    if args.against:
        doc["against"] = {"label": args.against_label or args.against,
                          "result": fuzz(min(args.against_cases, args.cases), args.seed, samples, progress=True,
                                         against=str(Path(args.against).resolve()))}
    print(markdown(doc))
    if not args.no_write:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "pkl-fuzz.json").write_text(json.dumps(doc, indent=1) + "\n")
        (out / "pkl-fuzz.md").write_text(markdown(doc))
    return 1 if result["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
