"""The derived payments of specs/two_period.mech against Theorem 2 and the certificate."""

import numpy as np
import pytest
import sympy as sp

import mechdsl
from mechdsl.reduce import derive
from mechdsl.solve.certificate import certify
from mechdsl.solve.state import evaluate, sample_states


def theorem2(K, k, i):
    """Eq. (35) of dynamic-contract-edmsac.txt, 0-based: R2[k, i] after period-1 report k."""
    c, E = sp.Symbol("c", real=True), sp.Symbol("E", real=True)
    th = [sp.Symbol(f"theta2[{j}]", real=True) for j in range(K)]
    T = [sp.Symbol(f"T2[{k}, {j}]", real=True) for j in range(K)]
    return (c * T[0] + E) / th[0] + c * sum((T[j] - T[j - 1]) / th[j] for j in range(1, i + 1))


@pytest.mark.parametrize("K", [2, 3, 4, 5])
def test_period2_payments_equal_theorem2(K):
    model = mechdsl.load("specs/two_period.mech", {"K": K})
    d = derive(model)
    for k in range(K):
        for i in range(K):
            derived = d.payment("R2", k, i)
            assert sp.simplify(derived - theorem2(K, k, i)) == 0


def random_monotone_allocations(model, n, rng):
    out = {}
    for v in model.variables.values():
        if v.kind == "allocation":
            draws = np.sort(rng.uniform(v.lower, v.upper, (n, *v.shape)), axis=-1)
            for index, symbol in zip(np.ndindex(*v.shape), v.symbols()):
                out[symbol.name] = draws[(slice(None), *index)]
    return out


@pytest.mark.parametrize("K", [2, 3])
def test_period1_least_payments_are_certified(K):
    """Period-1 payments are never compared with the paper's eq. (40); the certificate
    checks every original constraint the reduction claims to satisfy."""
    model = mechdsl.load("specs/two_period.mech", {"K": K})
    d = derive(model)
    rng = np.random.default_rng(7)
    states = sample_states(model, 400, rng)
    contract = random_monotone_allocations(model, 400, rng)
    values = {**states, **contract}
    for symbol, rule in d.rules.items():
        contract[symbol.name] = evaluate(rule, values)
        values[symbol.name] = contract[symbol.name]
    residual_ok = np.ones(400, dtype=bool)
    for c in d.residual:  # upward IIC may fail: those allocations are infeasible
        if c.family == "iic":
            residual_ok &= evaluate(c.g, values) >= -1e-9
    cert = certify(model, states, contract)
    assert residual_ok.sum() > 50
    assert cert.per_sample[residual_ok].min() >= -1e-7
    # and where an upward IIC fails, the certificate sees a violated original constraint
    if (~residual_ok).any():
        assert cert.per_sample[~residual_ok].max() < 0


def test_derivation_lists_residual_and_single_crossing():
    d = derive(mechdsl.load("specs/two_period.mech"))
    assert d.single_crossing.holds and d.single_crossing.method == "symbolic"
    assert [(c.name, c.type, c.report) for c in d.residual if c.family == "iic"] == [
        ("IIC period 1: type 0 vs report 1", 0, 1)]
    assert [s.name for s in d.steps] == ["screening preconditions", "truthful continuation",
                                         "screen period 2", "screen period 1", "declared constraints",
                                         "payment ranges"]
