"""Payments in either direction: `payment t[K] from consumer` (the agent pays) gives the
same contract as the old workaround (a negative payment y = -t to the agent), single
crossing reads the sign, and the derived rules are in the declared variable's sign."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from mechdsl.cli.derive_cmd import to_text
from mechdsl.lang import load_source
from mechdsl.reduce import ReductionRefused, derive
from mechdsl.solve.exact import solve
from mechdsl.solve.state import sample_states, state_at

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "monopoly.mech").read_text(encoding="utf-8")
PRICE = "payment t[K] from consumer in [0, 100]"


def _load(source: str):
    return load_source(source, "monopoly.mech")


def _symbols(model, name):
    return model.variables[name].symbols()


def test_the_derived_prices_bind_the_lowest_ir_and_local_downward_ic():
    """t_0 = theta_0 q_0 and t_k = t_{k-1} + theta_k (q_k - q_{k-1}): derived by hand from
    u(theta_k, q_k, t_k) = u(theta_k, q_{k-1}, t_{k-1}) with u = theta q - t."""
    model = _load(EXAMPLE)
    derivation = derive(model)
    q, t = _symbols(model, "q"), _symbols(model, "t")
    theta = model.types["theta"].symbols()
    expected = [theta[0] * q[0]]
    for k in (1, 2):
        expected.append(expected[-1] + theta[k] * (q[k] - q[k - 1]))
    for k in range(3):
        assert sp.expand(derivation.payment("t", k) - expected[k]) == 0
    assert derivation.single_crossing.holds and "paid by consumer" in derivation.single_crossing.message
    assert derivation.payment_rule_name == "highest payments consumer accepts"


def test_from_agent_and_to_principal_mean_the_same_and_to_agent_is_the_default():
    as_price = _load(EXAMPLE)
    to_principal = _load(EXAMPLE.replace(PRICE, "payment t[K] to monopolist in [0, 100]"))
    assert as_price.variables["t"].flow == to_principal.variables["t"].flow == -1
    static = EXAMPLE.replace(PRICE, "payment t[K] to consumer in [0, 100]").replace(
        "theta * q - t", "theta * t - q^2").replace("p[k] * (t[k] - c * q[k]^2 / 2)", "p[k] * (4 * q[k] - t[k])")
    assert _load(static).variables["t"].flow == 1
    assert _load(static.replace(" to consumer", "")).variables["t"].flow == 1
    assert _load(static.replace(" to consumer", " from monopolist")).variables["t"].flow == 1


def test_the_price_gives_the_same_menu_as_a_negative_payment_to_the_consumer():
    """The workaround the issue's newcomer needed: y = -t in [-100, 0], u = theta q + y."""
    workaround = (EXAMPLE.replace(PRICE, "payment y[K] in [-100, 0]")
                  .replace("theta * q - t", "theta * q + t").replace("menu q, t", "menu q, y")
                  .replace("p[k] * (t[k] - c", "p[k] * (-y[k] - c"))
    price, negative = _load(EXAMPLE), _load(workaround)
    state = state_at(sample_states(price, 1, np.random.default_rng(0)), 0)
    a, b = solve(price, state), solve(negative, state)
    assert a.objective == pytest.approx(b.objective, abs=1e-7)
    np.testing.assert_allclose(a.arrays(price)["t"], -np.asarray(b.arrays(negative)["y"]), atol=1e-6)
    derived = derive(negative)
    for k in range(3):
        assert sp.expand(derive(price).payment("t", k) + derived.payment("y", k)) == 0


def test_a_price_that_raises_the_consumers_utility_fails_single_crossing_with_a_hint():
    wrong = _load(EXAMPLE.replace("theta * q - t", "theta * q + t"))
    with pytest.raises(ReductionRefused, match="the agent pays 't', yet its utility does not fall with it"):
        derive(wrong)
    refused = _load(EXAMPLE.replace(PRICE, "payment t[K] in [0, 100]"))
    with pytest.raises(ReductionRefused, match=r"declare the payment as `payment t\[...\] from consumer`"):
        derive(refused)


def test_derive_latex_names_the_rule_by_its_sign():
    text = to_text(derive(_load(EXAMPLE)), verbose=False, latex=True)
    assert "## Highest payments consumer accepts" in text
    assert "bind for the highest payments consumer accepts" in text
    assert "- $t[0]$ = $q[0] theta[0]$" in text  # in the declared variable's sign: a price
