"""Solve the agent's utility for the payment: y = phi(theta, x, v) with u(theta, x, phi) = v.

Any utility SymPy can invert is accepted (linear theta*R - c*T - E gives
phi = (v + c*x + E)/theta; theta*log(1 + R) - c*T gives phi = exp((v + c*x)/theta) - 1;
a price the agent pays, theta*q - t, gives phi = theta*x - v).
With the payment's money flow f (+1 to the agent, -1 from it; `ContractVariable.flow`),
single crossing gives f du/dy > 0, so f phi is increasing in v: the payment that leaves the
agent exactly utility v is, among those that guarantee at least v, the least transfer to
the agent: the least payment when the principal pays (f = +1), the highest price when the
agent pays (f = -1). Either way it is phi(theta, x, v), in the declared variable's sign.

The utility level v and the stand-ins for y and a positive theta are SymPy `Dummy`s: a spec
may name anything `v` or `y` (a type vector, a parameter, the utility's own type argument),
and a same-named `Symbol` would be that user symbol, so solving u = v for y would then solve
a different equation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from mechdsl.model import Model, Utility
from mechdsl.reduce.chain import ReductionRefused
from mechdsl.reduce.numeric_inverse import root_class


@dataclass(frozen=True)
class PaymentInverse:
    theta: sp.Symbol
    x: sp.Symbol
    v: sp.Symbol
    expr: sp.Expr
    numeric: bool = False  # phi is a `numeric_inverse.PaymentRoot` (SymPy found no closed form)

    def __call__(self, theta, x, v) -> sp.Expr:
        return self.expr.xreplace({self.theta: theta, self.x: x, self.v: v})


def payment_inverse(model: Model) -> PaymentInverse:
    """phi in closed form where SymPy finds exactly one inverse increasing in v (in the money
    flow's direction), else the numeric root of `numeric_inverse` where u is strictly monotone in
    the payment on its declared bounds; otherwise the reduction is refused."""
    u = model.utility
    v, real = _closed_form_inverses(u.expr, u.type_symbol, u.payment_symbol)
    flow = model.payment_flow
    increasing = [s for s in real if sp.simplify(flow * sp.diff(s, v)).is_positive is not False]
    if len(increasing) == 1:
        return PaymentInverse(u.type_symbol, u.allocation_symbol, v, increasing[0])
    return _numeric_inverse(model, v, len(real))


@lru_cache(maxsize=32)
def _closed_form_inverses(expr: sp.Expr, theta: sp.Symbol, payment: sp.Symbol) -> tuple[sp.Dummy, tuple[sp.Expr, ...]]:
    """(v, the real solutions y of expr(theta, y) = v that SymPy finds, theta positive), once per
    utility: `sp.solve` of a log utility takes seconds, and every period and the payment ranges ask."""
    v = sp.Dummy("v", real=True)
    y = sp.Dummy(payment.name, real=True)
    theta_pos = sp.Dummy(theta.name, positive=True)
    try:
        solutions = sp.solve(sp.Eq(expr.xreplace({theta: theta_pos, payment: y}), v), y, dict=False)
    except NotImplementedError:
        solutions = []
    return v, tuple(s.xreplace({theta_pos: theta}) for s in solutions if not s.has(sp.I))


def payment_bounds(model: Model) -> tuple[float, float | None]:
    """[lowest lower bound, highest upper bound] of the payment variables (None: no upper bound)."""
    payments = [v for v in model.variables.values() if v.kind == "payment"]
    highs = [v.upper for v in payments]
    return min(v.lower for v in payments), (None if any(h is None for h in highs) else max(highs))


def monotone_in_payment(model: Model, samples: int = 2000) -> tuple[bool, str]:
    """Whether f du/dy > 0 (the transfer the agent receives is a good): symbolically with the
    model's sign facts, else on samples of the declared ranges (as `single_crossing` decides it)."""
    from mechdsl.reduce.assumptions import with_signs
    from mechdsl.reduce.single_crossing import _sampled
    from mechdsl.seeds import SINGLE_CROSSING_SEED

    u = model.utility
    slope = model.payment_flow * sp.diff(u.expr, u.payment_symbol)
    signed = {u.type_symbol: sp.Dummy(u.type_symbol.name, positive=True)}
    if with_signs(slope, model, signed).is_positive:
        return True, "symbolically"
    (values,) = _sampled(model, [slope], samples, SINGLE_CROSSING_SEED)
    return bool(np.all(values > 0)), f"on {samples} samples of the declared ranges"


@lru_cache(maxsize=32)
def _root_class(utility: Utility, low: float, high: float, increasing: bool):
    """One class per utility and bounds, so every rule and range of a model holds the same function."""
    u = utility
    return root_class(u.agent, u.expr, u.payment_symbol, u.type_symbol, u.allocation_symbol, low, high, increasing)


def _numeric_inverse(model: Model, v: sp.Dummy, found: int) -> PaymentInverse:
    """phi as the root of u(theta, x, y) = v on the payment's declared bounds (`numeric_inverse`)."""
    u = model.utility
    why = (f"SymPy cannot solve the utility {u.expr} uniquely for the payment '{u.payment_symbol}' (found {found} "
           "real solution(s))")
    low, high = payment_bounds(model)
    if high is None:
        raise ReductionRefused(f"{why}, and a numeric inverse needs the payment's bounds",
                               hint=f"declare the payment's range (`payment {u.payment_symbol}[...] in [lo, hi]`): "
                                    "the reduction then inverts the utility numerically on it")
    monotone, how = monotone_in_payment(model)
    if not monotone:
        raise ReductionRefused(f"{why}, and the utility is not strictly monotone in the payment (checked {how}), "
                               "so no numeric inverse is a function")
    cls, parameters = _root_class(u, low, high, model.payment_flow > 0)
    return PaymentInverse(u.type_symbol, u.allocation_symbol, v, cls(v, u.type_symbol, u.allocation_symbol, *parameters),
                          numeric=True)
