"""Fixtures of the code-generation tests."""

from __future__ import annotations

import importlib

import pytest
from codegen_fixtures import BUNDLED, STRUCTURES, derivation_of, import_package, model_of

from mechdsl.codegen import compile_spec


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than about 10 s; deselect with -m 'not slow'")


@pytest.fixture(scope="session")
def structures_folder(tmp_path_factory):
    return tmp_path_factory.mktemp("structures")


@pytest.fixture(params=BUNDLED + tuple(STRUCTURES))
def bundled(request, structures_folder):
    """(name, model, derivation, generated package module): the committed packages of the
    bundled specs, and STRUCTURES compiled once per session into a temporary folder."""
    name = request.param
    if name in BUNDLED:
        return name, model_of(name), derivation_of(name), importlib.import_module(f"generated.{name}")
    folder = structures_folder / name
    if not folder.exists():
        compile_spec(model_of(name), folder, derivation=derivation_of(name), source=STRUCTURES[name]())
    return name, model_of(name), derivation_of(name), import_package(folder, f"mechdsl_structure_{name}")
