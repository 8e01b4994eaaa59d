"""Importing a generated package from its folder, whatever the current directory is."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def import_folder(folder: str | Path, name: str) -> ModuleType:
    """The package in `folder` (its `__init__.py`) imported as `name`, once: a second call with
    the same name returns the module already in `sys.modules`."""
    if name in sys.modules:
        return sys.modules[name]
    folder = Path(folder)
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


__all__ = ["import_folder"]
