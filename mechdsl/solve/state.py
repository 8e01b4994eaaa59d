"""Sampling states from a model's distributions, and evaluating expressions on them (NumPy).

A *state* assigns a value to every state symbol (random parameters, sorted types,
probabilities), every constant and every derived quantity. States are dicts
`symbol name -> ndarray of shape (n,)`, so a batch of n states is one dict.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import sympy as sp

from mechdsl.model import Distribution, Model, ProbTable, RandomParam, TypeVector
from mechdsl.runtime import sampling
from mechdsl.solve.compile_cache import NUMPY_MODULES


def draw(distribution: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of a scalar distribution (`mechdsl.runtime.sampling` defines each one)."""
    return sampling.draw(sampling.NumpyDraws(rng), distribution.name, distribution.args, n)


def state_block(entity: RandomParam | TypeVector | ProbTable) -> sampling.Block:
    """The `mechdsl.runtime.sampling` block that draws one state entity's columns (its
    symbols in row-major order): a random parameter's draw, a type vector's sorted draws or
    fixed values, a probability table's Dirichlet rows or fixed values."""
    if isinstance(entity, RandomParam):
        return sampling.Scalar(entity.distribution.name, tuple(float(a) for a in entity.distribution.args))
    if isinstance(entity, TypeVector):
        if entity.values is not None:
            return sampling.Fixed(tuple(float(v) for v in entity.values))
        return sampling.SortedTypes(tuple((d.name, tuple(float(a) for a in d.args)) for d in entity.distributions))
    rows = 1 if len(entity.shape) == 1 else int(np.prod(entity.shape[:-1]))
    if entity.distribution is None:
        return sampling.Fixed(tuple(float(v) for v in entity.values))
    width, args = int(entity.shape[-1]), tuple(float(a) for a in entity.distribution.args)
    return sampling.DirichletRows(rows, args * width if len(args) == 1 else args)


def sample_states(model: Model, n: int, rng: np.random.Generator,
                  fixed: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """n states drawn from the spec's distributions (types sorted ascending per state);
    `fixed` pins entries by name (e.g. {'sigma': 0.7, 'theta1[0]': 16})."""
    fixed = fixed or {}
    values: dict[str, np.ndarray] = {name: np.full(n, c.value) for name, c in model.constants.items()}
    entities = model.state_entities()
    table = sampling.sample_columns([state_block(e) for e in entities], n, sampling.NumpyDraws(rng))
    for column, symbol in enumerate(model.state_symbols()):
        values[symbol.name] = table[:, column].copy()
    for name, value in fixed.items():
        values[name] = np.full(n, float(value))
    return with_derived(model, values)


def with_derived(model: Model, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add every derived `let` quantity, computed in dependency order, in the shape of the
    states (a `let` of constants only, `10^(-30 / 10)`, is a number repeated per state)."""
    values = dict(values)
    shape = np.broadcast_shapes(*(np.shape(v) for v in values.values()))
    for d in model.derived.values():
        values[d.name] = np.broadcast_to(evaluate(d.expr, values), shape).copy()
    return values


@lru_cache(maxsize=4096)
def _numpy_function(expr: sp.Expr) -> tuple[tuple[sp.Symbol, ...], Callable]:
    """(free symbols by name, the NumPy function of them) for `expr`: lambdify once per
    expression, not once per call (the exact solvers evaluate the same payment rules for
    every state and start)."""
    symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    return symbols, sp.lambdify(symbols, expr, modules=NUMPY_MODULES)


def evaluate(expr: sp.Expr, values: dict[str, np.ndarray]) -> np.ndarray:
    """Evaluate a SymPy expression on named arrays (broadcast to a common shape)."""
    symbols, function = _numpy_function(expr)
    result = function(*(values[s.name] for s in symbols))
    shape = np.broadcast_shapes(*(np.shape(values[s.name]) for s in symbols)) if symbols else ()
    return np.broadcast_to(np.asarray(result, dtype=float), shape).copy()


def state_at(values: dict[str, np.ndarray], index: int) -> dict[str, float]:
    return {name: float(v[index]) for name, v in values.items()}
