"""Myerson's optimal auction of one item (Myerson 1981), derived symbolically per bidder.

For bidder i with value law F_i (density f_i) the objective w * revenue + (1 - w) * welfare
(w = 1: revenue, w = 0: welfare) ranks bidders by the weighted virtual value

    psi_i(v) = v - w (1 - F_i(v)) / f_i(v)        (phi_i = psi_i at w = 1, Myerson eq. 3.13)

which is derived with SymPy from the law. Bidder i is *regular* when psi_i is
non-decreasing on its support: decided symbolically (the set where psi_i' < 0, solved with
`sp.solveset`, is empty) where SymPy can, on a grid of the support otherwise; each verdict
says which. An irregular psi_i is ironed (`ironing.iron`, numeric). The reserve r_i solves
psi_i(r_i) = 0 (`sp.solveset` on the support; numeric root where SymPy gives none), clamped
to the support. The mechanism: the item goes to a bidder with the largest (ironed)
psi_i(v_i) if it is >= 0, ties broken uniformly at random; the winner pays its threshold,
the least bid that still wins: max(r_i, psi_i^-1(max_{j != i} psi_j(v_j))). By Myerson's
lemma the expected revenue of any such monotone rule is E[sum_i x_i phi_i(v_i)]
(`revenue.expected_revenue`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from scipy.optimize import brentq

from mechdsl.auction_design.distributions import VALUE, NoDensity, ValueLaw
from mechdsl.auction_design.ironing import IronedValue, iron
from mechdsl.auction_design.model import AuctionDesignModel, Bidder
from mechdsl.errors import MechdslError
from mechdsl.lang.diagnostics import Diagnostic, SpecError

REGULARITY_GRID = 20_001  # points of the numeric regularity check across the support
SYMBOLIC_SECONDS = 5.0    # SymPy work per bidder beyond which derive says so in its steps


class NotSingleParameter(MechdslError):
    """Myerson's derivation needs one private number per bidder (a single item)."""


@dataclass(frozen=True)
class BidderDerivation:
    """What Myerson's derivation finds for one bidder."""

    bidder: Bidder
    law: ValueLaw
    phi: sp.Expr                  # Myerson's virtual value v - (1 - F)/f
    psi: sp.Expr                  # the ranking virtual value v - w (1 - F)/f (= phi for revenue)
    regular: bool
    regularity_method: str        # "symbolic" or "numeric (grid of N points)"
    regularity_note: str
    reserve: float
    reserve_exact: sp.Expr | None  # the closed form, where SymPy solved psi(r) = 0
    reserve_method: str
    ironed: IronedValue | None    # None where regular
    seconds: float = field(default=0.0, compare=False)

    def ranking(self):
        """psi_i as a NumPy function of the value, ironed where irregular."""
        psi = self.law.numpy(self.psi)
        return self.ironed if self.ironed is not None else psi


def derive_bidder(bidder: Bidder, revenue_weight: sp.Expr) -> BidderDerivation:
    started = time.perf_counter()
    law = ValueLaw.of(bidder.distributions[0])
    v = VALUE
    tidy = sp.simplify if not law.cdf.has(sp.erf) else (lambda e: e)  # simplify gains nothing on erf, slowly
    phi = tidy(v - (1 - law.cdf) / law.pdf)
    psi = phi if revenue_weight == 1 else tidy(v - revenue_weight * (1 - law.cdf) / law.pdf)
    regular, method, note = _regularity(law, psi)
    ironed = None
    if not regular:
        ironed = iron(law.numpy(psi), law.numpy(law.cdf), law.numeric_support(), float(revenue_weight),
                      float(law.low) if law.bounded else 0.0)
    reserve, exact, reserve_method = _reserve(law, psi, ironed)
    return BidderDerivation(bidder, law, phi, psi, regular, method, note, reserve, exact, reserve_method, ironed,
                            time.perf_counter() - started)


def _regularity(law: ValueLaw, psi: sp.Expr) -> tuple[bool, str, str]:
    """Is psi non-decreasing on the support? Symbolic where `solveset` decides the set
    {v : psi'(v) < 0} on the support, numeric on a grid otherwise."""
    slope = sp.diff(psi, VALUE)
    slope = slope if slope.has(sp.erf) else sp.simplify(slope)
    if not slope.has(sp.erf, sp.exp):
        try:
            falling = sp.solveset(slope < 0, VALUE, sp.Interval(law.low, law.high))
        except (NotImplementedError, TypeError, ValueError):
            falling = None
        if isinstance(falling, sp.Set) and not isinstance(falling, sp.ConditionSet):
            if falling is sp.S.EmptySet:
                return True, "symbolic", f"psi'(v) = {_show(slope)} >= 0 on the support"
            return False, "symbolic", f"psi'(v) = {_show(slope)} < 0 on {_show(falling)}"
    low, high = law.numeric_support()
    grid = np.linspace(low, high, REGULARITY_GRID)
    values = law.numpy(psi)(grid)
    drop = np.diff(values)
    scale = max(1.0, float(np.max(np.abs(values))))
    method = f"numeric (grid of {REGULARITY_GRID} points)"
    if np.all(drop >= -1e-12 * scale):
        return True, method, "psi is non-decreasing at every grid point of the support"
    where = grid[1:][drop < -1e-12 * scale]
    return False, method, f"psi decreases on part of [{where.min():.4g}, {where.max():.4g}]"


def _reserve(law: ValueLaw, psi: sp.Expr, ironed: IronedValue | None) -> tuple[float, sp.Expr | None, str]:
    """r with psi(r) = 0 on the support (clamped to it): psi < 0 below r, >= 0 above."""
    low, high = law.numeric_support()
    ranking = ironed if ironed is not None else law.numpy(psi)
    at_low, at_high = float(ranking(np.array(low))), float(ranking(np.array(high)))
    if at_low >= 0:
        return (float(law.low) if law.bounded else low), (law.low if law.bounded else None), \
            "psi >= 0 on the whole support: no bidder is excluded (reserve at the lowest value)"
    if at_high < 0:
        return high, (law.high if law.bounded else None), "psi < 0 on the whole support: the item is never sold"
    exact = None
    if not psi.has(sp.erf):
        try:
            roots = sp.solveset(psi, VALUE, sp.Interval(law.low, law.high))
        except (NotImplementedError, TypeError, ValueError):
            roots = None
        if isinstance(roots, sp.FiniteSet) and len(roots) == 1:
            exact = sp.nsimplify(next(iter(roots))) if next(iter(roots)).is_Rational else next(iter(roots))
    if exact is not None and (ironed is None or not _inside_ironing(float(exact), ironed)):
        return float(exact), exact, "symbolic: psi(r) = 0 solved by SymPy"
    root = brentq(lambda x: float(ranking(np.array(x))), low, high, xtol=1e-14, rtol=1e-14)
    why = "an ironing interval straddles 0" if exact is not None else "SymPy found no closed-form root"
    return root, None, f"numeric: root of the {'ironed ' if ironed is not None else ''}psi by Brent's method ({why})"


def _inside_ironing(value: float, ironed: IronedValue) -> bool:
    return any(start <= value <= end for start, end, _ in ironed.intervals)


DISPLAY_VALUE = sp.Symbol("v", real=True)


def _show(expr) -> str:
    """An expression with the value Dummy shown as v."""
    return str(expr.xreplace({VALUE: DISPLAY_VALUE}) if hasattr(expr, "xreplace") else expr)


@dataclass(frozen=True)
class MyersonAuction:
    model: AuctionDesignModel
    bidders: tuple[BidderDerivation, ...]
    revenue_weight: sp.Expr

    @property
    def symmetric(self) -> bool:
        return self.model.symmetric


def derive_myerson(model: AuctionDesignModel) -> MyersonAuction:
    """Myerson's auction for every bidder of a single-item spec; a positioned `SpecError` for a
    law without a density, `NotSingleParameter` for several items."""
    if not model.single_parameter:
        raise NotSingleParameter(
            f"{model.name} sells {model.items} items ({model.valuation}): Myerson's derivation is for one item, "
            "one private value per bidder", hint=f"multi-item mechanisms are learned: `mechdsl train` trains and certifies "
            f"one; `--set {model.item_size}=1` gives the one-item auction")
    weight = sp.Rational(repr(model.objective.revenue_weight))
    derived: dict = {}
    out = []
    for bidder in model.bidders:
        key = bidder.distributions
        if key not in derived:
            try:
                derived[key] = derive_bidder(bidder, weight)
            except NoDensity:
                raise SpecError(model.path, model.source, [Diagnostic(
                    f"{bidder.distributions[0]} is discrete: Myerson's virtual value v - (1 - F(v))/f(v) needs a "
                    "density", bidder.span, hint="use uniform, loguniform or normal values to derive the optimal "
                                                 "auction")]) from None
        out.append(derived[key] if derived[key].bidder == bidder else
                   BidderDerivation(bidder, *[getattr(derived[key], f) for f in
                                              ("law", "phi", "psi", "regular", "regularity_method", "regularity_note",
                                               "reserve", "reserve_exact", "reserve_method", "ironed")]))
    return MyersonAuction(model, tuple(out), weight)
