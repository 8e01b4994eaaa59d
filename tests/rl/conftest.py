"""Shared fixtures for the RL runtime tests.

Torch runs single-threaded here: the networks are tiny, and on a 2-core machine shared with
other test processes OpenMP's spinning threads slow every step down by an order of magnitude.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from toy_env import ScreeningContractEnv, TrackingEnv  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def contract_env() -> ScreeningContractEnv:
    return ScreeningContractEnv()


@pytest.fixture
def tracking_env() -> TrackingEnv:
    return TrackingEnv()
