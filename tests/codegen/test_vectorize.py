"""`mechdsl.codegen.vectorize`: sums of isomorphic terms printed once on stacked tensors
compute exactly what the term-by-term print computes (NumPy lambdify as the reference),
including nested sums, leaves constant along an outer sum, functions of sums, Max, and
rows that are not equally spaced (stacked, not sliced)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from mechdsl.codegen.vectorize import vectorized_body

K, B = 3, 64
x = [sp.Symbol(f"x[{i}]", real=True) for i in range(K)]
p = [sp.Symbol(f"p[{i}]", real=True) for i in range(K)]
q = [[sp.Symbol(f"q[{i}, {j}]", real=True) for j in range(K)] for i in range(K)]
y = [[sp.Symbol(f"y[{i}, {j}]", real=True) for j in range(K)] for i in range(K)]
z = [sp.Symbol(f"z[{j}]", real=True) for j in range(K)]
c = sp.Symbol("c", real=True)
# row order of `rows`: p (spaced 1), x (spaced 2, interleaved with z), q, y; c a plain local
LAYOUT = [p[0], p[1], p[2], x[0], z[0], x[1], z[1], x[2], z[2]] + [s for r in q for s in r] + [s for r in y for s in r]

CASES = {
    "flat": sum(p[i] * (200 - 200 * sp.exp(-sp.Rational(1, 40) * x[i]) - c * x[i]) for i in range(K)),
    "nested": sum(p[i] * sum(q[i][j] * (sp.log(1 + y[i][j] ** 2) - y[i][j] / 2) for j in range(K)) for i in range(K)),
    "leaf constant along the outer sum": sum(p[i] * sum(z[j] * sp.sqrt(1 + y[i][j] ** 2) for j in range(K))
                                             for i in range(K)),
    "function of a sum": sp.exp(sum(x[i] * p[i] / 10 for i in range(K))) + c,
    "max": sum(sp.Max(0, x[i] - 2 * p[i] * x[i] + c) * p[i] for i in range(K)),
    "products": sp.Mul(*[(1 + x[i] * p[i]) for i in range(K)]),
}


def _evaluate(body, names, values):
    scope = {"torch": torch, **{names[s]: values[s] for s in names}}
    scope["rows"] = torch.stack([values[s] for s in LAYOUT])
    for local, code in body.assignments:
        scope[local] = eval(code, scope)  # noqa: S307 - our own generated code
    return eval(body.results[0], scope)  # noqa: S307


@pytest.mark.parametrize("case", sorted(CASES))
def test_vectorised_code_computes_the_expression(case):
    expr = CASES[case]
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    names = {s: f"v{k}" for k, s in enumerate(sorted(set(LAYOUT) | {c}, key=lambda s: s.name))}
    views = {s: ("rows", k) for k, s in enumerate(LAYOUT)}
    body = vectorized_body(expr, names, views, prefix="t")
    generator = torch.Generator().manual_seed(0)
    values = {s: 0.5 + torch.rand(B, generator=generator, dtype=torch.float64) for s in names}
    got = _evaluate(body, names, values)
    reference = sp.lambdify(symbols, expr, modules=[{"Max": np.maximum}, "numpy"])
    expected = np.broadcast_to(reference(*(values[s].numpy() for s in symbols)), (B,))
    assert got.shape == (B,)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    code = "\n".join(c for _, c in body.assignments) + body.results[0]
    if case != "products":
        assert ".sum(0)" in code, code  # the copies were stacked, not printed one by one


def test_equally_spaced_rows_are_sliced_and_others_stacked():
    names = {s: f"v{k}" for k, s in enumerate(sorted(set(LAYOUT) | {c}, key=lambda s: s.name))}
    views = {s: ("rows", k) for k, s in enumerate(LAYOUT)}
    body = vectorized_body(CASES["flat"], names, views)
    code = "\n".join(c for _, c in body.assignments)
    assert "rows[0:3]" in code and "rows[3:8:2]" in code and "torch.stack" not in code
    scrambled = {s: ("rows", k) for k, s in zip((5, 1, 7), x)} | {s: ("rows", k) for k, s in enumerate(p)}
    code = "\n".join(c for _, c in vectorized_body(CASES["flat"], names, scrambled).assignments)
    assert "torch.stack" in code


def test_single_terms_are_printed_plainly():
    names = {x[0]: "a", p[0]: "b"}
    body = vectorized_body(x[0] * p[0] + 1, names, {})
    assert body.assignments == () and ".sum(" not in body.results[0]
