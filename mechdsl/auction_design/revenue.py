"""Expected revenue and welfare of a single-item auction that ranks bidders by psi_i
(ironed where needed), sells to the top one if psi_i >= 0 and charges threshold prices.

By Myerson's lemma (Myerson 1981, lemma 3) the expected revenue of such a monotone rule is
the expected virtual surplus E[sum_i x_i(v) phi_i(v_i)], phi_i = v - (1 - F_i)/f_i; the
expected welfare is E[sum_i x_i(v) v_i]. With P(i wins | v_i = v) = W_i(v):

    E[sum_i x_i g_i] = sum_i int_{r_i}^{high_i} g_i(v) f_i(v) W_i(v) dv,   g = phi or v.

* Symmetric regular bidders: W(v) = F(v)^(n-1) and the sum is n times one integral,
  int_r^high g(v) d(F(v)^n), which SymPy integrates in closed form for uniform and
  loguniform values (i.i.d. U[0, 1]: (n - 1)/(n + 1) + 2^-n/(n + 1)).
* Symmetric irregular bidders: the same, with W(v) = (F(b)^n - F(a)^n) / (n (F(b) - F(a)))
  on an ironing interval [a, b] (ties broken uniformly at random); numeric.
* Asymmetric bidders: W_i(v) = prod_{j != i} F_j(sup{x : psi_j(x) < psi_i(v)}); numeric
  (ties between bidders have probability zero unless two ironed bidders share a level).

Numeric integrals are `scipy.integrate.quad`, whose error estimates are summed into the
returned bound (plus the mass outside mean +- 8 sd for normal values)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from scipy.integrate import quad
from scipy.optimize import brentq

from mechdsl.auction_design.distributions import VALUE
from mechdsl.auction_design.myerson import BidderDerivation, MyersonAuction

NORMAL_TAIL = 1.3e-15  # P(|Z| > 8) for a standard normal: the mass left outside mean +- 8 sd
INVERSE_GRID = 200_001  # grid of the inverse of an ironed psi
SIMPLIFIED_OPS = 25  # sp.simplify of a larger closed form (loguniform(1e-12, 1e12) at n = 3) can run for minutes
MAX_CLOSED_FORM_CHARACTERS = 4000  # n = 1000 i.i.d. uniform: 611; loguniform(1, 1.0001): beyond Python's int printing


@dataclass(frozen=True)
class Expectation:
    """An expected value: exact (closed form, `error` 0) or numeric with an error bound."""

    value: float
    exact: sp.Expr | None
    error: float
    method: str

    def as_json(self) -> dict:
        return {"value": self.value, "closed_form": None if self.exact is None else str(self.exact),
                "error_bound": self.error, "method": self.method}


def expected(auction: MyersonAuction, payoff: str = "revenue", reserve: bool = True) -> Expectation:
    """E[sum_i x_i g_i] for g = phi (`payoff="revenue"`) or v (`"welfare"`) of `auction`'s
    allocation; `reserve=False` gives the comparison that sells to the highest value always
    (a second-price auction without reserve)."""
    bidders = auction.bidders
    first = bidders[0]
    n = len(bidders)
    if auction.symmetric and (first.regular or not reserve):
        exact = _symmetric_closed_form(first, n, payoff, reserve)
        if exact is not None:
            return Expectation(float(exact), exact, 0.0, "closed form (SymPy integral of g d(F^n))")
        return _symmetric_numeric(first, n, payoff, reserve)
    if auction.symmetric:
        return _symmetric_numeric(first, n, payoff, reserve)
    return _asymmetric_numeric(bidders, payoff, reserve)


def _payoff_expr(b: BidderDerivation, payoff: str) -> sp.Expr:
    return b.phi if payoff == "revenue" else VALUE


def _symmetric_closed_form(b: BidderDerivation, n: int, payoff: str, reserve: bool) -> sp.Expr | None:
    law = b.law
    start = (b.reserve_exact if reserve else law.low)
    if start is None or not law.bounded or b.law.cdf.has(sp.erf):
        return None
    integrand = sp.expand(_payoff_expr(b, payoff) * n * law.cdf ** (n - 1) * law.pdf) if law.distribution.name == \
        "uniform" else _payoff_expr(b, payoff) * n * law.cdf ** (n - 1) * law.pdf
    try:
        result = sp.integrate(integrand, (VALUE, start, law.high))
        if result.has(sp.Integral) or not result.is_number:
            return None
        if not result.is_Rational and sp.count_ops(result) <= SIMPLIFIED_OPS:
            result = sp.simplify(result)
        float(result)
        if len(str(result)) > MAX_CLOSED_FORM_CHARACTERS:
            return None
    except (ValueError, OverflowError, TypeError, NotImplementedError):
        return None  # a closed form beyond what SymPy or a float can hold (loguniform(1, 1.0001)): numeric
    return result


def _win_weight_symmetric(b: BidderDerivation, n: int):
    """W(v): the chance that one of n symmetric bidders with value v wins (ignoring the reserve)."""
    cdf = b.law.numpy(b.law.cdf)
    intervals = b.ironed.intervals if b.ironed is not None else ()

    def weight(v: float) -> float:
        for start, end, _ in intervals:
            if start <= v <= end:
                fa, fb = float(cdf(np.array(start))), float(cdf(np.array(end)))
                return (fb ** n - fa ** n) / (n * (fb - fa)) if fb > fa else fb ** (n - 1)
        return float(cdf(np.array(v))) ** (n - 1)
    return weight


def _symmetric_numeric(b: BidderDerivation, n: int, payoff: str, reserve: bool) -> Expectation:
    low, high = b.law.numeric_support()
    start = b.reserve if reserve else low
    g, f = b.law.numpy(_payoff_expr(b, payoff)), b.law.numpy(b.law.pdf)
    weight = _win_weight_symmetric(b, n) if reserve else (lambda v: float(b.law.numpy(b.law.cdf)(np.array(v))) ** (n - 1))
    breaks = [p for s, e, _ in (b.ironed.intervals if b.ironed is not None and reserve else ()) for p in (s, e)
              if start < p < high]
    centre = _centre(low, high)
    value, error = _centred_quad(lambda v: float(g(np.array(v))), lambda v: float(f(np.array(v))) * n * weight(v),
                                 centre, start, high, breaks)
    error += _tail(b) * n * max(abs(low), abs(high))
    return Expectation(value, None, error, "numeric (scipy quad" + (", ironed psi" if b.ironed is not None else "") + ")")


def _centre(low: float, high: float) -> float:
    """A round value near the middle of the values: payoffs are integrated less this centre
    (plus the centre times the probability), so values near 1e11 lose no digits to quad."""
    middle = 0.5 * (low + high)
    return float(f"{middle:.3g}") if abs(middle) > 1e3 * max(1.0, high - low) else 0.0


def _centred_quad(g, weight, centre: float, start: float, high: float, breaks=()) -> tuple[float, float]:
    """int_start^high g(v) weight(v) dv as int (g - centre) weight + centre int weight, with
    the summed error estimates of both quads."""
    options = dict(points=list(breaks) or None, limit=400, epsabs=1e-13, epsrel=1e-12)
    value, error = quad(lambda v: (g(v) - centre) * weight(v), start, high, **options)
    if centre != 0:
        mass, mass_error = quad(weight, start, high, **options)
        value, error = value + centre * mass, error + abs(centre) * mass_error
    return value, error


def _tail(b: BidderDerivation) -> float:
    return 0.0 if b.law.bounded else NORMAL_TAIL


class _Below:
    """F_j(sup{x : psi_j(x) < t}), the chance that bidder j ranks below level t."""

    def __init__(self, b: BidderDerivation, reserve: bool):
        self.cdf = b.law.numpy(b.law.cdf)
        self.low, self.high = b.law.numeric_support()
        self.rank = b.ranking() if reserve else (lambda v: np.asarray(v, dtype=float))
        self.grid = None
        if reserve and b.ironed is not None:
            self.grid = np.linspace(self.low, self.high, INVERSE_GRID)
            self.levels = np.maximum.accumulate(self.rank(self.grid))

    def __call__(self, t: float) -> float:
        if float(self.rank(np.array(self.low))) >= t:
            return 0.0
        if float(self.rank(np.array(self.high))) < t:
            return 1.0
        if self.grid is not None:
            x = self.grid[min(np.searchsorted(self.levels, t, side="left"), len(self.grid) - 1)]
        else:
            x = brentq(lambda y: float(self.rank(np.array(y))) - t, self.low, self.high, xtol=1e-14, rtol=1e-14)
        return float(self.cdf(np.array(x)))


def _asymmetric_numeric(bidders: tuple[BidderDerivation, ...], payoff: str, reserve: bool) -> Expectation:
    below = [_Below(b, reserve) for b in bidders]
    total, error = 0.0, 0.0
    for i, b in enumerate(bidders):
        low, high = b.law.numeric_support()
        start = b.reserve if reserve else low
        g, f, rank = b.law.numpy(_payoff_expr(b, payoff)), b.law.numpy(b.law.pdf), below[i].rank

        def weight(v: float, i=i, f=f, rank=rank) -> float:
            level = float(rank(np.array(v)))
            others = np.prod([below[j](level) for j in range(len(bidders)) if j != i])
            return float(f(np.array(v))) * others

        value, err = _centred_quad(lambda v, g=g: float(g(np.array(v))), weight, _centre(low, high), start, high)
        total += value
        error += err + _tail(b) * max(abs(low), abs(high))
    return Expectation(total, None, error, "numeric (scipy quad over each bidder's value)")
