"""The screening structure of a contract model: periods, histories, menus, transitions.

Notation (used by every reduction step and by the certificate):
  * K types per period, periods t = 1..P; a *history* at period t is the tuple of reports
    (r_1, ..., r_{t-1}); the menu item for report i after history h is
    (x_t[h, i], y_t[h, i]) = (allocation, payment) symbols of the spec.
  * theta_t[i] is the i-th (sorted) type of period t; P_t(j | i) the probability of type j
    in period t given type i in period t-1 (`p_t[i, j]`, or `p_t[j]` if independent), and
    P_1(i) = p_1[i].
  * delta_t is period t's discount relative to period t-1 (`period t discount ...`), so an
    agent at period t values its future as V_t = u_t + delta_{t+1} E[V_{t+1}].
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from mechdsl.model import Model

History = tuple[int, ...]


@dataclass(frozen=True)
class Screening:
    model: Model

    @property
    def K(self) -> int:
        return self.model.K

    @property
    def periods(self) -> int:
        return len(self.model.periods)

    def histories(self, t: int) -> list[History]:
        """All report histories (r_1..r_{t-1}) reaching period t (1-based)."""
        return list(itertools.product(range(self.K), repeat=t - 1))

    def theta(self, t: int, i: int) -> sp.Symbol:
        return self.model.types[self.model.periods[t - 1].types].symbol(i)

    def allocation(self, t: int, h: History, i: int) -> sp.Symbol:
        return self.model.variables[self.model.periods[t - 1].allocation].symbol(*h, i)

    def payment(self, t: int, h: History, i: int) -> sp.Symbol:
        return self.model.variables[self.model.periods[t - 1].payment].symbol(*h, i)

    def prob(self, t: int, previous: int | None, j: int) -> sp.Symbol:
        """P_t(j | previous type); `previous` is ignored for period 1 and independent draws."""
        table = self.model.probs[self.model.periods[t - 1].prob]
        return table.symbol(previous, j) if len(table.shape) == 2 else table.symbol(j)

    def discount(self, t: int) -> sp.Expr:
        return self.model.periods[t - 1].discount

    def u(self, t: int, i: int, h: History, report: int, payment: sp.Expr | None = None) -> sp.Expr:
        """Period-t utility of true type i taking the item for `report` after history h."""
        y = self.payment(t, h, report) if payment is None else payment
        return self.model.utility(self.theta(t, i), self.allocation(t, h, report), y)

    @cached_property
    def payment_symbols(self) -> list[sp.Symbol]:
        return [self.payment(t, h, i) for t in range(1, self.periods + 1)
                for h in self.histories(t) for i in range(self.K)]

    @cached_property
    def allocation_symbols(self) -> list[sp.Symbol]:
        return [self.allocation(t, h, i) for t in range(1, self.periods + 1)
                for h in self.histories(t) for i in range(self.K)]

    def continuation(self, t: int, i: int, h: History, report: int, later: dict | None = None) -> sp.Expr:
        """delta_{t+1} E[V_{t+1}] for true type i at period t who reported `report` after h,
        assuming truthful play from t+1 on (valid once IC holds at every later history).
        `later` maps payment symbols to formulas to substitute (None keeps symbols)."""
        if t == self.periods:
            return sp.Integer(0)
        h_next = h + (report,)
        total = sp.Integer(0)
        for j in range(self.K):
            value = self.u(t + 1, j, h_next, j) + self.continuation(t + 1, j, h_next, j, later)
            total += self.prob(t + 1, i, j) * value
        expr = self.discount(t + 1) * total
        return expr.xreplace(later) if later else expr

    def optimal_continuation(self, t: int, i: int, h: History, report: int) -> sp.Expr:
        """C*(t, i, h, r) = delta_{t+1} sum_j P_{t+1}(j | i) max_{r'} [u_{t+1}(j; r') + C*(t+1, j, (h, r), r')]:
        the continuation when the agent re-optimises every later report (no later IC assumed)."""
        if t == self.periods:
            return sp.Integer(0)
        h_next = h + (report,)
        total = sp.Integer(0)
        for j in range(self.K):
            total += self.prob(t + 1, i, j) * self._best_value(t + 1, h_next, j)
        return self.discount(t + 1) * total

    def _best_value(self, t: int, h: History, j: int) -> sp.Expr:
        """max_{r'} [u_t(j; r') + C*(t, j, h, r')], built once per (t, h, j) (Max kept unevaluated)."""
        key = (t, h, j)
        if key not in self._best_values:
            options = [self.u(t, j, h, r) + self.optimal_continuation(t, j, h, r) for r in range(self.K)]
            self._best_values[key] = sp.Max(*options, evaluate=False)
        return self._best_values[key]

    @cached_property
    def _best_values(self) -> dict[tuple[int, History, int], sp.Expr]:
        return {}
