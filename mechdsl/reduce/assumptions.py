"""Sign facts about a model's symbols, for SymPy's assumption system.

A parameter drawn from uniform(a, b) with a > 0 is positive, a Dirichlet probability is
positive, a constant has the sign of its value, a derived quantity has whatever sign SymPy
infers from its definition. Decision variables get the sign their bounds imply.
"""

from __future__ import annotations

import sympy as sp

from mechdsl.model import Model


def _sign_symbol(symbol: sp.Symbol, low: float | None) -> sp.Symbol:
    if low is not None and low > 0:
        return sp.Symbol(symbol.name, positive=True)
    if low is not None and low >= 0:
        return sp.Symbol(symbol.name, nonnegative=True)
    return sp.Symbol(symbol.name, real=True)


def signed_symbols(model: Model) -> dict[sp.Symbol, sp.Symbol]:
    """Real symbol -> the same-named symbol carrying the sign facts known about it."""
    table: dict[sp.Symbol, sp.Symbol] = {}
    for c in model.constants.values():
        table[c.symbol()] = _sign_symbol(c.symbol(), c.value if c.value != 0 else None)
    for r in model.randoms.values():
        d = r.distribution
        low = min(d.args) if d.name == "choice" else d.args[0] if d.name in ("uniform", "loguniform") else None
        table[r.symbol()] = _sign_symbol(r.symbol(), low)
    for t in model.types.values():
        for k, s in enumerate(t.symbols()):
            table[s] = _sign_symbol(s, t.lower_bound(k))
    for p in model.probs.values():
        for s in p.symbols():
            table[s] = sp.Symbol(s.name, positive=True) if p.distribution else _sign_symbol(s, 0.0)
    for v in model.variables.values():
        for s in v.symbols():
            table[s] = _sign_symbol(s, v.lower)
    substitution = model.derived_substitution()
    for d in model.derived.values():
        value = substitution[d.symbol()].xreplace(table)
        if value.is_positive:
            table[d.symbol()] = sp.Symbol(d.name, positive=True)
        elif value.is_nonnegative:
            table[d.symbol()] = sp.Symbol(d.name, nonnegative=True)
    return table


def with_signs(expr: sp.Expr, model: Model, extra: dict[sp.Symbol, sp.Symbol] | None = None) -> sp.Expr:
    return expr.xreplace({**signed_symbols(model), **(extra or {})})
