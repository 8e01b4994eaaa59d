"""Whether a contract's agent utility makes sense at every value its types can take.

Screening divides by the marginal utility of the transfer the agent receives, f du/dy (f = +1
when the principal pays, -1 when the agent pays): the marginal rate of substitution is
MRS = -(du/dx) / (f du/dy) (`mechdsl.reduce.single_crossing`), and the least payments solve
u(theta, x, y) = target for y (`mechdsl.reduce.payment_inverse`: y = (c x + target) / theta
for u = theta y - c x). Single crossing is decided for a positive theta, so a type where
f du/dy = 0 (theta = 0 in theta y - c x: money is worth nothing to it) or < 0 (money hurts
it) makes the derivation divide by zero or reverse its inequalities: the least payment of
`types theta[K] = [0, 1]` is c T[0] / 0 and training diverged (reward -inf). A utility that
divides by the type (r - c t / theta) is undefined at theta = 0.

`type_value_problem` decides both at one type value with SymPy and speaks only when SymPy
decides (a problem it cannot decide is left to the single-crossing check): the checker asks
it at every fixed type, and at both ends of every drawn type's range and at 0 inside it.
"""

from __future__ import annotations

import sympy as sp

from mechdsl import model as m


def _signed(name: str, low: float | None) -> sp.Dummy:
    """A stand-in for a symbol that never falls below `low` (None: no known bound)."""
    if low is not None and low > 0:
        return sp.Dummy(name, positive=True)
    if low is not None and low >= 0:
        return sp.Dummy(name, nonnegative=True)
    return sp.Dummy(name, real=True)


def sign_facts(constants: dict[str, m.ConstParam], randoms: dict[str, m.RandomParam],
               variables: dict[str, m.ContractVariable], utility: m.Utility) -> dict[sp.Symbol, sp.Expr]:
    """Symbol -> its value (constants) or a signed stand-in (random parameters by their support,
    the utility's allocation and payment by the lowest bound of the variables of their kind)."""
    facts: dict[sp.Symbol, sp.Expr] = {c.symbol(): sp.Float(c.value) for c in constants.values() if not c.shape}
    for r in randoms.values():
        if not r.shape:
            facts[r.symbol()] = _signed(r.name, r.distribution.support()[0] if r.distribution.name != "normal" else None)
    for symbol, kind in ((utility.allocation_symbol, "allocation"), (utility.payment_symbol, "payment")):
        lows = [v.lower for v in variables.values() if v.kind == kind]
        facts[symbol] = _signed(symbol.name, min(lows) if lows else None)
    return facts


def candidate_values(types: m.TypeVector, k: int) -> list[float]:
    """The values of type k where a problem shows first: the fixed value, or both ends of the
    drawn range (mean +- 3 sd for a normal draw) and 0 when it lies strictly inside."""
    low, high = types.entry_range(k)
    values = [low] if low == high else [low, high]
    if low < 0 < high:
        values.append(0.0)
    return values


def money_value(utility: m.Utility, flow: int) -> sp.Expr:
    """f du/dy: the marginal utility of the transfer the agent receives."""
    return flow * sp.diff(utility.expr, utility.payment_symbol)


def type_value_problem(utility: m.Utility, flow: int, value: float, facts: dict[sp.Symbol, sp.Expr]) -> str | None:
    """Why the utility is unusable at type value `value` (undefined there, or money worth
    nothing or less to the agent), or None when it is usable or SymPy cannot decide."""
    theta, y = utility.type_symbol, utility.payment_symbol
    at = {theta: sp.Integer(int(value)) if value == int(value) else sp.Float(value)}
    if utility.expr.xreplace(at).xreplace(facts).has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return f"the utility {utility.expr} is undefined (a division by zero)"
    marginal = money_value(utility, flow)
    if theta not in marginal.free_symbols:
        return None  # a constant marginal value of money is the single-crossing check's to judge
    worth = marginal.xreplace(at).xreplace(facts)
    sign = "-" if flow < 0 else ""
    if worth.has(sp.zoo, sp.nan):
        return f"the marginal utility of money {sign}du/d{y} = {marginal} is undefined (a division by zero)"
    if worth.is_positive is False:
        how = "nothing" if worth.is_zero else "less than nothing"
        shown = f"{float(worth):g}" if worth.is_number else str(worth)
        return f"money is worth {how} to the agent ({sign}du/d{y} = {marginal} = {shown})"
    return None
