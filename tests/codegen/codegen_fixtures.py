"""Shared helpers: the bundled specs, their derivations and generated packages."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from mechdsl.lang import load_file
from mechdsl.reduce import derive

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ("two_period", "static_contract")
if str(ROOT) not in sys.path:  # `import generated.<name>` from the repo root
    sys.path.insert(0, str(ROOT))


@lru_cache(maxsize=None)
def model_of(name: str):
    return load_file(ROOT / "specs" / f"{name}.mech")


@lru_cache(maxsize=None)
def derivation_of(name: str):
    return derive(model_of(name))
