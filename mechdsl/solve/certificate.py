"""Certificate: every ORIGINAL constraint of a contract evaluated on numbers.

Given states and a full contract (allocations and payments), evaluate, per sample:
  * IR: u_t(theta_i; item i) >= 0 for every period t, history h and type i
    (`ir per_period`), or the lifetime value V_1(i) >= 0 (`ir lifetime`);
  * IC / intertemporal IC at every period t, history h, type i and report r != i, with
    OPTIMAL later play (the agent re-optimises its later reports):
        u_t(i; i) + C*(i, i) >= u_t(i; r) + C*(i, r),
        C*(i, r) = delta_{t+1} sum_j P_{t+1}(j | i) max_{r'} [u_{t+1}(j; r') + C*(...)];
  * declared bounds, monotonicity and plain constraints.
The slack of each is (left - right); the certificate reports the worst (most negative)
slack and where it occurs. Nothing here uses the reduction's formulas: it is the
independent check of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from mechdsl.model import Model
from mechdsl.reduce.structure import Screening
from mechdsl.solve.state import evaluate


@dataclass(frozen=True)
class Certificate:
    worst: float                 # min slack over all constraints and samples; >= 0 means feasible
    where: str                   # the constraint attaining it
    sample: int                  # the sample attaining it
    per_sample: np.ndarray       # (n,) min slack per sample
    constraints: int             # number of original constraints checked per sample

    def violation(self) -> np.ndarray:
        """(n,) worst violation per sample, >= 0 (0 = every original constraint holds)."""
        return np.maximum(0.0, -self.per_sample)

    def as_dict(self) -> dict:
        return {"worst_slack": self.worst, "where": self.where, "sample": self.sample,
                "constraints_checked": self.constraints}


def certify(model: Model, values: dict[str, np.ndarray], contract: dict[str, np.ndarray]) -> Certificate:
    """values: state arrays by symbol name; contract: decision arrays by symbol name."""
    s = Screening(model)
    u = model.utility
    others = sorted(u.expr.free_symbols - {u.type_symbol, u.allocation_symbol, u.payment_symbol},
                    key=lambda x: x.name)
    u_fn = sp.lambdify([u.type_symbol, u.allocation_symbol, u.payment_symbol, *others], u.expr, "numpy")
    other_values = [values[o.name] for o in others]
    n = len(next(iter(contract.values())))
    discount = {t: np.broadcast_to(evaluate(model.periods[t - 1].discount, values)
                                   if model.periods[t - 1].discount.free_symbols
                                   else float(model.periods[t - 1].discount), (n,))
                for t in range(1, s.periods + 1)}

    def util(t, i, h, r):
        return np.broadcast_to(u_fn(values[s.theta(t, i).name], contract[s.allocation(t, h, r).name],
                                    contract[s.payment(t, h, r).name], *other_values), (n,))

    @lru_cache(maxsize=None)
    def continuation(t, i, h, r):
        if t == s.periods:
            return np.zeros(n)
        total = np.zeros(n)
        for j in range(s.K):
            total = total + values[s.prob(t + 1, i, j).name] * best(t + 1, h + (r,), j)
        return discount[t + 1] * total

    @lru_cache(maxsize=None)
    def best(t, h, i):
        return np.max(np.stack([util(t, i, h, r) + continuation(t, i, h, r) for r in range(s.K)]), axis=0)

    slacks: list[tuple[str, np.ndarray]] = []
    lifetime = model.ir_scope() == "lifetime"
    for t in range(1, s.periods + 1):
        for h in s.histories(t):
            where = f"period {t}" + (f" after reports {list(h)}" if h else "")
            for i in range(s.K):
                if not lifetime:
                    slacks.append((f"IR {where}, type {i}", util(t, i, h, i)))
                elif t == 1:
                    slacks.append((f"lifetime IR, type {i}", util(t, i, h, i) + continuation(t, i, h, i)))
                truthful = util(t, i, h, i) + continuation(t, i, h, i)
                for r in range(s.K):
                    if r != i:
                        kind = "IIC" if t < s.periods else "IC"
                        slacks.append((f"{kind} {where}: type {i} vs report {r}",
                                       truthful - util(t, i, h, r) - continuation(t, i, h, r)))
    merged = {**values, **contract}
    for v in model.variables.values():
        for symbol in v.symbols():
            slacks.append((f"{symbol} >= {v.lower:g}", contract[symbol.name] - v.lower))
            if v.upper is not None:
                slacks.append((f"{symbol} <= {v.upper:g}", v.upper - contract[symbol.name]))
    for name, g in model.declared_inequalities():
        slacks.append((name, evaluate(g, merged)))
    matrix = np.stack([np.broadcast_to(v, (n,)) for _, v in slacks])
    flat = int(np.argmin(matrix))
    row, sample = divmod(flat, n)
    return Certificate(float(matrix[row, sample]), slacks[row][0], sample, matrix.min(axis=0), len(slacks))
