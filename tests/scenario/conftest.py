"""Shared fixtures: the committed generated package of specs/agent_migration.mech, in float64."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "agent_migration.mech"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def package():
    import generated.agent_migration as package

    return package


@pytest.fixture(scope="session")
def env64(package):
    return package.Env(device="cpu", dtype=torch.float64)
