"""Piecewise expressions print as nested torch.where and evaluate like SymPy."""

import numpy as np
import sympy as sp
import torch

from mechdsl.codegen.printer import TensorPrinter


def test_piecewise_matches_sympy():
    x, y = sp.symbols("x y", real=True)
    expr = sp.Piecewise((x ** 2, x < -1), (2 * y, x < 1), (3.0, True))
    code = TensorPrinter({x: "x", y: "y"}).doprint(expr)
    assert code.count("torch.where") == 2
    xs = torch.linspace(-3, 3, 61, dtype=torch.float64)
    ys = torch.linspace(0, 1, 61, dtype=torch.float64)
    value = eval(code, {"torch": torch, "x": xs, "y": ys})  # our own generated code, not spec text
    reference = sp.lambdify([x, y], expr, "numpy")(xs.numpy(), ys.numpy())
    np.testing.assert_allclose(value.numpy(), reference)


def test_piecewise_without_default_gives_nan():
    x = sp.Symbol("x", real=True)
    code = TensorPrinter({x: "x"}).doprint(sp.Piecewise((x, x > 0)))
    value = eval(code, {"torch": torch, "x": torch.tensor([-1.0, 2.0], dtype=torch.float64)})
    assert torch.isnan(value[0]) and value[1] == 2.0
