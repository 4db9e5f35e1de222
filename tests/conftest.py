"""Fixtures shared by the core tests. Shared helper functions are modules of their own
(``tiny_model``, ``real_data``, ``video_scene``)."""
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from tiny_model import tiny_cfg

INTEGRATION = Path(__file__).resolve().parent / "integration"


def pytest_collection_modifyitems(config, items):
    """Every test under tests/integration/ is marked ``integration`` (``-m "not integration"``
    runs the core tests alone)."""
    for item in items:
        if INTEGRATION in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny convolutions run faster on one thread, and the tests share 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_gallery(tmp_path):
    """25 flat pkl sequences (``ROOT/<name>.pkl``: id = name, 4 frames of 64x64 uint8) and the config
    of a narrow GaitBERT: what ``embed`` and ``identify`` need, without a checkpoint."""
    rng = np.random.default_rng(0)
    root = tmp_path / "gallery"
    root.mkdir()
    for i in range(25):
        seq = np.zeros((4, 64, 64), np.uint8)
        seq[:, 10:60, 22 + i % 5:42] = rng.integers(128, 256, size=(4, 50, 20 - i % 5), dtype=np.uint8)
        (root / f"p{i:02d}.pkl").write_bytes(pickle.dumps(seq))
    (tmp_path / "cfg.yaml").write_text(tiny_cfg(channels=(4, 8)))
    return root, tmp_path / "cfg.yaml"
