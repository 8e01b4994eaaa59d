"""Reduction steps for screening contracts with K ordered types and P >= 1 periods.

Backward in time (t = P, ..., 1), for every report history h:

* Final period (t = P), a static screening problem (Laffont-Martimort ch. 2):
  with single crossing and monotone allocations x_0 <= ... <= x_{K-1}, the K IR and
  K(K-1) IC constraints are implied by the lowest type's IR and the local downward IC,
  and the least payments make both bind:
      u(theta_0, x_0, y_0) = 0,
      u(theta_i, x_i, y_i) = u(theta_i, x_{i-1}, y_{i-1})            (i >= 1)
  i.e. y_i = phi(theta_i, x_i, u(theta_i, x_{i-1}, y_{i-1})). For the linear utility
  theta*R - c*T - E this is Theorem 2 of dynamic-contract-edmsac.txt (eq. 35).
  That is the orientation where utility rises with the type and the MRS falls with it;
  both signs are decided from the utility (`single_crossing.py`). Where utility FALLS with
  the type (cost types) the highest type's IR binds and the types are walked downwards
  (`Derivation.screening_order`: y_i from u(theta_i, x_{i+1}, y_{i+1}), the local upward IC);
  where the MRS rises, allocations are non-increasing. A sign that cannot be decided
  refuses the reduction, as does a non-standard orientation with P > 1.

* Earlier periods (t < P): an agent of true type i who reports r gets
      V(i, r) = u(theta_i, x_r, y_r) + C(i, r),
  C(i, r) = delta_{t+1} sum_j P_{t+1}(j | i) V_{t+1}(h + r, j) with truthful later play
  (exact, because IC holds at every later history, on and off the path). The local
  downward IIC V(i, i) >= V(i, i-1) and the per-period IR u_i >= 0 give the least payment
      y_i = phi(theta_i, x_i, max(0, u(theta_i, x_{i-1}, y_{i-1}) + C(i, i-1) - C(i, i))),
  a Max-recursion: either the floor or the local IIC binds. The other IIC pairs are NOT
  implied without extra structure (e.g. first-order stochastic dominance of the
  transition rows, which Dirichlet draws do not give), so they stay as residual
  constraints of the reduced problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from mechdsl.constraints import (BOUNDS, DECLARED, INCENTIVE, LIFETIME_IR, PER_PERIOD_IR, TRUTHFUL,
                                 declared_constraints)
from mechdsl.constraints.structure import Screening
from mechdsl.model import Model
from mechdsl.reduce.chain import Reduction, ReductionRefused, StepRecord
from mechdsl.reduce.derivation import Derivation, fewer_ops_than
from mechdsl.reduce.payment_inverse import payment_inverse
from mechdsl.reduce.payment_ranges import PaymentRanges
from mechdsl.reduce.single_crossing import check_single_crossing, check_type_orientation


def _history_label(h: tuple[int, ...]) -> str:
    return f" after reports {list(h)}" if h else ""


class OrientationUndecided(ReductionRefused):
    """du/dtheta takes both signs on the declared ranges: neither end's IR is implied. `derive`
    refuses; `mechdsl.solve.exact.solve` may still solve the reduced problem of either orientation
    (`derive(model, orientation=...)`), a relaxation, and keep a solution only if it is certified."""


@dataclass
class CheckScreeningModel(Reduction):
    """Single crossing and the orientation, decided from the utility. `orientation` (True: the
    lowest type's IR, False: the highest's) is used only where the orientation is undecided, to
    build a relaxation of the original problem for a solver that certifies its answer."""

    name: str = "screening preconditions"
    orientation: bool | None = None

    def accepts(self, d: Derivation) -> tuple[bool, str]:
        model = d.model
        if not model.has_constraint("ir") or not model.has_constraint("ic"):
            return False, "the reduction needs `constraint ir` and `constraint ic`"
        if len(model.periods) > 1 and not model.has_constraint("iic"):
            return False, "a multi-period contract needs `constraint iic` (agents may misreport early)"
        return True, ""

    def apply(self, d: Derivation):
        verdict = check_single_crossing(d.model)
        d.single_crossing = verdict
        if not verdict.holds:
            raise ReductionRefused(verdict.message)
        orientation = d.type_orientation = check_type_orientation(d.model)
        relaxation = []
        if orientation.rises is None:
            if self.orientation is None:
                raise OrientationUndecided(f"type orientation: {orientation.message}",
                                           hint="`mechdsl solve` solves the unreduced problem (every IR and IC) "
                                                "instead and certifies it")
            end = "lowest" if self.orientation else "highest"
            relaxation = [f"orientation undecided on the declared ranges; with the {end} type's IR the reduced "
                          "problem is a relaxation of the original (each of its constraints is an original one or "
                          "implied by two), so only a solution that passes the certificate is optimal"]
            orientation = d.type_orientation = replace(orientation, rises=self.orientation, method="relaxation",
                                                       message=relaxation[0])
        standard = orientation.rises and verdict.allocation_rises
        if len(d.model.periods) > 1 and not standard:
            raise ReductionRefused(
                f"type orientation: the multi-period reduction needs utility and allocations rising with the type "
                f"({orientation.message if not orientation.rises else verdict.message})",
                hint="order the types the other way (e.g. type = 2 - beta, allocation = 2 - C), or let `mechdsl solve` "
                     "solve the unreduced problem")
        K = d.model.K
        d.screening_order = tuple(range(K)) if orientation.rises else tuple(range(K - 1, -1, -1))
        d.allocation_rises = verdict.allocation_rises
        record = StepRecord(self.name, 0.0, assumed=["types sorted ascending in every period", *relaxation],
                            proved=[verdict.message] + ([] if relaxation else [orientation.message]))
        return d, record


@dataclass
class TruthfulLaterPlay(Reduction):
    name: str = "truthful continuation"

    def apply(self, d: Derivation):
        record = StepRecord(self.name, 0.0)
        if len(d.model.periods) > 1:
            record.proved.append("IIC with optimal later play = IIC with truthful later play, because IC is "
                                 "imposed at every later history (on and off the path)")
        return d, record


@dataclass
class ScreenPeriod(Reduction):
    """Least payments of period t at every history; see the module docstring."""

    t: int
    name: str = ""

    def __post_init__(self):
        self.name = f"screen period {self.t}"

    def apply(self, d: Derivation):
        s = Screening(d.model)
        phi = payment_inverse(d.model)
        final = self.t == s.periods
        record = StepRecord(self.name, 0.0)
        closed = d.closed_form()
        for h in s.histories(self.t):
            where = f"period {self.t}{_history_label(h)}"
            if final:
                self._final_block(d, s, phi, h, where, record)
            else:
                self._earlier_block(d, s, phi, h, where, record, closed)
        if phi.numeric:
            root = phi.expr.func
            record.assumed.append(f"SymPy has no closed-form inverse of {d.model.utility.agent}'s utility in the payment, "
                                  f"which is strictly monotone in it: each payment is the root of u = target on "
                                  f"[{root.low:g}, {root.high:g}] (brentq in the solvers, bisection and one Newton step in "
                                  "the generated env); a target with no root there gives a payment outside its bounds")
        if final and d.model.ir_scope() == "lifetime" and s.periods > 1:
            record.assumed.append("lifetime IR: the least-payment rule normalises the lowest later-period "
                                  "utility to 0 (without loss when utility is linear in the payment)")
        return d, record

    def _final_block(self, d, s, phi, h, where, record) -> None:
        """Static screening at history h of the last period (Theorem 2 for linear utility), walking
        the types in `d.screening_order`: from the type whose IR binds (the lowest when utility
        rises with the type, the highest when it falls), each next type's local IC towards the
        previous one binds. Allocations are monotone in the direction single crossing gives."""
        t, K = self.t, s.K
        lifetime = d.model.ir_scope() == "lifetime" and s.periods > 1
        order = d.screening_order
        for position, i in enumerate(order):
            x_i, y_i = s.allocation(t, h, i), s.payment(t, h, i)
            previous = order[position - 1] if position else None
            target = sp.Integer(0) if previous is None else s.u(t, i, h, previous)
            d.rules[y_i] = phi(s.theta(t, i), x_i, target)
            d.branches[y_i] = [d.rules[y_i]]
            if previous is None and not lifetime:
                d.reduced += PER_PERIOD_IR.at(s, t, h, i, TRUTHFUL)
            if previous is not None:  # the local IC both ways between neighbours
                d.reduced += [INCENTIVE.pair(s, t, h, i, previous, TRUTHFUL),
                              INCENTIVE.pair(s, t, h, previous, i, TRUTHFUL)]
        for i in range(1, K):
            higher, lower = (i, i - 1) if d.allocation_rises else (i - 1, i)
            d.monotone.append(DECLARED["monotone"].pair(s.allocation(t, h, higher), s.allocation(t, h, lower)))
        end, towards = ("lowest", "downward") if order[0] == 0 else ("highest", "upward")
        direction = "non-decreasing" if d.allocation_rises else "non-increasing"
        record.proved.append(f"{where}: {K} IR + {K * (K - 1)} IC <= {end} type's IR + {K - 1} local {towards} + "
                             f"{K - 1} local reverse IC + allocations {direction} in the type (single crossing)")
        record.proved.append(f"{where}: monotone allocations are constraints of the reduced problem, not an "
                             "assumption: where the relaxed optimum is not monotone (non-monotone virtual values) "
                             "they bind and pool neighbouring types (ironing)")
        d.binding.append(f"{where}: {end}-type IR and local {towards} IC bind for the {d.payment_rule_name}")

    def _earlier_block(self, d, s, phi, h, where, record, closed) -> None:
        """Period t < P: IIC with truthful continuation; Max-recursion least payments."""
        t, K = self.t, s.K
        lifetime = d.model.ir_scope() == "lifetime" and t == 1

        def value(i, r, later):
            return s.u(t, i, h, r) + s.continuation(t, i, h, r, later)

        for i in range(K):
            x_i, y_i = s.allocation(t, h, i), s.payment(t, h, i)
            floor = -s.continuation(t, i, h, i, closed) if lifetime else sp.Integer(0)
            downward = [value(i, r, closed) - s.continuation(t, i, h, i, closed) for r in range(i)]
            targets = [floor, *downward] if (i > 0 and not lifetime) or i == 0 else downward
            d.branches[y_i] = [phi(s.theta(t, i), x_i, a) for a in targets]
            d.rules[y_i] = phi(s.theta(t, i), x_i, sp.Max(*targets, evaluate=False) if len(targets) > 1 else targets[0])
            d.reduced += (LIFETIME_IR if lifetime else PER_PERIOD_IR).at(s, t, h, i, TRUTHFUL)
            for pair in INCENTIVE.at(s, t, h, i, TRUTHFUL):
                d.reduced.append(pair)
                if pair.report > i:  # upward IIC, later payments in closed form
                    d.residual.append(replace(pair, g=pair.g.xreplace(closed)))
        record.proved.append(f"{where}: least payments satisfy every downward IIC and the IR floor "
                             "(Max over the floor and all downward IIC)")
        record.residual.append(f"{where}: {K * (K - 1) // 2} upward IIC kept (not implied without stochastic "
                               "dominance of the transition rows)")
        d.binding.append(f"{where}: for each type, the IR floor or one downward IIC binds (Max-recursion)")


@dataclass
class CarryDeclaredConstraints(Reduction):
    """Bounds on payments and the user's own constraints stay as residual constraints
    unless SymPy proves them from the payment rules and the sign facts."""

    name: str = "declared constraints"

    def apply(self, d: Derivation):
        from mechdsl.reduce.assumptions import signed_symbols

        record = StepRecord(self.name, 0.0)
        closed = d.closed_form()
        signs = signed_symbols(d.model)
        for bound in BOUNDS.instances(d.model, kind="payment"):
            closed_g = bound.g.xreplace(closed)
            provable = fewer_ops_than(closed_g, 60) and not closed_g.has(sp.Max)
            if provable and closed_g.xreplace(signs).is_nonnegative:
                record.proved.append(f"{bound.name} (from the payment rule)")
            else:
                d.residual.append(bound)
                record.residual.append(bound.name)
        for declared in declared_constraints(d.model):
            d.residual.append(declared)
            record.residual.append(f"declared: {declared.name}")
        return d, record


def screening_steps(model: Model, orientation: bool | None = None) -> list:
    periods = len(model.periods)
    return [CheckScreeningModel(orientation=orientation), TruthfulLaterPlay(),
            *(ScreenPeriod(t) for t in range(periods, 0, -1)), CarryDeclaredConstraints(), PaymentRanges()]
