"""The NumPy certificate (produced from `mechdsl.constraints`) against a direct NumPy
recursion of every original constraint, and the DAG program against `lambdify`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import mechdsl
from mechdsl.constraints import Screening
from mechdsl.lang import load_source
from mechdsl.solve.certificate import SlackProgram, certify, compile_certificate
from mechdsl.solve.state import evaluate, sample_states

ROOT = Path(__file__).resolve().parents[2]
N = 300


def _direct_slacks(model, values, contract) -> dict[str, np.ndarray]:
    """Every original slack by label: IR, IC / IIC with optimal later play (max over later
    reports), bounds, declared constraints, by a recursion over arrays."""
    s = Screening(model)
    u = model.utility
    others = sorted(u.expr.free_symbols - {u.type_symbol, u.allocation_symbol, u.payment_symbol}, key=lambda x: x.name)
    u_fn = sp.lambdify([u.type_symbol, u.allocation_symbol, u.payment_symbol, *others], u.expr, "numpy")
    n = len(next(iter(contract.values())))

    def util(t, i, h, r):
        return np.broadcast_to(u_fn(values[s.theta(t, i).name], contract[s.allocation(t, h, r).name],
                                    contract[s.payment(t, h, r).name], *(values[o.name] for o in others)), (n,))

    @lru_cache(maxsize=None)
    def continuation(t, i, h, r):
        if t == s.periods:
            return np.zeros(n)
        best = [np.max([util(t + 1, j, h + (r,), q) + continuation(t + 1, j, h + (r,), q) for q in range(s.K)], axis=0)
                for j in range(s.K)]
        discount = evaluate(s.discount(t + 1), values) if s.discount(t + 1).free_symbols else float(s.discount(t + 1))
        return discount * sum(values[s.prob(t + 1, i, j).name] * best[j] for j in range(s.K))

    out: dict[str, np.ndarray] = {}
    lifetime = model.ir_scope() == "lifetime"
    for t in range(1, s.periods + 1):
        kind = "IIC" if t < s.periods else "IC"
        for h in s.histories(t):
            where = f"period {t}" + (f" after reports {list(h)}" if h else "")
            for i in range(s.K):
                stay = util(t, i, h, i) + continuation(t, i, h, i)
                if not lifetime:
                    out[f"IR {where}: type {i}"] = util(t, i, h, i)
                elif t == 1:
                    out[f"lifetime IR: type {i}"] = stay
                for r in range(s.K):
                    if r != i:
                        out[f"{kind} {where}: type {i} vs report {r}"] = stay - util(t, i, h, r) - continuation(t, i, h, r)
    for v in model.variables.values():
        for symbol in v.symbols():
            out[f"bound: {symbol} >= {v.lower:g}"] = contract[symbol.name] - v.lower
            if v.upper is not None:
                out[f"bound: {symbol} <= {v.upper:g}"] = v.upper - contract[symbol.name]
    return out


def _declared_source() -> str:
    declared = "constraint ic\nconstraint s[k] >= 400 for k in K\nconstraint monotone r\n"
    return (ROOT / "specs" / "static_contract.mech").read_text().replace("constraint ic ", declared, 1)


def _lifetime_source() -> str:
    return (ROOT / "specs" / "two_period.mech").read_text().replace("constraint ir per_period", "constraint ir lifetime")


MODELS = {
    "two_period": lambda: mechdsl.load("specs/two_period.mech"),
    "two_period K=3": lambda: mechdsl.load("specs/two_period.mech", {"K": 3}),
    "static_declared": lambda: load_source(_declared_source(), "declared.mech"),
    "three_period": lambda: mechdsl.load("examples/three_period.mech"),
    "lifetime": lambda: load_source(_lifetime_source(), "lifetime.mech"),
    "monopoly": lambda: mechdsl.load("examples/monopoly.mech"),
}


@pytest.mark.parametrize("name", MODELS)
def test_certificate_equals_the_direct_recursion(name):
    model = MODELS[name]()
    rng = np.random.default_rng(11)
    values = sample_states(model, N, rng)
    contract = {s.name: rng.uniform(-1.0, 25.0, N) for s in model.decision_symbols()}
    compiled = compile_certificate(model)
    merged = {**values, **contract}
    slacks = dict(zip(compiled.labels, compiled.program([merged[x] for x in compiled.program.inputs])))
    direct = _direct_slacks(model, values, contract)
    assert set(direct) <= set(slacks)
    for label, expected in direct.items():
        actual = np.broadcast_to(np.asarray(slacks[label], dtype=float), (N,))
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-9 * (1 + np.abs(expected).max()), err_msg=label)
    declared = set(slacks) - set(direct)  # monotone and plain constraints, each g of the spec on numbers
    assert all(label.startswith(("monotone: ", "line ")) for label in declared)
    certificate = certify(model, values, contract)
    matrix = np.stack([np.broadcast_to(np.asarray(v, dtype=float), (N,)) for v in slacks.values()])
    assert certificate.worst == pytest.approx(matrix.min()) and certificate.constraints == len(slacks)
    np.testing.assert_allclose(certificate.per_sample, matrix.min(axis=0))


def test_slack_program_equals_lambdify_and_shares_subexpressions():
    x, y, z = sp.symbols("x y z", real=True)
    shared = sp.Max(x * y, sp.exp(z) - 1, evaluate=False)
    expressions = [shared + 2 * x, sp.log(1 + x ** 2) * shared, sp.Piecewise((x, y > 0), (z, True)) + shared,
                   sp.Integer(3), sp.Min(x, y, z)]
    program = SlackProgram(expressions)
    rng = np.random.default_rng(0)
    named = {"x": rng.normal(size=50), "y": rng.normal(size=50), "z": rng.normal(size=50)}
    got = program([named[n] for n in program.inputs])
    for expr, value in zip(expressions, got):
        reference = sp.lambdify([x, y, z], expr, [{"Max": np.maximum, "Min": np.minimum}, "numpy"])(
            named["x"], named["y"], named["z"])
        np.testing.assert_allclose(np.broadcast_to(value, (50,)), np.broadcast_to(reference, (50,)), rtol=1e-12)
    # the Max node is one step, however many expressions read it
    maxima = [step for step in program._steps if step[0] == program._slots[shared]]
    assert len(maxima) == 1
