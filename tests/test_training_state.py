"""Atomic checkpoints survive a kill mid-save and a full disk; every rank's RNG states round-trip
through weights_only loading; damaged checkpoints and world-size changes are named."""
import errno
import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from opengait_gaitbert.core.training_state import (CheckpointError, atomic_save, gather_rng_states, load_checkpoint,
                                                  previous_checkpoints, rank_rng_state, rng_state, save_error,
                                                  set_rng_state)


class ExplodingPickle:
    """Fails halfway through serialisation, as a full disk or a crash would."""

    def __reduce__(self):
        raise OSError("disk full")


def test_failed_save_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    atomic_save({"model": torch.ones(3), "iteration": 1}, path)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"model": torch.zeros(10_000), "boom": ExplodingPickle()}, path)
    assert torch.load(path, weights_only=True)["iteration"] == 1
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_kill_during_save_leaves_the_previous_checkpoint(tmp_path):
    """The writer SIGKILLs itself from inside torch.save, after half the new checkpoint reached the disk:
    a kill mid-write, every time, with a few kilobytes instead of a race against a 400 MB write."""
    path = tmp_path / "ckpt.pt"
    atomic_save({"model": torch.ones(3), "iteration": 1}, path)
    before = path.read_bytes()
    writer = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import io, os, signal
        import torch
        from opengait_gaitbert.core.training_state import atomic_save

        real_save = torch.save

        def save_then_die(obj, stream, *args, **kwargs):
            whole = io.BytesIO()
            real_save(obj, whole, *args, **kwargs)
            stream.write(whole.getvalue()[:len(whole.getvalue()) // 2])
            stream.flush()
            os.fsync(stream.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = save_then_die
        atomic_save({{"model": torch.randn(1000), "iteration": 2}}, {str(path)!r})
    """)], capture_output=True, text=True, timeout=120)
    assert writer.returncode == -signal.SIGKILL, writer.stderr
    partial = [p for p in tmp_path.iterdir() if p != path]
    assert len(partial) == 1 and partial[0].suffix == ".tmp" and partial[0].stat().st_size > 0  # killed mid-write
    assert path.read_bytes() == before
    assert torch.load(path, weights_only=True)["iteration"] == 1


def draws():
    """The next values of Python's, numpy's and torch's CPU generators, normal samples included (each
    library caches the second of a pair of normal samples; the cache is part of the state)."""
    return ([random.random(), random.gauss(0, 1)], np.random.rand(2).tolist() + np.random.randn(1).tolist(),
            torch.rand(2).tolist() + torch.randn(1).tolist())


def test_a_restored_checkpoint_continues_every_cpu_stream_where_it_was_saved(tmp_path):
    """Real streams through a real weights_only checkpoint: after the restore, each generator gives
    the numbers the saved run would have drawn next, not those of a fresh seed or of the run since."""
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    random.gauss(0, 1), np.random.randn(1), torch.randn(1)  # leave a cached normal sample in each
    atomic_save({"rng": rng_state()}, tmp_path / "rng.pt")
    continuation = draws()
    drawn_since = draws()
    assert drawn_since != continuation  # the streams moved on: a restore that did nothing would show
    set_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    assert draws() == continuation


@pytest.fixture
def cuda_devices(monkeypatch):
    """``(device count, draw(device))`` for CUDA generators: the real ones where CUDA is present.

    Without a GPU, torch.cuda's four functions that rng_state / set_rng_state call are replaced by
    two real CPU generators standing in for two devices: the mock is only where a GPU is truly
    needed, and what is saved and restored is still a real generator state.
    """
    if torch.cuda.is_available():
        yield torch.cuda.device_count(), lambda device: torch.rand(2, device=f"cuda:{device}").tolist()
        return
    generators = [torch.Generator().manual_seed(10), torch.Generator().manual_seed(20)]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(generators))
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [g.get_state() for g in generators])
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: generators[device].set_state(state))
    yield len(generators), lambda device: torch.rand(2, generator=generators[device]).tolist()


def test_every_cuda_device_continues_its_own_stream_after_a_restore(cuda_devices, tmp_path):
    count, draw = cuda_devices
    for device in range(count):
        draw(device)
    atomic_save({"rng": rng_state()}, tmp_path / "rng.pt")
    continuation = [draw(device) for device in range(count)]
    assert [draw(device) for device in range(count)] != continuation
    set_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])
    assert [draw(device) for device in range(count)] == continuation
    if count > 1:
        assert continuation[0] != continuation[1]  # each device got its own state back, not device 0's


def test_no_cuda_state_without_cuda(monkeypatch):
    """The one CUDA fact a CPU-only machine checks unmocked: no CUDA, no ``cuda`` entry."""
    if torch.cuda.is_available():
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "cuda" not in rng_state()


GATHER_THEN_RESUME = textwrap.dedent("""
    import sys
    import torch, torch.distributed as dist
    from opengait_gaitbert.core.training_state import (atomic_save, gather_rng_states, load_checkpoint,
                                                      rank_rng_state, set_rng_state)

    rank, init = int(sys.argv[1]), sys.argv[2]
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    torch.manual_seed(100 + rank)  # each rank its own stream, as OpenGait seeds them
    torch.rand(3)
    states = gather_rng_states()  # a collective: both ranks call it
    if rank == 0:
        atomic_save({"rng": states}, sys.argv[3])
    dist.barrier()
    continuation = torch.rand(4).tolist()
    torch.manual_seed(0)  # a resumed run starts from the same seed on every rank
    set_rng_state(rank_rng_state(load_checkpoint(sys.argv[3])["rng"], rank, 2, sys.argv[3]))
    print(continuation == torch.rand(4).tolist(), continuation[0])
    dist.destroy_process_group()
""")


def test_every_rank_of_a_real_process_group_resumes_its_own_stream(tmp_path):
    """Two gloo processes: gather_rng_states collects both ranks' states into one checkpoint, and each
    rank restored from it continues its own stream."""
    init = f"file://{tmp_path / 'rendezvous'}"
    ranks = [subprocess.Popen([sys.executable, "-c", GATHER_THEN_RESUME, str(rank), init, str(tmp_path / "c.pt")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    results = [rank.communicate(timeout=300) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0], [err[-2000:] for _, err in results]
    (same0, first0), (same1, first1) = (out.split() for out, _ in results)
    assert same0 == same1 == "True" and first0 != first1  # each its own stream, continued
    assert torch.load(tmp_path / "c.pt", weights_only=True)["rng"]["world_size"] == 2


def test_gathered_states_without_a_process_group_are_this_process(tmp_path):
    states = gather_rng_states()
    assert states["world_size"] == 1 and len(states["ranks"]) == 1
    atomic_save({"rng": states}, tmp_path / "c.pt")
    assert torch.load(tmp_path / "c.pt", weights_only=True)["rng"]["world_size"] == 1


def test_each_rank_gets_its_own_state_and_another_world_size_is_refused():
    saved = {"world_size": 2, "ranks": [{"torch": torch.tensor([0])}, {"torch": torch.tensor([1])}]}
    assert int(rank_rng_state(saved, 1, 2, "c.pt")["torch"]) == 1
    with pytest.raises(CheckpointError, match=r"c\.pt: saved by 2 process\(es\), this run has 4.*--nproc 2.*"
                                              r"--allow-world-size-change"):
        rank_rng_state(saved, 0, 4, "c.pt")
    assert rank_rng_state(saved, 3, 4, "c.pt", allow_change=True) is None  # keeps its seeded state
    assert int(rank_rng_state(saved, 0, 1, "c.pt", allow_change=True)["torch"]) == 0
    old = {"torch": torch.tensor([5])}  # rank 0's state alone, as written before per-rank states
    assert rank_rng_state(old, 0, 2, "c.pt") is old and rank_rng_state(old, 1, 2, "c.pt") is None


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_checkpoint_names_the_file_and_the_previous_one(tmp_path, damage):
    atomic_save({"iteration": 3}, tmp_path / "run-00003.pt")
    bad = atomic_save({"iteration": 6, "model": torch.randn(1000)}, tmp_path / "run-00006.pt")
    data = bad.read_bytes()
    bad.write_bytes({"truncate": data[:len(data) // 2], "garbage": random.Random(0).randbytes(len(data)), "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=r"run-00006\.pt: cannot be read .*truncated or corrupt.*"
                                              r"--iter 3 \(.*run-00003\.pt\)"):
        load_checkpoint(bad)
    assert load_checkpoint(tmp_path / "run-00003.pt")["iteration"] == 3
    assert previous_checkpoints(bad) == [tmp_path / "run-00003.pt"]


def test_a_checkpoint_that_runs_code_is_refused_where_torch_would_unpickle_it(tmp_path, monkeypatch):
    """TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 gives torch.load the default of torch 2.5 (weights_only=False),
    the oldest torch this package allows: the loader passes weights_only=True itself."""
    from malicious import ShellTouch
    marker = tmp_path / "PWNED"
    path = tmp_path / "run-00005.pt"
    torch.save({"model": {}, "payload": ShellTouch(marker)}, path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(CheckpointError, match=r"run-00005\.pt: cannot be read with weights_only=True \(it holds "
                                              r"Python objects: posix\.system\)"):
        load_checkpoint(path)
    assert not marker.exists()


def test_full_disk_at_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """ENOSPC in the middle of the write: a clear error, the previous checkpoint intact, no temporary file."""
    atomic_save({"iteration": 3}, tmp_path / "run-00003.pt")
    real_save = torch.save

    def half_then_full(obj, stream, *args, **kwargs):
        stream.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", half_then_full)
    target = tmp_path / "run-00006.pt"
    with pytest.raises(OSError) as caught:
        atomic_save({"iteration": 6}, target)
    monkeypatch.setattr(torch, "save", real_save)
    err = save_error(target, caught.value)
    assert isinstance(err, CheckpointError)
    message = str(err)
    assert "run-00006.pt: cannot write the checkpoint: No space left on device (ENOSPC)" in message
    assert "run-00003.pt, is intact: resume from it with --iter 3" in message and "Free disk space" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-00003.pt"]
    assert load_checkpoint(tmp_path / "run-00003.pt")["iteration"] == 3


def test_unwritable_checkpoint_folder_is_a_clear_error(tmp_path):
    atomic_save({"iteration": 3}, tmp_path / "checkpoints" / "run-00003.pt")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the checkpoint folder should be")
    target = blocked / "checkpoints" / "run-00006.pt"
    with pytest.raises(OSError) as caught:
        atomic_save({"iteration": 6}, target)
    message = str(save_error(target, caught.value))
    assert "run-00006.pt: cannot write the checkpoint" in message and "writable" in message
