"""Payment ranges: the interval each payment may take, given every other item of the menu.

The least-payment rules (`screening.py`) pick one point of the feasible set per allocation.
When the reduction leaves residual constraints (e.g. the upward IIC of a dynamic
contract), the optimum may pay more than those floors: period-t rents above the floor make
an upward misreport of period t-1 less attractive. To reach every feasible contract, the
generated env parametrises each such payment inside its exact feasible interval.

Notation of `mechdsl.constraints.structure`: at period t after history h, type i's item is (x_i, y_i),
V(i, r) = u(theta_i, x_r, y_r) + C(i, r) with the continuation C (later payments as their
own symbols, not substituted), and y = phi(theta, x, v) solves u(theta, x, y) = v
(`payment_inverse.py`; phi is increasing in v since du/dy > 0).

Payments are evaluated in the rules' order (later periods first, types ascending within a
history), so when y_i is computed every later payment and y_0..y_{i-1} are known. Every
IR/IC/IIC constraint of period t at h involves at most two items, y_i and y_r, so with the
others fixed the constraints on y_i are exactly
    y_i >= phi(theta_i, x_i, 0)                        IR (per period)
    y_i >= phi(theta_i, x_i, V(i, r) - C(i, i))        type i does not report r < i
    y_i <= phi(theta_r, x_i, V(r, r) - C(r, i))        type r < i does not report i
(constraints against reports r > i bind y_r and are imposed when y_r is computed). Hence
    floor_i = max(IR, downward terms),  ceiling_i = min(upward terms)  (none for i = 0),
and the feasible payments are exactly the sequences with floor_i <= y_i <= ceiling_i.
In the last period, allocations are monotone (a chain of the action map) and single crossing
holds, so the local terms r = i - 1 imply the others (Laffont-Martimort, ch. 2): the floor and
ceiling keep only r = i - 1, which is the derived least-payment rule for the floor. When utility
falls with the type (cost types) the same holds with the types walked from the highest down
(`Derivation.screening_order`): r is the next higher type, whose payment is computed first.

A payment gets a *slack* (an action dimension y = floor + d (ceiling - floor), d in [0, 1],
or floor + scale d^2 / (1 - d^2), unbounded, when there is no ceiling) when it enters a residual constraint directly
or through a continuation. Without residual constraints the least payments are optimal
(the objective decreases in every payment and every floor is non-decreasing in the earlier
payments), so such specs keep an allocation-only action.

Payments in either direction (`payment t from agent`, flow f = -1): phi is then decreasing
in v, so every inequality above flips. floor and ceiling are taken in the direction of the
money flow: the transfer f y lies between f floor and f ceiling, floor is the derived rule
(the principal's cheapest point, the highest price for f = -1) and the slack moves the
payment toward the agent: y = floor + f d |ceiling - floor|.

With `ir lifetime`, later periods keep the reduction's normalisation (the lowest type's
later-period utility is 0, without loss for a utility linear in the payment): the ranges
then span the normalised feasible set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from mechdsl.reduce.assumptions import signed_symbols
from mechdsl.reduce.chain import Reduction, StepRecord
from mechdsl.reduce.derivation import Derivation
from mechdsl.reduce.payment_inverse import payment_inverse
from mechdsl.constraints.structure import Screening


UNBOUNDED_SPAN = 1e3  # an allocation without an upper bound is searched in [lower, lower + 1e3]


@dataclass(frozen=True)
class PaymentRange:
    """In the direction of the money flow f: f floor <= f payment <= f ceiling, floor the
    extremum of floor_terms (max for f = 1, min for f = -1), ceiling that of ceiling_terms (no
    ceiling if empty); in the allocations, the state and the other payments as their own symbols."""

    symbol: sp.Symbol
    floor_terms: tuple[sp.Expr, ...]
    ceiling_terms: tuple[sp.Expr, ...]
    slack: bool                      # an action dimension places the payment in its range
    scale: sp.Expr                   # unit of the slack when there is no ceiling (positive)
    flow: int = 1                    # +1: the principal pays the agent, -1: the agent pays

    @property
    def floor(self) -> sp.Expr:
        return _extremum(sp.Max if self.flow > 0 else sp.Min, self.floor_terms)

    @property
    def ceiling(self) -> sp.Expr | None:
        if not self.ceiling_terms:
            return None
        return _extremum(sp.Min if self.flow > 0 else sp.Max, self.ceiling_terms)

    def describe(self) -> str:
        if not self.slack:
            return f"{self.symbol}: least payment (no slack: the floor is optimal)"
        span = "up to the upward-IC ceiling" if self.ceiling_terms else "floor + scale d^2 / (1 - d^2) (no ceiling)"
        return f"{self.symbol}: floor + slack, {span}"


def _extremum(op, terms: tuple[sp.Expr, ...]) -> sp.Expr:
    return terms[0] if len(terms) == 1 else op(*terms, evaluate=False)


def slack_payments(d: Derivation) -> set[sp.Symbol]:
    """Payments that enter a residual constraint of the reduced problem, with later
    payments as their own symbols: the upward IIC pairs and the spec's declared inequalities."""
    s = Screening(d.model)
    payments = set(s.payment_symbols)
    upward = [c for c in d.reduced if c.family == "iic" and c.report > c.type]
    declared = [c for c in d.residual if c.family not in ("iic", "monotone") and not _is_own_bound(c, payments)]
    return {sym for c in [*upward, *declared] for sym in c.g.free_symbols & payments}


def _is_own_bound(c, payments) -> bool:
    """`y >= lower` or `y <= upper`: built into the payment's floor or ceiling, never a reason for slack."""
    free = c.g.free_symbols
    return len(free) == 1 and next(iter(free)) in payments and abs(sp.diff(c.g, next(iter(free)))) == 1


def payment_ranges(d: Derivation) -> dict[sp.Symbol, PaymentRange]:
    """Every payment's range, in the rules' evaluation order (see the module docstring)."""
    model = d.model
    s = Screening(model)
    phi = payment_inverse(model)
    slack = slack_payments(d)
    flow = model.payment_flow
    variables = {sym: v for v in model.variables.values() if v.kind == "payment" for sym in v.symbols()}
    residual_lower = {c.bound[0] for c in d.residual if c.bound is not None and c.bound[1] == "lower"}
    scales = _Scales(model, phi)
    ranges: dict[sp.Symbol, PaymentRange] = {}
    for t in range(s.periods, 0, -1):
        for h in s.histories(t):
            for i in range(s.K):
                y = s.payment(t, h, i)
                floor, ceiling = _period_terms(d, s, phi, t, h, i)
                v = variables[y]
                lower = (sp.Float(v.lower),) if y in residual_lower else ()  # not proved from its rule
                upper = (sp.Float(v.upper),) if v.upper is not None else ()
                # a lower bound limits the principal's end when it pays (f = 1), the agent's when it is paid
                floor, ceiling = (floor + lower, ceiling + upper) if flow > 0 else (floor + upper, ceiling + lower)
                ranges[y] = PaymentRange(y, floor, ceiling, y in slack, scales(t, s.theta(t, i)), flow)
    return {y: ranges[y] for y in d.rules}


@dataclass
class PaymentRanges(Reduction):
    """Last step of the chain: each payment's range and whether it needs a slack."""

    name: str = "payment ranges"

    def apply(self, d: Derivation):
        record = StepRecord(self.name, 0.0)
        d.payment_ranges = payment_ranges(d)
        slack = [str(y) for y, r in d.payment_ranges.items() if r.slack]
        if slack:
            record.residual.append(f"{len(slack)} of {len(d.payment_ranges)} payments enter a residual constraint: "
                                   f"the env places them in [floor, ceiling] with a slack ({', '.join(slack)})")
        elif _objective_decreases_in_payments(d):
            record.proved.append("no residual constraint involves a payment and the objective decreases in every "
                                 "payment: the least payments are optimal (every floor is non-decreasing in the "
                                 "earlier payments), so the env's action holds allocations only")
        else:
            record.assumed.append("no residual constraint involves a payment; SymPy could not prove that the "
                                  "objective decreases in every payment, so the least payments are assumed optimal")
        return d, record


def _objective_decreases_in_payments(d: Derivation) -> bool:
    objective = d.model.objective
    sign = -1 if objective.sense == "maximize" else 1
    signs = signed_symbols(d.model)
    partials = partial_derivatives(objective.expr, set(d.payment_ranges))
    return all((sign * partials.get(y, sp.Integer(0))).xreplace(signs).is_nonnegative for y in d.payment_ranges)


def partial_derivatives(expr: sp.Expr, symbols: set[sp.Symbol]) -> dict[sp.Symbol, sp.Expr]:
    """d expr / d y for every y of `symbols` that expr depends on, in one pass over expr: a sum
    is differentiated term by term and a product with one factor in `symbols` by that factor
    only (linearity), so an objective summed over K types costs O(K), not K derivatives of the
    whole sum, O(K^2). Equal to `sp.diff(expr, y)` for each y."""
    free = expr.free_symbols & symbols
    if not free:
        return {}
    if isinstance(expr, sp.Add):
        terms: dict[sp.Symbol, list[sp.Expr]] = {}
        for arg in expr.args:
            for y, partial in partial_derivatives(arg, symbols).items():
                terms.setdefault(y, []).append(partial)
        return {y: sp.Add(*parts) for y, parts in terms.items()}
    if isinstance(expr, sp.Mul):
        dependent = [a for a in expr.args if a.free_symbols & symbols]
        if len(dependent) == 1:
            factor = sp.Mul(*[a for a in expr.args if a is not dependent[0]])
            return {y: factor * partial for y, partial in partial_derivatives(dependent[0], symbols).items()}
    return {y: sp.diff(expr, y) for y in free}


def _period_terms(d, s, phi, t, h, i) -> tuple[tuple[sp.Expr, ...], tuple[sp.Expr, ...]]:
    lifetime = d.model.ir_scope() == "lifetime"
    x_i = s.allocation(t, h, i)
    if t == s.periods:  # neighbours in the screening order (types descending when utility falls with them)
        position = d.screening_order.index(i)
        if position == 0:
            return (phi(s.theta(t, i), x_i, sp.Integer(0)),), ()
        r = d.screening_order[position - 1]
        return ((phi(s.theta(t, i), x_i, s.u(t, i, h, r)),),
                (phi(s.theta(t, r), x_i, s.u(t, r, h, r)),))

    def value(j, r):
        return s.u(t, j, h, r) + s.continuation(t, j, h, r)

    own = s.continuation(t, i, h, i)
    ir = -own if lifetime and t == 1 else sp.Integer(0)
    downward = [value(i, r) - own for r in range(i)]
    floor_targets = downward if lifetime and t == 1 and i > 0 else [ir, *downward]  # as `screening.py`
    floor = tuple(phi(s.theta(t, i), x_i, a) for a in floor_targets)
    ceiling = tuple(phi(s.theta(t, r), x_i, value(r, r) - s.continuation(t, r, h, i)) for r in range(i))
    return floor, ceiling


@dataclass
class _Scales:
    """The payment range the IR floor of an item spans over its allocation's bounds,
    phi(theta_i, x_hi, 0) - phi(theta_i, x_lo, 0): the state-dependent unit of a slack without
    a ceiling (payment = floor + scale d^2 / (1 - d^2), so d = 0.5 adds a third of it).
    The span is simplified once per period in phi's own type symbol and then evaluated at each
    theta_i (`sp.simplify` per item grew with K^(P-1) histories x K types); only its sign,
    which depends on theta_i's range, is decided per item."""

    model: object
    phi: object
    cache: dict = field(default_factory=dict)

    def __call__(self, t: int, theta: sp.Expr) -> sp.Expr:
        if (t, theta) not in self.cache:
            self.cache[t, theta] = self._signed(self._span(t).xreplace({self.phi.theta: theta}))
        return self.cache[t, theta]

    def _span(self, t: int) -> sp.Expr:
        if t not in self.cache:
            variable = self.model.variables[self.model.periods[t - 1].allocation]
            lo = sp.Float(variable.lower)
            hi = sp.Float(variable.upper if variable.upper is not None else variable.lower + UNBOUNDED_SPAN)
            theta = self.phi.theta
            self.cache[t] = sp.simplify(self.phi(theta, hi, sp.Integer(0)) - self.phi(theta, lo, sp.Integer(0)))
        return self.cache[t]

    def _signed(self, span: sp.Expr) -> sp.Expr:
        if span == 0:
            return sp.Integer(1)
        if "signs" not in self.cache:
            self.cache["signs"] = signed_symbols(self.model)
        signed = span.xreplace(self.cache["signs"])
        return span if signed.is_nonnegative else -span if signed.is_nonpositive else sp.Abs(span)


__all__ = ["UNBOUNDED_SPAN", "PaymentRange", "PaymentRanges", "payment_ranges", "slack_payments"]
