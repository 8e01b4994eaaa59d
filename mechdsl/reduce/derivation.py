"""The result of reducing a contract: payment rules, residual constraints, the step log."""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from mechdsl.constraints import Instance
from mechdsl.model import Model
from mechdsl.reduce.chain import StepRecord
from mechdsl.reduce.single_crossing import SingleCrossingVerdict, TypeOrientation

Inequality = Instance  # a constraint g >= 0 of the reduced problem, labelled as its original family


def fewer_ops_than(expr: sp.Expr, limit: int) -> bool:
    """`sp.count_ops(expr) < limit`, without walking all of a large expression: count_ops counts
    n - 1 operations for every sum of n terms (ADD or SUB; `SUB - ADD` nets 0), and its walk
    reaches every sum (rebuilt with the same terms when it negates or splits a product), so the
    sums alone bound it from below and the walk stops once they reach the limit. A payment K
    steps down a least-payment chain has O(K) operations; count_ops on each was O(K^2) per chain."""
    sums, stack = 0, [expr]
    while stack:
        node = stack.pop()
        if node.is_Add:
            sums += len(node.args) - 1
            if sums >= limit:
                return False
        stack.extend(node.args)
    return sp.count_ops(expr) < limit


@dataclass
class Derivation:
    model: Model
    single_crossing: SingleCrossingVerdict | None = None
    type_orientation: TypeOrientation | None = None  # which type's IR is the one kept, and why
    # the last period's types in the order the least payments chain them, from the type whose IR
    # binds: ascending when utility rises with the type, descending when it falls (cost types)
    screening_order: tuple[int, ...] = ()
    allocation_rises: bool = True  # single crossing's direction: implementable allocations rise with the type
    # payment symbol -> rule in allocations, state and *earlier-computed* payment symbols,
    # in evaluation order (later periods first, types in `screening_order`).
    rules: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    # payment symbol -> the branches whose maximum (payments to the agent) or minimum (payments
    # the agent makes) the rule is (one branch: no Max); for an epigraph form in convex solvers.
    branches: dict[sp.Symbol, list[sp.Expr]] = field(default_factory=dict)
    binding: list[str] = field(default_factory=list)
    monotone: list[Inequality] = field(default_factory=list)
    # The reduced constraint set in allocations AND payments (payments free): exact
    # replacement of the original constraints, used for the exact reduced optimum.
    reduced: list[Inequality] = field(default_factory=list)
    residual: list[Inequality] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    # payment symbol -> its feasible range given the other items, and whether the env gives it
    # a slack (`mechdsl.reduce.payment_ranges`), in the rules' order
    payment_ranges: dict = field(default_factory=dict)

    @property
    def payment_rule_name(self) -> str:
        """What the rules give: the least payments, or for payments the agent makes (a price,
        `payment t[K] from consumer`) the highest payments it accepts."""
        if self.model.payment_flow > 0:
            return "least payments"
        return f"highest payments {self.model.agent} accepts"

    def closed_form(self) -> dict[sp.Symbol, sp.Expr]:
        """Payments in allocations and state only (rules substituted in order)."""
        cached = getattr(self, "_closed_cache", None)
        if cached is not None and cached[0] == len(self.rules):
            return cached[1]
        closed: dict[sp.Symbol, sp.Expr] = {}
        for symbol, rule in self.rules.items():
            if rule.has(sp.Max):  # re-evaluating Max compares its (large) arguments
                with sp.evaluate(False):
                    closed[symbol] = rule.xreplace(closed)
            else:
                closed[symbol] = rule.xreplace(closed)
        self._closed_cache = (len(self.rules), closed)
        return closed

    @property
    def numeric_payments(self) -> list[sp.Symbol]:
        """Payments whose rule holds a numeric root (`numeric_inverse.PaymentRoot`): SymPy found no
        closed-form inverse of the utility in the payment, so they are computed by root finding."""
        from mechdsl.reduce.numeric_inverse import PaymentRoot

        return [symbol for symbol, rule in self.rules.items() if rule.has(PaymentRoot)]

    def payment(self, name: str, *index: int) -> sp.Expr:
        return self.closed_form()[self.model.variables[name].symbol(*index)]

    def declared(self) -> list[Inequality]:
        """The spec's own monotone/plain constraints and payment bounds kept as residuals."""
        return [c for c in self.residual if c.family != "iic"]

    @property
    def allocation_symbols(self) -> list[sp.Symbol]:
        return [s for v in self.model.variables.values() if v.kind == "allocation" for s in v.symbols()]
