"""examples/monopoly.mech (Mussa-Rosen screening, a price the consumer pays) solves to the
textbook closed form, computed here independently in NumPy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mechdsl.lang import load_source
from mechdsl.reduce import derive
from mechdsl.solve.exact import solve, solve_reduced
from mechdsl.solve.state import sample_states, state_at

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "monopoly.mech"


def closed_form(theta, p, c):
    """Optimal menu of the K-type monopoly with u = theta q - t and cost c q^2 / 2, types
    ascending, virtual valuations monotone (no ironing):
        nu_k = theta_k - (sum_{j>k} p_j / p_k)(theta_{k+1} - theta_k),  q_k = max(0, nu_k) / c,
    so nu_{K-1} = theta_{K-1} (the top type's quality is efficient). Prices make the lowest
    type's IR and every local downward IC bind:
        t_0 = theta_0 q_0,  t_k = t_{k-1} + theta_k (q_k - q_{k-1}).
    Derivation: substitute these prices into sum_k p_k (t_k - c q_k^2 / 2); the coefficient
    of q_k is p_k theta_k - (theta_{k+1} - theta_k) sum_{j>k} p_j = p_k nu_k, so the profit is
    sum_k p_k (nu_k q_k - c q_k^2 / 2), maximised pointwise over q_k >= 0."""
    theta, p = np.asarray(theta, float), np.asarray(p, float)
    K = len(theta)
    tail = np.array([p[k + 1:].sum() for k in range(K)])
    gaps = np.append(np.diff(theta), 0.0)
    nu = theta - tail / p * gaps
    assert np.all(np.diff(nu) >= 0), "irregular case: the closed form needs ironing"
    q = np.maximum(nu, 0.0) / c
    t = np.empty(K)
    t[0] = theta[0] * q[0]
    for k in range(1, K):
        t[k] = t[k - 1] + theta[k] * (q[k] - q[k - 1])
    profit = float(np.sum(p * (t - c * q ** 2 / 2)))
    return q, t, profit


def _variant(theta: str, p: str, c: str = "1") -> str:
    return (EXAMPLE.read_text(encoding="utf-8")
            .replace("types theta[K] = [3, 4.05, 4.6]", f"types theta[K] = [{theta}]")
            .replace("prob p[K] = [1/3, 1/3, 1/3]", f"prob p[K] = [{p}]")
            .replace("param c = 1 ", f"param c = {c} "))


def _fraction(text: str) -> float:
    """'1/3' -> 0.333...: the few literal forms the cases use (no eval of text)."""
    numerator, _, denominator = text.strip().partition("/")
    return float(numerator) / (float(denominator) if denominator else 1.0)


CASES = {  # name: (theta, p, c); the example itself, skewed probabilities, an excluded lowest type
    "example": ("3, 4.05, 4.6", "1/3, 1/3, 1/3", "1"),
    "skewed": ("2, 3, 5", "0.5, 0.3, 0.2", "2"),
    "excluded": ("1, 4, 5", "1/3, 1/3, 1/3", "1"),
}


@pytest.mark.parametrize("name", CASES)
def test_the_solved_menu_is_the_closed_form(name):
    theta, p, c = CASES[name]
    model = load_source(_variant(theta, p, c), f"{name}.mech")
    state = state_at(sample_states(model, 1, np.random.default_rng(0)), 0)
    q, t, profit = closed_form([_fraction(v) for v in theta.split(",")], [_fraction(v) for v in p.split(",")],
                               float(c))
    for solution in (solve(model, state), solve_reduced(derive(model), state)):
        menu = solution.arrays(model)
        np.testing.assert_allclose(menu["q"], q, atol=1e-6)
        np.testing.assert_allclose(menu["t"], t, atol=1e-6)
        assert solution.objective == pytest.approx(profit, abs=1e-6)
        assert solution.certificate.worst >= -1e-7
    if name == "excluded":
        assert q[0] == 0 and t[0] == 0  # the max(0, nu_0) branch is exercised


def test_the_example_menu_in_numbers():
    """The example's menu, written out: q = (0.9, 3.5, 4.6), t = (2.7, 13.23, 18.29)."""
    q, t, profit = closed_form([3, 4.05, 4.6], [1 / 3] * 3, 1.0)
    np.testing.assert_allclose(q, [0.9, 3.5, 4.6])
    np.testing.assert_allclose(t, [2.7, 13.23, 18.29])
    assert profit == pytest.approx((2.7 + 13.23 + 18.29 - (0.81 + 12.25 + 21.16) / 2) / 3)
