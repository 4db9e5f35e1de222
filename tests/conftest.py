"""Fixtures shared by the core tests. Shared helper functions are modules of their own
(``tiny_model``, ``real_data``, ``video_scene``)."""
import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny convolutions run faster on one thread, and the tests share 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
