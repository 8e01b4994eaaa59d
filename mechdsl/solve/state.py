"""Sampling states from a model's distributions, and evaluating expressions on them (NumPy).

A *state* assigns a value to every state symbol (random parameters, sorted types,
probabilities), every constant and every derived quantity. States are dicts
`symbol name -> ndarray of shape (n,)`, so a batch of n states is one dict.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from mechdsl.model import Distribution, Model


def draw(distribution: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    a = distribution.args
    if distribution.name == "uniform":
        return rng.uniform(a[0], a[1], n)
    if distribution.name == "loguniform":
        return np.exp(rng.uniform(np.log(a[0]), np.log(a[1]), n))
    if distribution.name == "normal":
        return rng.normal(a[0], a[1], n)
    if distribution.name == "choice":
        return rng.choice(np.asarray(a, dtype=float), n)
    raise ValueError(f"cannot draw a scalar from {distribution}")


def sample_states(model: Model, n: int, rng: np.random.Generator,
                  fixed: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """n states drawn from the spec's distributions (types sorted ascending per state);
    `fixed` pins entries by name (e.g. {'sigma': 0.7, 'theta1[0]': 16})."""
    fixed = fixed or {}
    values: dict[str, np.ndarray] = {name: np.full(n, c.value) for name, c in model.constants.items()}
    for name, r in model.randoms.items():
        values[name] = draw(r.distribution, n, rng)
    for t in model.types.values():
        if t.values is not None:
            draws = np.broadcast_to(np.asarray(t.values, dtype=float), (n, len(t.values)))
        else:
            draws = np.sort(np.stack([draw(d, n, rng) for d in t.distributions], axis=1), axis=1)
        for k, s in enumerate(t.symbols()):
            values[s.name] = draws[:, k]
    for p in model.probs.values():
        rows = int(np.prod(p.shape[:-1])) if len(p.shape) > 1 else 1
        width = p.shape[-1]
        if p.distribution is not None:
            alpha = np.broadcast_to(np.asarray(p.distribution.args, dtype=float), (width,))
            table = rng.dirichlet(alpha, size=(n, rows))
        else:
            table = np.broadcast_to(np.asarray(p.values, dtype=float).reshape(1, rows, width), (n, rows, width))
        flat = table.reshape(n, rows * width)
        for index, s in enumerate(p.symbols()):
            values[s.name] = flat[:, index].copy()
    for name, value in fixed.items():
        values[name] = np.full(n, float(value))
    return with_derived(model, values)


def with_derived(model: Model, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add every derived `let` quantity, computed in dependency order."""
    values = dict(values)
    for d in model.derived.values():
        values[d.name] = evaluate(d.expr, values)
    return values


def evaluate(expr: sp.Expr, values: dict[str, np.ndarray]) -> np.ndarray:
    """Evaluate a SymPy expression on named arrays (broadcast to a common shape)."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    function = sp.lambdify(symbols, expr, modules=[{"Max": np.maximum, "Min": np.minimum}, "numpy"])
    result = function(*(values[s.name] for s in symbols))
    shape = np.broadcast_shapes(*(np.shape(values[s.name]) for s in symbols)) if symbols else ()
    return np.broadcast_to(np.asarray(result, dtype=float), shape).copy()


def state_at(values: dict[str, np.ndarray], index: int) -> dict[str, float]:
    return {name: float(v[index]) for name, v in values.items()}
