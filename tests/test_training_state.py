"""Atomic checkpoints survive a kill mid-save; RNG states round-trip through weights_only loading."""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from opengait_gaitbert.core.training_state import atomic_save, rng_state, set_rng_state


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
    path = tmp_path / "ckpt.pt"
    atomic_save({"model": torch.ones(3), "iteration": 1}, path)
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import torch
        from opengait_gaitbert.core.training_state import atomic_save
        atomic_save({{"model": torch.randn(100_000_000), "iteration": 2}}, {str(path)!r})
    """)])
    deadline = time.time() + 60
    while not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()) and time.time() < deadline:
        if writer.poll() is not None:
            pytest.fail("the writer finished before it could be killed")
        time.sleep(0.01)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert torch.load(path, weights_only=True)["iteration"] == 1


def test_rng_state_round_trip_with_weights_only(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    atomic_save({"rng": rng_state()}, tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1]) and expected[2] == again[2]
