"""Derive scales with the number of types: K = 30 of the static contract finishes (the
display's `sp.simplify` of the chained closed forms and the per-payment `count_ops` once made
K = 20 hang), and its payments are the least-payment recursion evaluated independently."""

import numpy as np
import sympy as sp

import mechdsl
from mechdsl.cli.derive_cmd import payment_display
from mechdsl.reduce import derive
from mechdsl.reduce.derivation import fewer_ops_than

K = 30


def test_derive_static_contract_K30_matches_the_recursive_rule_numerically():
    model = mechdsl.load("specs/static_contract.mech", {"K": K})
    d = derive(model)
    rng = np.random.default_rng(30)
    rho, c, c0 = 0.6, rng.uniform(25, 35), 0.01  # spec constants, drawn unit cost
    psi = np.sort(rng.uniform(50 + 150 * np.arange(K), 100 + 150 * np.arange(K)))
    s = np.sort(rng.uniform(0, 2000, K))  # a random monotone allocation
    # rho psi_0 r_0 - c s_0 - c0 = 0 and rho psi_i r_i - c s_i = rho psi_i r_{i-1} - c s_{i-1}
    expected = np.empty(K)
    expected[0] = (c * s[0] + c0) / (rho * psi[0])
    for i in range(1, K):
        expected[i] = expected[i - 1] + c * (s[i] - s[i - 1]) / (rho * psi[i])
    values = {sp.Symbol("rho", real=True): rho, sp.Symbol("c", real=True): c, sp.Symbol("c0", real=True): c0,
              **{sp.Symbol(f"psi[{k}]", real=True): psi[k] for k in range(K)},
              **{sp.Symbol(f"s[{k}]", real=True): s[k] for k in range(K)}}
    closed = [float(d.payment("r", k).xreplace(values)) for k in range(K)]
    np.testing.assert_allclose(closed, expected, rtol=1e-9)
    shown = payment_display(d)  # the text display, which once simplified every closed form
    assert [symbol.name for symbol, _, _ in shown] == [f"r[{k}]" for k in range(K)]
    assert shown[-1][2].startswith("recursive rule")


def test_fewer_ops_than_agrees_with_count_ops():
    x, y, z = sp.symbols("x y z", real=True)
    for expr in (-x - y, -x + y, -2 * (x + y) * z, (x + y) / (z - 1), sp.Max(x + y, z, 0), sp.exp(-(x + y)),
                 sp.sqrt(x + y) - 3 * (z + x) ** 2, -(x + y) / 3, x):
        ops = sp.count_ops(expr)
        for limit in range(ops + 3):
            assert fewer_ops_than(expr, limit) == (ops < limit), (expr, limit)
