"""Utilities without a closed-form inverse in the payment (issue 29, item 5): the reduction keeps
the payment as the root of u(theta, x, y) = target on the payment's declared bounds.

Stiglitz insurance with log utility: u = (1 - p) log(W - y) + p log(W - L + x - y) minus the
uninsured utility, strictly decreasing in the premium y; SymPy's solve finds no inverse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import brentq

import mechdsl
from mechdsl.cli.main import main
from mechdsl.reduce import ReductionRefused, derive
from mechdsl.reduce.numeric_inverse import PaymentRoot, numpy_root
from mechdsl.reduce.payment_inverse import payment_inverse
from mechdsl.solve.state import evaluate

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "solve" / "specs" / "insurance_log_utility.mech"
W, L = 10.0, 5.0


def u(p, x, y):
    return (1 - p) * np.log(W - y) + p * np.log(W - L + x - y) - (1 - p) * np.log(W) - p * np.log(W - L)


def symbol(name):
    return sp.Symbol(name, real=True)


def test_derive_says_the_premiums_are_inverted_numerically(capsys):
    assert main(["derive", str(SPEC)]) == 0
    out = capsys.readouterr().out
    assert "  y[0] = (root in y of insuree(p[0], x[0], y) = 0 on [0, 5])" in out
    assert "  inverted numerically: y[0], y[1]" in out
    assert main(["derive", "--json", str(SPEC)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["inverted_numerically"] == ["y[0]", "y[1]"]
    assert report["payments"]["y[1]"]["text"].startswith("(root in y of insuree(p[1], x[1], y) = ")
    assert report["type_orientation"]["binding_ir"] == "lowest"
    screen = next(s for s in report["steps"] if s["name"] == "screen period 1")
    assert any("no closed-form inverse" in a and "[0, 5]" in a for a in screen["assumed"])


def test_closed_form_utilities_keep_their_closed_form():
    """Only where SymPy has no inverse: CARA insurance and the bundled contracts stay closed form."""
    for path in (ROOT / "tests" / "solve" / "specs" / "insurance_cara.mech", ROOT / "specs" / "static_contract.mech"):
        d = derive(mechdsl.load(path))
        assert d.numeric_payments == [] and not any(r.has(PaymentRoot) for r in d.rules.values())


def test_least_premiums_are_the_roots_of_the_binding_ir_and_ic():
    """The rules evaluated by NumPy (brentq) equal an independent brentq of the textbook equations."""
    d = derive(mechdsl.load(SPEC))
    rng = np.random.default_rng(1)
    x0 = np.sort(rng.uniform(0, 5, (2, 50)), axis=0)
    values = {"W": np.full(50, W), "L": np.full(50, L), "p[0]": np.full(50, 0.2), "p[1]": np.full(50, 0.4),
              "x[0]": x0[0], "x[1]": x0[1]}
    y0 = evaluate(d.rules[symbol("y[0]")], values)
    y1 = evaluate(d.rules[symbol("y[1]")], {**values, "y[0]": y0})
    want0 = np.array([brentq(lambda y: u(0.2, a, y), -W, W - L + a - 1e-12, xtol=1e-15) for a in x0[0]])
    want1 = np.array([brentq(lambda y: u(0.4, b, y) - u(0.4, a, c), -W, W - L + b - 1e-12, xtol=1e-15)
                      for a, b, c in zip(x0[0], x0[1], want0)])
    assert np.abs(y0 - want0).max() < 1e-12 and np.abs(y1 - want1).max() < 1e-12


def test_derivatives_are_the_implicit_function_theorems():
    """d phi / dx = -u_x / u_y and d phi / dv = 1 / u_y at y = phi: SymPy differentiates through
    the root, and evalf agrees with central differences."""
    model = mechdsl.load(SPEC)
    phi = payment_inverse(model)
    assert phi.numeric
    p, x, v = symbol("p[0]"), symbol("x[0]"), phi.v
    root = phi(p, x, v)
    numbers = {p: 0.3, x: 2.0, v: 0.01, symbol("W"): W, symbol("L"): L}
    y = float(root.xreplace(numbers).evalf())
    u_y = -(1 - 0.3) / (W - y) - 0.3 / (W - L + 2.0 - y)
    u_x = 0.3 / (W - L + 2.0 - y)
    assert float(sp.diff(root, x).xreplace(numbers).evalf()) == pytest.approx(-u_x / u_y, rel=1e-12)
    assert float(sp.diff(root, v).xreplace(numbers).evalf()) == pytest.approx(1 / u_y, rel=1e-12)
    h = 1e-6
    shifted = [float(root.xreplace({**numbers, x: 2.0 + s}).evalf()) for s in (h, -h)]
    assert (shifted[0] - shifted[1]) / (2 * h) == pytest.approx(-u_x / u_y, rel=1e-7)
    assert u(0.3, 2.0, y) == pytest.approx(0.01, abs=1e-15)


def test_without_a_root_in_the_bounds_the_payment_leaves_them():
    """A target above u(p, x, 0): no premium in [0, 5] meets it; one Newton step from y = 0 gives a
    negative premium, which violates the declared bound (never clamped to 0)."""
    phi = payment_inverse(mechdsl.load(SPEC))
    target = u(0.3, 1.0, 0.0) + 0.01
    got = numpy_root(type(phi.expr), target, 0.3, 1.0, L, W)  # slots: p, x, then L, W by name
    slope = -(1 - 0.3) / W - 0.3 / (W - L + 1.0)
    assert got == pytest.approx(0.01 / slope, rel=1e-12) and got < 0  # y = 0 - (u(0) - target) / u_y(0)


def test_a_numeric_inverse_needs_the_payments_bounds(tmp_path):
    source = SPEC.read_text().replace("payment y[K] from insuree in [0, 5]", "payment y[K] from insuree >= 0")
    spec = tmp_path / "unbounded.mech"
    spec.write_text(source)
    with pytest.raises(ReductionRefused, match="a numeric inverse needs the payment's bounds") as refused:
        payment_inverse(mechdsl.load(spec))
    assert "declare the payment's range" in refused.value.hint
