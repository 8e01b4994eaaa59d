"""Fixtures of the Gymnasium adapter tests: the committed generated packages."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `import generated.<name>` from the repo root
    sys.path.insert(0, str(ROOT))


@pytest.fixture(params=("two_period", "static_contract"))
def package(request):
    return importlib.import_module(f"generated.{request.param}")
