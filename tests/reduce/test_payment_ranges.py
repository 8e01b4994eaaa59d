"""`mechdsl.reduce.payment_ranges` against the unreduced constraint set: payments built in
order from their ranges, y = floor + d (max(ceiling, floor) - floor), give a contract that
passes every original constraint (`mechdsl.solve.certificate.certify`) exactly when every
range on the way was non-empty (floor <= ceiling), on random states, allocations and d."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from mechdsl.lang import load_file
from mechdsl.reduce import derive
from mechdsl.solve.certificate import certify
from mechdsl.solve.state import sample_states

N = 3000


def _lambdify(expr):
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    return symbols, sp.lambdify(symbols, expr, modules=[{"Max": np.maximum, "Min": np.minimum}, "numpy"])


@pytest.mark.parametrize("spec,sizes", [("specs/two_period.mech", {}), ("specs/two_period.mech", {"K": 3}),
                                        ("examples/three_period.mech", {})])
def test_ranges_are_exactly_the_feasible_payments(spec, sizes):
    model = load_file(spec, sizes)
    d = derive(model)
    rng = np.random.default_rng(0)
    values = sample_states(model, N, rng)
    for variable in model.variables.values():
        if variable.kind != "allocation":
            continue
        for row in np.ndindex(*variable.shape[:-1]):  # monotone along the last index (chains of the env)
            draws = np.sort(rng.uniform(variable.lower, variable.upper, (N, variable.shape[-1])), axis=1)
            for k in range(variable.shape[-1]):
                values[variable.symbol(*row, k).name] = draws[:, k]
    nonempty = np.ones(N, dtype=bool)

    def at(expr):
        symbols, function = _lambdify(expr)
        return np.broadcast_to(function(*(values[s.name] for s in symbols)), (N,)).astype(float)

    for symbol, r in d.payment_ranges.items():
        floor = at(r.floor)
        ceiling = at(r.ceiling) if r.ceiling is not None else floor + at(r.scale)
        nonempty &= ceiling >= floor - 1e-9 * np.maximum(1, np.abs(floor))
        values[symbol.name] = floor + rng.uniform(0, 1, N) * np.maximum(ceiling - floor, 0)
    contract = {s.name: values[s.name] for s in model.decision_symbols()}
    feasible = certify(model, values, contract).violation() <= 1e-7
    assert 0.05 < nonempty.mean() < 0.999  # both cases occur
    np.testing.assert_array_equal(feasible, nonempty)
