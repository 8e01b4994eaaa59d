"""Fixtures of the code-generation tests."""

from __future__ import annotations

import importlib

import pytest
from codegen_fixtures import BUNDLED, derivation_of, model_of


@pytest.fixture(params=BUNDLED)
def bundled(request):
    """(name, model, derivation, generated package module)."""
    name = request.param
    return name, model_of(name), derivation_of(name), importlib.import_module(f"generated.{name}")
