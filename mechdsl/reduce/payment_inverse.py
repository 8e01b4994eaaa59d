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

import sympy as sp

from mechdsl.model import Model
from mechdsl.reduce.chain import ReductionRefused


@dataclass(frozen=True)
class PaymentInverse:
    theta: sp.Symbol
    x: sp.Symbol
    v: sp.Symbol
    expr: sp.Expr

    def __call__(self, theta, x, v) -> sp.Expr:
        return self.expr.xreplace({self.theta: theta, self.x: x, self.v: v})


def payment_inverse(model: Model) -> PaymentInverse:
    u = model.utility
    v = sp.Dummy("v", real=True)
    y = sp.Dummy(u.payment_symbol.name, real=True)
    theta_pos = sp.Dummy(u.type_symbol.name, positive=True)
    expr = u.expr.xreplace({u.type_symbol: theta_pos, u.payment_symbol: y})
    try:
        solutions = sp.solve(sp.Eq(expr, v), y, dict=False)
    except NotImplementedError:
        solutions = []
    real = [s for s in solutions if not s.has(sp.I)]
    flow = model.payment_flow
    increasing = [s for s in real if sp.simplify(flow * sp.diff(s, v)).is_positive is not False]
    if len(increasing) != 1:
        raise ReductionRefused(
            f"SymPy cannot solve the utility {u.expr} uniquely for the payment "
            f"'{u.payment_symbol}' (found {len(real)} real solution(s)); closed-form payments need an "
            "invertible utility")
    phi = increasing[0].xreplace({theta_pos: u.type_symbol})
    return PaymentInverse(u.type_symbol, u.allocation_symbol, v, phi)
