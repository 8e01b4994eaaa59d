"""Closed-form or published revenues for the classic settings, with where each comes from.

Every learned result is printed beside one of these, so a reader sees how far it is from
the known optimum (or, where no optimum is known, from the published learned result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mechdsl.auction_design.learned.setting import Setting


@dataclass(frozen=True)
class Reference:
    value: float
    source: str
    optimal: bool     # True: the optimal revenue; False: a published mechanism's revenue


def _all_uniform_01(setting: Setting) -> bool:
    return all(d.name == "uniform" and d.support == (0.0, 1.0)
               for row in setting.distributions for d in row)


def myerson_single_item_uniform(n: int) -> float:
    """Myerson's revenue for one item, n i.i.d. U[0, 1] bidders, reserve 1/2:
    E[max(phi(v_(1)), 0)] = n int_{1/2}^1 (2v - 1) v^(n-1) dv = 2n/(n+1)(1 - 2^-(n+1)) - (1 - 2^-n)."""
    return 2 * n / (n + 1) * (1 - 2.0 ** -(n + 1)) - (1 - 2.0 ** -n)


def reference_revenue(setting: Setting) -> Reference | None:
    """The reference for ``setting``, or None where none is on file."""
    if not _all_uniform_01(setting):
        return None
    n, m, kind = setting.n_bidders, setting.n_items, setting.valuation
    if m == 1:
        return Reference(myerson_single_item_uniform(n),
                         "Myerson (1981): second price with reserve 1/2", True)
    if (n, m, kind) == (1, 2, "additive"):
        return Reference((12 + 2 * math.sqrt(2)) / 27,
                         "Manelli and Vincent (2006): (12 + 2 sqrt 2)/27", True)
    if (n, m, kind) == (1, 2, "unit_demand"):
        return Reference(2 / (3 * math.sqrt(3)), "Pavlov (2011): 2/(3 sqrt 3)", True)
    if (n, m, kind) == (2, 2, "additive"):
        return Reference(0.878, "RegretNet, Duetting et al. (2019) Table 1 (regret < 1e-3); "
                         "no optimum known; item-wise Myerson 2 x 5/12 = 0.8333", False)
    return None
