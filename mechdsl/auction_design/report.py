"""What `mechdsl derive` and `mechdsl solve` print for an auction_design spec: Myerson's
derivation (virtual values, regularity, reserves, ironing, the rules, the expected revenue)
and its certificate on sampled profiles, as text or JSON."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from mechdsl.auction_design.certificate import GRID, Certificate, certify
from mechdsl.auction_design.distributions import VALUE
from mechdsl.auction_design.myerson import DISPLAY_VALUE, MyersonAuction, _show, derive_myerson
from mechdsl.auction_design.revenue import Expectation, expected

MAX_VALUES_SAMPLED = 2_000_000   # profiles x bidders drawn by solve
MAX_REGRET_CELLS = 2_000_000     # profiles x grid points x bidders of one bidder's brute-force search
MAX_REGRET_BIDDERS = 20          # bidders searched (one per distinct law first)


@dataclass(frozen=True)
class Derived:
    auction: MyersonAuction
    revenue: Expectation
    welfare: Expectation
    second_price: Expectation

    @property
    def objective_value(self) -> float:
        w = float(self.auction.revenue_weight)
        return w * self.revenue.value + (1 - w) * self.welfare.value


def derive(model) -> Derived:
    auction = derive_myerson(model)
    return Derived(auction, expected(auction, "revenue"), expected(auction, "welfare"),
                   expected(auction, "revenue", reserve=False))


def _groups(auction: MyersonAuction) -> list[list]:
    """Bidders grouped by value law, in order of first appearance."""
    groups: dict = {}
    for b in auction.bidders:
        groups.setdefault(b.bidder.distributions, []).append(b)
    return list(groups.values())


def allocation_rule(auction: MyersonAuction) -> str:
    word = "phi_i" if auction.revenue_weight == 1 else "psi_i"
    if auction.symmetric and auction.bidders[0].regular:
        return (f"the item goes to the highest bidder if its bid is at least the reserve r* = "
                f"{auction.bidders[0].reserve:.6g} (the highest {word}(b_i), {word} being the same increasing "
                "function for every bidder), else it is not sold")
    ironed = any(not b.regular for b in auction.bidders)
    return (f"the item goes to a bidder with the highest {'ironed ' if ironed else ''}{word}(b_i) if it is >= 0 "
            "(b_i >= r_i), else it is not sold; ties are broken uniformly at random"
            + ("" if auction.symmetric else "; with different laws the highest bid does not always win"))


def payment_rule(auction: MyersonAuction) -> str:
    if auction.symmetric and auction.bidders[0].regular:
        return "the winner pays max(r*, the second-highest bid): a second-price auction with reserve r*"
    ironed = any(not b.regular for b in auction.bidders)
    return ("the winner i pays its threshold, the least bid that still wins: "
            "max(r_i, psi_i^-1(max over j != i of psi_j(b_j)))"
            + ("; a bidder tied on an ironed flat pays by Myerson's payment identity b x(b) - int x" if ironed else ""))


def derive_json(derived: Derived) -> dict:
    auction = derived.auction
    model = auction.model
    bidders = []
    for b in auction.bidders:
        bidders.append({
            "name": b.bidder.name, "distribution": str(b.law.distribution),
            "cdf": _show(b.law.cdf), "pdf": _show(b.law.pdf),
            "virtual_value": _show(b.phi), "virtual_value_srepr": sp.srepr(b.phi.xreplace({VALUE: DISPLAY_VALUE})),
            "ranking": _show(b.psi), "regular": b.regular, "regularity_method": b.regularity_method,
            "regularity": b.regularity_note, "reserve": b.reserve,
            "reserve_closed_form": None if b.reserve_exact is None else str(b.reserve_exact),
            "reserve_method": b.reserve_method,
            "ironing": None if b.ironed is None else {
                "method": f"numeric: lower convex envelope of the revenue curve in quantile space, grid step "
                          f"{b.ironed.grid_step:.3g}",
                "intervals": [{"from": s, "to": e, "value": v} for s, e, v in b.ironed.intervals]},
        })
    return {
        "auction": model.name, "bidders": len(auction.bidders), "items": model.items,
        "symmetric": auction.symmetric, "objective": str(model.objective),
        "revenue_weight": float(auction.revenue_weight),
        "expected_revenue": derived.revenue.value, "revenue": derived.revenue.as_json(),
        "expected_welfare": derived.welfare.value, "welfare": derived.welfare.as_json(),
        "objective_value": derived.objective_value,
        "second_price_without_reserve": {"expected_revenue": derived.second_price.value,
                                         "revenue": derived.second_price.as_json()},
        "allocation_rule": allocation_rule(auction), "payment_rule": payment_rule(auction),
        "virtual_values": bidders,
    }


SHOWN_DIGITS = 60  # a longer closed form (n = 1000 bidders: a 600-digit rational) is shown by its value


def _expectation_text(e: Expectation) -> str:
    if e.exact is not None and len(str(e.exact)) > SHOWN_DIGITS:
        return f"{e.value:.12g}  ({e.method}; {len(str(e.exact))} characters, in --json)"
    if e.exact is not None:
        shown = str(e.exact)
        return f"{shown} = {e.value:.12g}  ({e.method})" if shown != f"{e.value:g}" else f"{shown}  ({e.method})"
    return f"{e.value:.12g} +- {e.error:.2g}  ({e.method})"


def derive_text(derived: Derived) -> str:
    auction = derived.auction
    model = auction.model
    n = len(auction.bidders)
    lines = [f"Myerson's optimal auction for {model.name}: {n} bidder{'s' * (n != 1)}, one item, "
             f"{'symmetric' if auction.symmetric else 'asymmetric'}, maximize {model.objective}", ""]
    w = auction.revenue_weight
    for group in _groups(auction):
        b = group[0]
        names = ", ".join(x.bidder.name for x in group) if len(group) <= 6 else \
            f"{group[0].bidder.name} .. {group[-1].bidder.name} ({len(group)} bidders)"
        lines += [f"bidders {names}: value ~ {b.law.distribution}",
                  f"  F(v) = {_show(b.law.cdf)},  f(v) = {_show(b.law.pdf)}",
                  f"  virtual value phi(v) = v - (1 - F(v))/f(v) = {_show(b.phi)}"]
        if w != 1:
            lines.append(f"  ranking psi(v) = v - {w} (1 - F(v))/f(v) = {_show(b.psi)}")
        lines.append(f"  regular: {'yes' if b.regular else 'no'} ({b.regularity_method}: {b.regularity_note})")
        if b.ironed is not None:
            lines.append(f"  ironed (numeric, grid step {b.ironed.grid_step:.3g}): "
                         + ("; ".join(f"constant {v:.6g} on [{s:.6g}, {e:.6g}]" for s, e, v in b.ironed.intervals)
                            or "no interval found on the grid"))
        exact = f"{b.reserve_exact} = " if b.reserve_exact is not None and str(b.reserve_exact) != f"{b.reserve:g}" else ""
        lines += [f"  reserve r* = {exact}{b.reserve:.12g}  ({b.reserve_method})", ""]
    lines += [f"allocation: {allocation_rule(auction)}", f"payment: {payment_rule(auction)}", "",
              f"expected revenue = {_expectation_text(derived.revenue)}",
              f"expected welfare = {_expectation_text(derived.welfare)}"]
    if w != 1:
        lines.append(f"objective {model.objective} = {derived.objective_value:.12g}")
    lines.append(f"second price without reserve (comparison): revenue {_expectation_text(derived.second_price)}")
    return "\n".join(lines)


def solve(model, seed: int) -> tuple[Derived, Certificate]:
    derived = derive(model)
    n = len(derived.auction.bidders)
    profiles = max(1000, min(100_000, MAX_VALUES_SAMPLED // n))
    regret_profiles = max(5, min(500, MAX_REGRET_CELLS // (GRID * n)))
    return derived, certify(derived.auction, profiles, seed, regret_profiles, bidders=_searched(derived.auction))


def _searched(auction: MyersonAuction) -> tuple[int, ...]:
    """The bidders whose misreports are searched: all, or (beyond MAX_REGRET_BIDDERS) one per
    distinct law first, then the rest in order up to the cap."""
    n = len(auction.bidders)
    if n <= MAX_REGRET_BIDDERS:
        return tuple(range(n))
    first = {}
    for i, b in enumerate(auction.bidders):
        first.setdefault(b.bidder.distributions, i)
    chosen = list(first.values())
    chosen += [i for i in range(n) if i not in chosen]
    return tuple(sorted(chosen[:MAX_REGRET_BIDDERS]))


def solve_json(derived: Derived, certificate: Certificate, seed: int) -> dict:
    return {"auction": derived.auction.model.name, "seed": seed, "mechanism": "myerson",
            "expected_revenue": derived.revenue.value, "revenue": derived.revenue.as_json(),
            "sampled_revenue": certificate.revenue, "sampled_revenue_standard_error": certificate.revenue_se,
            "reserves": {b.bidder.name: b.reserve for b in derived.auction.bidders},
            "certificate": certificate.as_json()}


def solve_text(derived: Derived, certificate: Certificate, seed: int) -> str:
    c = certificate
    gap = abs(c.revenue - derived.revenue.value) / c.revenue_se if c.revenue_se > 0 else 0.0
    searched = f"{len(c.bidders)} of {len(derived.auction.bidders)} bidders" if len(c.bidders) < len(
        derived.auction.bidders) else "every bidder"
    return "\n".join([
        f"Myerson's auction of {derived.auction.model.name} on {c.profiles} sampled value profiles (seed {seed})",
        f"  revenue  {c.revenue:.6g} +- {c.revenue_se:.2g} (Monte Carlo, 1 standard error); expected "
        f"{_expectation_text(derived.revenue)}: {gap:.1f} standard errors apart",
        f"  welfare  {c.welfare:.6g} (Monte Carlo); expected {derived.welfare.value:.6g}",
        "  reserves " + ", ".join(f"{b.bidder.name} {b.reserve:.6g}" for b in derived.auction.bidders[:8])
        + (" ..." if len(derived.auction.bidders) > 8 else ""),
        f"  certificate: ex post IR: worst utility {c.worst_ir:.3g}, {c.ir_violations} violation(s); "
        f"DSIC: max regret {c.max_regret:.3g} (mean {c.mean_regret:.3g}) over {c.regret_profiles} profiles x "
        f"{c.grid} misreports on a grid, {searched}: {'holds' if c.holds else 'FAILS'} "
        f"(tolerance {np.format_float_positional(1e-9)})",
    ])
