"""The constraint families against an independent numeric computation of V_t(i, r), their
counts, order and the one label scheme."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import mechdsl
from mechdsl.constraints import (EVERY, INCENTIVE, OPTIMAL, TRUTHFUL, Place, Screening, item_subject,
                                 original_constraints)
from mechdsl.lang import load_source
from mechdsl.solve.state import sample_states, state_at

ROOT = Path(__file__).resolve().parents[2]


def _lifetime_source() -> str:
    return (ROOT / "specs" / "two_period.mech").read_text().replace("constraint ir per_period", "constraint ir lifetime")


def test_label_scheme():
    assert str(Place("IR", item_subject(0), 2, (1,))) == "IR period 2 after reports [1]: type 0"
    assert str(Place("IIC", item_subject(0, 1), 1)) == "IIC period 1: type 0 vs report 1"
    assert str(Place("lifetime IR", item_subject(2))) == "lifetime IR: type 2"
    assert str(Place("IC", item_subject(EVERY, EVERY), 2, EVERY)) == \
        "IC period 2 after every history: every type vs every report"
    assert str(Place("bound", "y[0] >= 0")) == "bound: y[0] >= 0"


@pytest.mark.parametrize("K", [2, 3])
def test_counts_and_order_of_a_two_period_contract(K):
    model = mechdsl.load("specs/two_period.mech", {"K": K})
    instances = original_constraints(model)
    kinds = [c.family for c in instances]
    assert kinds.count("ir") == K + K * K                 # per period, every history and type
    assert kinds.count("iic") == K * (K - 1)              # period 1: every type vs every other report
    assert kinds.count("ic") == K * K * (K - 1)           # period 2, every history
    assert kinds.count("monotone") == K - 1               # `constraint monotone T1`
    assert [c.name for c in instances[:K + 1]] == (
        ["IR period 1: type 0"] + [f"IIC period 1: type 0 vs report {r}" for r in range(1, K)] + ["IR period 1: type 1"])
    with_bounds = original_constraints(model, bounds=True)
    uppers = sum(v.upper is not None for v in model.variables.values() for _ in v.symbols())
    assert len(with_bounds) == len(instances) + len(model.decision_symbols()) + uppers
    assert len({c.name for c in with_bounds}) == len(with_bounds)  # labels are unique


def test_lifetime_ir_replaces_the_per_period_ir():
    model = load_source(_lifetime_source(), "lifetime.mech")
    kinds = [c.family for c in original_constraints(model)]
    assert "ir" not in kinds and kinds.count("lifetime ir") == model.K


def _reference_values(model, state, contract, optimal):
    """V_t(i, r) at every (t, h, i, r) by direct recursion on floats (independent of SymPy)."""
    s = Screening(model)
    u = model.utility
    numbers = {sp.Symbol(k, real=True): v for k, v in {**state, **contract}.items()}

    def util(t, i, h, r):
        return float(u.expr.xreplace({u.type_symbol: numbers[s.theta(t, i)], u.allocation_symbol: numbers[s.allocation(t, h, r)],
                                      u.payment_symbol: numbers[s.payment(t, h, r)]}).xreplace(numbers))

    def value(t, i, h, r):
        if t == s.periods:
            return util(t, i, h, r)
        later = 0.0
        for j in range(s.K):
            options = [value(t + 1, j, h + (r,), q) for q in range(s.K)]
            later += float(numbers[s.prob(t + 1, i, j)]) * (max(options) if optimal else options[j])
        return util(t, i, h, r) + float(s.discount(t + 1).xreplace(numbers)) * later

    return value


@pytest.mark.parametrize("spec", ["specs/two_period.mech", "examples/three_period.mech", "lifetime"])
@pytest.mark.parametrize("later", [TRUTHFUL, OPTIMAL])
def test_item_families_equal_the_direct_recursion(spec, later):
    model = load_source(_lifetime_source(), "lifetime.mech") if spec == "lifetime" else mechdsl.load(spec)
    rng = np.random.default_rng(3)
    state = state_at(sample_states(model, 1, rng), 0)
    contract = {s.name: float(rng.uniform(0, 10)) for s in model.decision_symbols()}
    value = _reference_values(model, state, contract, later == OPTIMAL)
    s = Screening(model)
    numbers = {sp.Symbol(k, real=True): sp.Float(v) for k, v in {**state, **contract}.items()}
    checked = 0
    for t in range(1, s.periods + 1):
        for h, i in itertools.product(s.histories(t), range(s.K)):
            for r in range(s.K):
                if r != i:
                    g = float(INCENTIVE.pair(s, t, h, i, r, later).g.xreplace(numbers))
                    assert g == pytest.approx(value(t, i, h, i) - value(t, i, h, r), rel=1e-9, abs=1e-9)
                    checked += 1
    lifetime = [c for c in original_constraints(model, later) if c.family == "lifetime ir"]
    for c in lifetime:
        assert float(c.g.xreplace(numbers)) == pytest.approx(value(1, c.type, (), c.type), rel=1e-9, abs=1e-9)
    assert checked == sum(len(s.histories(t)) for t in range(1, s.periods + 1)) * s.K * (s.K - 1)


def test_declared_and_bound_instances():
    source = (ROOT / "specs" / "static_contract.mech").read_text().replace(
        "constraint ic ", "constraint ic\nconstraint r[1] - r[0] == 3\n", 1)
    model = load_source(source, "declared.mech")
    declared = [c for c in original_constraints(model, bounds=True) if c.family == "declared"]
    r0, r1 = model.variables["r"].symbol(0), model.variables["r"].symbol(1)
    assert [sp.expand(c.g) for c in declared] == [r1 - r0 - 3, r0 - r1 + 3]   # g == 0 as g >= 0 and -g >= 0
    assert declared[1].name.endswith("(<=)")
    bounds = [c for c in original_constraints(model, bounds=True) if c.family == "bound"]
    for c in bounds:
        symbol, side, value = c.bound
        assert c.g == (symbol - value if side == "lower" else value - symbol)
