"""SymPy -> CVXPY translation of expressions whose parameters are already numbers.

One small function per SymPy node type (CVXPY's canonicalization pattern). Numeric
powers with a variable exponent become exponentials (b^e = exp(e*ln b)), which keeps
`1 - 2^(-a*T)` concave. Anything outside this table raises `NotConvexible`; whether the
result is DCP is left to CVXPY's own `is_dcp()`.
"""

from __future__ import annotations

import math

import cvxpy as cp
import sympy as sp


class NotConvexible(Exception):
    pass


def real_number(expr: sp.Expr) -> float:
    """A SymPy number as a finite float. A complex or infinite one (zoo from a division by zero
    in the spec, a negative base to a fractional power) has no convex translation."""
    value = complex(expr.evalf())
    if value.imag or not math.isfinite(value.real):
        raise NotConvexible(f"constant {expr} is not a finite real number")
    return value.real


def power(inner, p: float):
    """cp.power(inner, p); CVXPY's rational approximation of p fails on extreme exponents
    (p = 1 - 1e12 divides by zero in `pow_neg`), which then have no convex translation."""
    try:
        return cp.power(inner, p)
    except (ArithmeticError, ValueError) as error:
        raise NotConvexible(f"power {p:g} ({type(error).__name__}: {error})") from None


def to_cvxpy(expr: sp.Expr, variables: dict[sp.Symbol, object]):
    if expr.is_number:
        return real_number(expr)
    if isinstance(expr, sp.Symbol):
        if expr not in variables:
            raise NotConvexible(f"symbol {expr} has no value")
        return variables[expr]
    handler = _HANDLERS.get(type(expr)) or _HANDLERS.get(expr.func)
    if handler is None:
        for kind, h in _HANDLERS.items():
            if isinstance(expr, kind):
                handler = h
                break
    if handler is None:
        raise NotConvexible(f"no convex translation for {type(expr).__name__}")
    return handler(expr, variables)


def _add(expr, variables):
    terms = [to_cvxpy(a, variables) for a in expr.args]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _mul(expr, variables):
    constant, rest = expr.as_coeff_mul()
    factors = [a for a in rest]
    numeric = [f for f in factors if f.is_number]
    symbolic = [f for f in factors if not f.is_number]
    scale = real_number(constant) * math.prod(real_number(f) for f in numeric)
    if not symbolic:
        return scale
    if len(symbolic) > 1:
        raise NotConvexible(f"product of non-constant factors {symbolic}")
    return scale * to_cvxpy(symbolic[0], variables)


def _pow(expr, variables):
    base, exponent = expr.args
    if isinstance(base, sp.Pow) and base.args[0].is_number:
        return _pow(sp.Pow(base.args[0], base.args[1] * exponent, evaluate=False), variables)
    if isinstance(base, sp.exp):
        return cp.exp(to_cvxpy(base.args[0] * exponent, variables))
    if base.is_number and not exponent.is_number:
        b = real_number(base)
        if b <= 0:
            raise NotConvexible(f"non-positive base {b}")
        return cp.exp(to_cvxpy(exponent * sp.log(base), variables))
    if exponent.is_number:
        p = real_number(exponent)
        inner = to_cvxpy(base, variables)
        return inner if p == 1 else power(inner, p)
    raise NotConvexible(f"power {expr}")


def _exp(expr, variables):
    return cp.exp(to_cvxpy(expr.args[0], variables))


def _log(expr, variables):
    return cp.log(to_cvxpy(expr.args[0], variables))


def _max(expr, variables):
    return cp.maximum(*(to_cvxpy(a, variables) for a in expr.args))


def _min(expr, variables):
    return cp.minimum(*(to_cvxpy(a, variables) for a in expr.args))


def _abs(expr, variables):
    return cp.abs(to_cvxpy(expr.args[0], variables))


_HANDLERS = {
    sp.Add: _add, sp.Mul: _mul, sp.Pow: _pow, sp.exp: _exp, sp.log: _log,
    sp.Max: _max, sp.Min: _min, sp.Abs: _abs,
}
