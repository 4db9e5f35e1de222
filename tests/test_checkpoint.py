"""``tools/checkpoint.py``: every damaged checkpoint is a CheckpointError naming the file, never a traceback."""
import io
import random

import pytest
import torch

from opengait_gaitbert.tools.checkpoint import CheckpointError, read_checkpoint


def saved_bytes():
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.arange(100.0)}, "iteration": 3}, buffer)
    return buffer.getvalue()


def damaged(seed):
    """Seeded damage of three kinds: random bytes, a truncated file, a few overwritten bytes."""
    rng, good = random.Random(seed), saved_bytes()
    kind = seed % 3
    if kind == 0:
        return rng.randbytes(2000)
    if kind == 1:
        return good[:rng.randrange(len(good))]
    data = bytearray(good)
    for _ in range(5):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_every_damaged_checkpoint_is_named(tmp_path):
    """300 seeded damages; on them torch.load raises UnpicklingError, RuntimeError, UnicodeDecodeError and
    IndexError (torch 2.14), or loads (bytes overwritten inside a tensor)."""
    path = tmp_path / "GaitBERT-00003.pt"
    loaded = 0
    for seed in range(300):
        path.write_bytes(damaged(seed))
        try:
            read_checkpoint(path)
            loaded += 1  # overwritten bytes inside a tensor's data still load
        except CheckpointError as err:
            assert str(err).startswith(f"{path}: cannot load this checkpoint with weights_only=True (")
    assert loaded < 100
