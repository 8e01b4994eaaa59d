"""Evaluating a spec's expressions in float64, where SymPy would compute without bound.

SymPy evaluates a function of a Float at once and exactly: substituting c0 = 0.01 into
exp(exp(exp(exp(exp(exp(exp(c0))))))) makes mpmath compute e^(10^(2.3e6)), which does not finish
(`mechdsl check` of such a utility hung). Every later stage computes in float64 anyway, so a
value beyond float64 (|v| > ~1.8e308) is a user error to report, not a number to compute.

`float64_value` evaluates an expression bottom-up with Python floats (one small function per
SymPy node type, as CVXPY's canonicalisation table), giving inf on overflow and nan outside a
function's domain; `beyond_float64` finds the innermost subexpression, over the given symbols
only, whose value overflows: the checker reports it before substituting numbers with SymPy.
"""

from __future__ import annotations

import math
import sys
from functools import reduce
from typing import Callable

import sympy as sp

FLOAT64_MAX = sys.float_info.max


def _guarded(function: Callable[..., float]) -> Callable[..., float]:
    def apply(*args: float) -> float:
        try:
            return float(function(*args))
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError, TypeError):
            return math.nan
    return apply


def _power(base: float, exponent: float) -> float:
    if base == 0 and exponent < 0:
        return math.nan  # a division by zero: undefined, not an overflow
    result = base ** exponent
    return math.nan if isinstance(result, complex) else result


def _product(*factors: float) -> float:
    return reduce(lambda a, b: a * b, factors, 1.0)


FLOAT64_FUNCTIONS: dict[type, Callable[..., float]] = {
    sp.Add: _guarded(lambda *terms: math.fsum(terms) if all(map(math.isfinite, terms)) else sum(terms)),
    sp.Mul: _guarded(_product),
    sp.Pow: _guarded(_power),
    sp.exp: _guarded(math.exp),
    sp.log: _guarded(lambda x, base=None: math.log(x) if base is None else math.log(x, base)),
    sp.sin: _guarded(math.sin), sp.cos: _guarded(math.cos), sp.tan: _guarded(math.tan),
    sp.tanh: _guarded(math.tanh), sp.sinh: _guarded(math.sinh), sp.cosh: _guarded(math.cosh),
    sp.Abs: _guarded(abs),
    sp.Min: _guarded(min), sp.Max: _guarded(max),
}


def _atom_value(node: sp.Basic, values: dict[sp.Symbol, float]) -> float | None:
    if node in values:
        return float(values[node])
    if node.is_Number:
        if node in (sp.zoo, sp.nan):
            return math.nan
        try:
            return float(node)
        except (OverflowError, TypeError):
            return math.inf if node.is_extended_positive else -math.inf
    if node in (sp.pi, sp.E):
        return float(node)
    return None


def _values_bottom_up(expr: sp.Expr, values: dict[sp.Symbol, float]):
    """Yield (node, float64 value) for every subexpression over `values`' symbols, children
    first (iterative: no recursion limit); a node over other symbols has no value."""
    known: dict[sp.Basic, float | None] = {}
    for node in sp.postorder_traversal(expr):
        if node in known:
            continue
        if not node.args:
            known[node] = _atom_value(node, values)
        else:
            args = [known.get(a) for a in node.args]
            function = FLOAT64_FUNCTIONS.get(node.func)
            if any(a is None for a in args) or not isinstance(node, sp.Expr):
                known[node] = None
            elif function is not None:
                known[node] = function(*args)
            elif all(math.isfinite(a) for a in args):
                known[node] = _guarded(lambda *a: complex(node.func(*map(sp.Float, a)).evalf()).real)(*args)
            else:
                known[node] = math.nan
        if known[node] is not None:
            yield node, known[node]


def float64_value(expr: sp.Expr, values: dict[sp.Symbol, float]) -> float | None:
    """The value of `expr` computed in float64 with `values` for its symbols (inf: overflow,
    nan: undefined); None when a symbol has no value."""
    return dict(_values_bottom_up(expr, values)).get(expr)


def beyond_float64(expr: sp.Expr, values: dict[sp.Symbol, float], *, undefined: bool = False) -> sp.Expr | None:
    """The innermost subexpression of `expr` over `values`' symbols whose float64 value
    overflows (|v| > FLOAT64_MAX), or, with `undefined`, is undefined (a division by zero, a
    logarithm of a negative number); None if there is none."""
    for node, value in _values_bottom_up(expr, values):
        if math.isinf(value) or (undefined and math.isnan(value)):
            return node
    return None
