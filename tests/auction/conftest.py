"""Shared settings for the auction tests."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _single_torch_thread():
    """Run the auction tests on one intra-op thread, then restore the setting.

    The tests issue many small batched ops; on a shared 2-core machine torch's thread pool
    only oversubscribes the cores (measured 3x slower under load), and results do not
    depend on the thread count.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
