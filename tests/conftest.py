"""Fixtures shared by the core tests. Shared helper functions are modules of their own
(``tiny_model``, ``real_data``, ``video_scene``)."""
from pathlib import Path

import pytest
import torch

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
