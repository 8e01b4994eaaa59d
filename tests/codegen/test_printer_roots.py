"""Roots x**p (0 < p < 1) print with exact values and a finite gradient at x = 0."""

import sympy as sp
import torch

from mechdsl.codegen.printer import TensorPrinter


def _function(expr, x):
    code = TensorPrinter({x: "x"}).doprint(expr)
    return lambda value: eval(code, {"torch": torch, "x": value})  # our own generated code, not spec text


def test_roots_keep_their_values_and_nan_outside_the_domain():
    x = sp.Symbol("x")
    for expr, exponent in ((sp.sqrt(x), 0.5), (x ** sp.Rational(1, 4), 0.25), (x ** 0.75 / 0.75, 0.75)):
        f = _function(expr, x)
        xs = torch.tensor([0.0, 1e-300, 0.3, 4.0, 1e6], dtype=torch.float64)
        scale = 1 / 0.75 if exponent == 0.75 else 1.0
        torch.testing.assert_close(f(xs), scale * xs ** exponent, rtol=1e-15, atol=0.0)
        assert torch.isnan(f(torch.tensor([-1.0], dtype=torch.float64))).all()


def test_root_gradient_is_finite_at_zero_and_exact_elsewhere():
    x = sp.Symbol("x")
    f = _function(x ** sp.Rational(1, 2) + x ** 0.3, x)
    xs = torch.tensor([0.0, 0.25, 2.0], dtype=torch.float64, requires_grad=True)
    f(xs).sum().backward()
    expected = 0.5 * xs.detach() ** -0.5 + 0.3 * xs.detach() ** -0.7
    assert xs.grad[0] == 0.0
    torch.testing.assert_close(xs.grad[1:], expected[1:], rtol=1e-14, atol=0.0)


def test_zero_factor_downstream_of_a_root_gives_no_nan():
    """The stick-breaking pattern s1 = s0 + (hi - s0) d at d = 0 and s0 = 0: d s1 / d s0 picks
    up -d * (d objective / d s1); with sqrt(s1) printed naively that is -0 * inf = NaN."""
    s0, d = sp.symbols("s0 d")
    s1 = s0 + (10 - s0) * d
    code = TensorPrinter({s0: "s0", d: "d"}).doprint(sp.sqrt(s0) + sp.sqrt(s1))
    s0_value = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    d_value = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    eval(code, {"torch": torch, "s0": s0_value, "d": d_value}).sum().backward()
    assert torch.isfinite(s0_value.grad).all() and torch.isfinite(d_value.grad).all()


def test_integer_and_large_powers_print_as_before():
    x, y = sp.symbols("x y")
    printer = TensorPrinter({x: "x", y: "y"})
    assert printer.doprint(x ** 2) == "((x)*(x))"
    assert "where" not in printer.doprint(x ** 1.5)
    assert "where" not in printer.doprint(x ** y)  # exponent of unknown sign: 0**y may be 1 or inf


def test_a_compound_base_is_evaluated_once_and_nests():
    x, y = sp.symbols("x y")
    code = TensorPrinter({x: "x", y: "y"}).doprint(sp.sqrt(x ** 2 + sp.sqrt(y)))
    assert code.count("x)*(x)") == 1 and code.count(":=") == 1, code
    xs = torch.tensor([0.0, 3.0, -2.0], dtype=torch.float64, requires_grad=True)
    ys = torch.tensor([0.0, 16.0, 0.0], dtype=torch.float64, requires_grad=True)
    value = eval(code, {"torch": torch, "x": xs, "y": ys})
    torch.testing.assert_close(value, torch.tensor([0.0, 13.0 ** 0.5, 2.0], dtype=torch.float64))
    value.sum().backward()
    assert torch.isfinite(xs.grad).all() and torch.isfinite(ys.grad).all()
    torch.testing.assert_close(xs.grad[1:], torch.tensor([3.0 / 13.0 ** 0.5, -1.0], dtype=torch.float64))
