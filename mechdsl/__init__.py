"""mechdsl: a declarative mechanism-design language and compiler.

    >>> import mechdsl
    >>> model = mechdsl.load("specs/two_period.mech")
    >>> derivation = mechdsl.derive(model)
    >>> solution = mechdsl.solve(model, mechdsl.sample_state(model, seed=0))

Pipeline: parse -> check (`mechdsl.lang`) -> reduce (`mechdsl.reduce`) -> certify/solve
(`mechdsl.solve`) -> generate (`mechdsl.codegen`) -> train (`mechdsl.rl`). The functions
`load`, `derive`, `sample_state`, `state_from_json`, `solve`, `compile` and `train` live in
`mechdsl.api`; they and every subpackage (`mechdsl.reduce`, `mechdsl.gym`, ...) are imported
on first use, so `import mechdsl` loads nothing heavy (no SymPy, CVXPY or torch).

`mechdsl.solve` is both the API function and the solver subpackage
(`mechdsl.solve.exact.solve`): the subpackage module is made callable, so both spellings
keep working whichever is imported first.
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

API = ("load", "derive", "sample_state", "state_from_json", "solve", "compile", "train", "StateError",
       "TrainedRun")
SUBPACKAGES = ("api", "auction", "cli", "codegen", "errors", "games", "gym", "kinds", "lang", "model", "reduce", "rl",
               "scenario", "solve", "sweep")


class _CallableSolvePackage(types.ModuleType):
    """The `mechdsl.solve` subpackage, callable as `mechdsl.api.solve`; its modules
    (`mechdsl.solve.exact`, ...) are imported on first access."""

    def __call__(self, model, state=None, *, seed: int = 0):
        from mechdsl.api import solve

        return solve(model, state, seed=seed)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"{self.__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{self.__name__}.{name}":
                raise
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}") from None


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # the import system binds `mechdsl.solve` to the subpackage when it is first imported
        if name == "solve" and type(value) is types.ModuleType:
            value.__class__ = _CallableSolvePackage
        super().__setattr__(name, value)


def __getattr__(name: str):
    if name == "solve" or name in SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in API:
        value = getattr(importlib.import_module(f"{__name__}.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mechdsl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API, *SUBPACKAGES})


sys.modules[__name__].__class__ = _Package

__all__ = ["__version__", *API]
