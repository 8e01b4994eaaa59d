"""Shared helpers: the bundled specs, their derivations and generated packages, and
STRUCTURES: further specs (examples and variants of the bundled ones) that exercise every
branch of the vectorised certificate: three periods, K = 3, a concave utility, lifetime IR,
a price the agent pays with fixed types and probabilities,
an independent period-2 table, a random discount, declared plain, equality and monotone
constraints."""

from __future__ import annotations

import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

from mechdsl.lang import load_file, load_source
from mechdsl.reduce import derive

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ("two_period", "static_contract")
if str(ROOT) not in sys.path:  # `import generated.<name>` from the repo root
    sys.path.insert(0, str(ROOT))


def _two_period_lifetime() -> str:
    return ((ROOT / "specs" / "two_period.mech").read_text()
            .replace("constraint ir per_period", "constraint ir lifetime")
            .replace("prob p2[K, K] ~ dirichlet(1)", "prob p2[K] ~ dirichlet(1)")
            .replace("p2[k, j] * N", "p2[j] * N")
            .replace("param beta = 0.5 in {0, 0.5, 1}", "param beta ~ uniform(0.3, 0.9)"))


def _static_declared() -> str:
    declared = "constraint ic\nconstraint s[k] >= 400 for k in K\nconstraint monotone r\nconstraint r[1] - r[0] == 3\n"
    return (ROOT / "specs" / "static_contract.mech").read_text().replace("constraint ic ", declared, 1)


STRUCTURES = {
    "three_period": lambda: (ROOT / "examples" / "three_period.mech").read_text(),
    "concave_payment": lambda: (ROOT / "examples" / "concave_payment.mech").read_text(),
    "monopoly": lambda: (ROOT / "examples" / "monopoly.mech").read_text(),  # fixed types, price from the agent
    "two_period_lifetime": _two_period_lifetime,
    "static_declared": _static_declared,
}


@lru_cache(maxsize=None)
def model_of(name: str):
    if name in STRUCTURES:
        return load_source(STRUCTURES[name](), f"{name}.mech")
    return load_file(ROOT / "specs" / f"{name}.mech")


@lru_cache(maxsize=None)
def derivation_of(name: str):
    return derive(model_of(name))


def import_package(folder: Path, module_name: str):
    """Import a generated folder as the package `module_name` (kept in sys.modules)."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
