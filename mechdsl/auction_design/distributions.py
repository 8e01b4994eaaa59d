"""A bidder's value law as SymPy expressions in one value symbol: cdf F, density f and
support, built from the checked `mechdsl.model.Distribution` (the language's one table of
distributions: its names and arguments) so that no law is listed twice.

    uniform(a, b)      F = (v - a)/(b - a),            f = 1/(b - a),          [a, b]
    loguniform(a, b)   F = log(v/a)/log(b/a),          f = 1/(v log(b/a)),     [a, b]
    normal(mu, sd)     F = (1 + erf((v - mu)/(sd sqrt 2)))/2,  f = its derivative,  (-oo, oo)

`choice(...)` is discrete: it has no density, so Myerson's continuous virtual value does not
apply; `ValueLaw.of` refuses it with `NoDensity` (the caller positions it at the spec)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp

from mechdsl import model as m

VALUE = sp.Dummy("v", real=True)  # the value variable of every law (a Dummy: never a user's name)


class NoDensity(ValueError):
    """The law has no density (a discrete `choice`)."""


def _rational(x: float) -> sp.Expr:
    """A spec's number exactly as written (0.1 stays 1/10), so closed forms stay exact."""
    return sp.Rational(repr(float(x)))


def _uniform(a, b, v):
    return (v - a) / (b - a), 1 / (b - a), (a, b)


def _loguniform(a, b, v):
    return sp.log(v / a) / sp.log(b / a), 1 / (v * sp.log(b / a)), (a, b)


def _normal(mu, sd, v):
    cdf = (1 + sp.erf((v - mu) / (sd * sp.sqrt(2)))) / 2
    return cdf, sp.exp(-(v - mu) ** 2 / (2 * sd ** 2)) / (sd * sp.sqrt(2 * sp.pi)), (-sp.oo, sp.oo)


# distribution name -> (a, b, v) -> (cdf, pdf, support); the language's scalar laws with a density
DENSITIES: dict[str, Callable] = {"uniform": _uniform, "loguniform": _loguniform, "normal": _normal}


@dataclass(frozen=True)
class ValueLaw:
    """F, f and the support [low, high] (possibly infinite) of one bidder's value."""

    distribution: m.Distribution
    cdf: sp.Expr
    pdf: sp.Expr
    low: sp.Expr
    high: sp.Expr

    @classmethod
    def of(cls, distribution: m.Distribution) -> "ValueLaw":
        build = DENSITIES.get(distribution.name)
        if build is None:
            raise NoDensity(f"{distribution} has no density")
        cdf, pdf, (low, high) = build(*(_rational(a) for a in distribution.args), VALUE)
        return cls(distribution, cdf, pdf, low, high)  # SymPy numbers already (rationals, or +-oo)

    @property
    def bounded(self) -> bool:
        return self.low.is_finite and self.high.is_finite

    def numeric_support(self) -> tuple[float, float]:
        """A finite range holding all but ~1e-15 of the mass (normal: mean +- 8 sd)."""
        if self.bounded:
            return float(self.low), float(self.high)
        mu, sd = self.distribution.args
        return mu - 8 * sd, mu + 8 * sd

    def numpy(self, expr: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
        """`expr` (in VALUE) as a vectorised NumPy/SciPy function."""
        return _lambdified(expr)


@lru_cache(maxsize=256)
def _lambdified(expr: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
    """One lambdify per expression (integrands call it at every quadrature node)."""
    # numbers as floats: an exact 10^24 would reach NumPy as a Python int it cannot take the log of
    function = sp.lambdify(VALUE, expr.evalf(), modules=["scipy", "numpy"])
    return lambda v: np.broadcast_to(function(np.asarray(v, dtype=float)), np.shape(v)).astype(float)
