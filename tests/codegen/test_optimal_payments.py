"""The generated contract envs' payment mode "optimal" (`mechdsl.runtime.contract_env`): the
action holds the allocations only and every state is paid the best feasible payments for them
(an LP per state). Checked against HiGHS on the SymPy constraints, against the slack map, the
exact optimum (CVXPY) and central differences of the deployed value."""

from __future__ import annotations

import importlib

import pytest
import torch

from codegen_fixtures import ROOT, import_package, model_of
from test_action_map import _solved_contracts
from test_repair import _payment_lp_optimum

from mechdsl.codegen import compile_spec
from mechdsl.lang import load_file


@pytest.fixture(scope="module")
def two_period():
    return importlib.import_module("generated.two_period")


def _random(env, n, seed):
    generator = torch.Generator().manual_seed(seed)
    state = env.reset(n, generator)
    return state, 2 * torch.rand(n, env.action_dim, generator=generator, dtype=env.dtype) - 1


def test_the_action_holds_the_allocations_only(two_period):
    env = two_period.Env(payments="optimal")
    assert env.action_dim == two_period.env.ALLOCATION_DIM == 6
    assert env.action_names == two_period.ACTION_LAYOUT[:6]
    assert two_period.Env().action_dim == 12  # the default mode is unchanged


def test_static_specs_are_the_same_map_in_both_modes():
    static = importlib.import_module("generated.static_contract")
    optimal, action = static.Env(payments="optimal", dtype=torch.float64), static.Env(dtype=torch.float64)
    assert optimal.payments == "action" and optimal.action_dim == action.action_dim
    state, raw = _random(action, 64, seed=3)
    torch.testing.assert_close(optimal.evaluate(state, raw).reward, action.evaluate(state, raw).reward, rtol=0, atol=0)


def test_an_unknown_mode_is_refused(two_period):
    with pytest.raises(ValueError, match="unknown payment mode 'cheapest'"):
        two_period.Env(payments="cheapest")


def _lp_optima(two_period, state, raw, columns):
    """HiGHS's optimum over the payments for the allocations of `raw` (None: infeasible)."""
    from test_repair import _values  # noqa: F401 (the helper below builds on it)

    proposal = two_period.contract_from_action(state, raw, repair=False, payments="optimal")
    model, out = model_of("two_period"), []
    for column in columns:
        try:
            out.append(_payment_lp_optimum(model, two_period, state[column], proposal, column))
        except AssertionError:  # HiGHS: no payments make these allocations feasible
            out.append(None)
    return out


def test_every_state_is_paid_the_best_payments_or_the_better_pooled_menu(two_period):
    """The deployed reward is max(HiGHS's optimum over the payments for the same allocations,
    the pooled menu's) (relative 1e-6: the LP tightens each constraint by 1e-10 of its scale);
    where the LP's payments are deployed (kind 0) it is the LP's, and no contract violates a
    constraint."""
    env = two_period.Env(payments="optimal", dtype=torch.float64)
    state, raw = _random(env, 200, seed=5)
    result = env.evaluate(state, raw)
    assert bool((result.violation == 0).all())
    assert bool((result.info["proposal_violation"] == 0).all())
    kind = result.info["repaired"]
    columns = (kind == 0).nonzero().squeeze(1)[:6].tolist() + (kind == 2).nonzero().squeeze(1)[:6].tolist()
    assert len(columns) == 12
    for column, expected in zip(columns, _lp_optima(two_period, state, raw, columns)):
        reward = float(result.reward[column])
        if kind[column] == 0:
            assert abs(reward - expected) <= 1e-6 * max(1.0, abs(expected)), column
        else:  # the pooled menu beat the LP, or no payments implement the allocations
            assert expected is None or reward > expected, column


def test_degenerate_lps_at_the_bounds_are_solved(two_period):
    """Actions on the box's corners put allocations on their bounds and pool types, where many
    constraints coincide and the interior-point method stalls; HiGHS takes over there. Without
    pooling, at least 90 % of the states get HiGHS's optimum (measured 45 of 48; the others keep
    their least payments, whose LP solution failed the certificate), none gets more, and no value
    comes from a drifted LP (once -1.8e10 here)."""
    env = two_period.Env(payments="optimal", dtype=torch.float64, repair=False)
    generator = torch.Generator().manual_seed(4)
    state = env.reset(48, generator)
    raw = torch.sign(torch.randn(48, 6, generator=generator, dtype=torch.float64))
    result = env.evaluate(state, raw)
    expected = torch.tensor([float("nan") if v is None else v for v in _lp_optima(two_period, state, raw, range(48))],
                            dtype=torch.float64)
    feasible = ~expected.isnan()
    assert int(feasible.sum()) >= 40
    exact = (result.reward - expected).abs() <= 1e-6 * expected.abs()
    assert float((exact & (result.violation == 0))[feasible].double().mean()) >= 0.9
    deployed = feasible & (result.violation == 0)  # a state left infeasible (no pooling here) may earn more
    assert bool((result.reward[deployed] <= expected[deployed] + 1e-6 * expected[deployed].abs()).all())
    assert bool((env.evaluate(state, raw).reward > -1e4).all())
    pooled = two_period.Env(payments="optimal", dtype=torch.float64).evaluate(state, raw)
    assert bool((pooled.violation == 0).all())


def test_the_deployed_value_is_never_below_the_pooled_menus(two_period):
    env = two_period.Env(payments="optimal", dtype=torch.float32)
    generator = torch.Generator().manual_seed(6)
    state = env.reset(2000, generator)
    raw = torch.sign(torch.randn(2000, 6, generator=generator)) * torch.rand(2000, 1, generator=generator).sqrt()
    result = env.evaluate(state, raw)
    pooled = two_period.env._tensors(state.device, state.dtype).pooling @ two_period.env._allocations(
        two_period.env._state_quantities(state), raw.t())
    menu = dict(zip(two_period.env.CONTRACT_LAYOUT, two_period.env._contract_of(two_period.env._state_quantities(state), pooled)))
    value, violation, _ = two_period.score(state, menu)
    assert bool((result.violation == 0).all())
    assert bool((result.reward >= torch.where(violation == 0, value, torch.full_like(value, -float("inf")))).all())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_it_pays_at_least_what_any_slack_action_pays(two_period, dtype):
    """For the same allocations, the LP's payments are worth at least those of the slack map at
    any slack (least payments, random slack), feasible or repaired: up to the LP's margin."""
    optimal, action = two_period.Env(payments="optimal", dtype=dtype), two_period.Env(dtype=dtype)
    state, raw = _random(action, 1000, seed=7)
    for slack in (torch.zeros_like(raw[:, 6:]), raw[:, 6:]):
        proposal = action.evaluate(state, torch.cat([raw[:, :6], slack], 1))
        best = optimal.evaluate(state, raw[:, :6])
        assert bool((best.violation == 0).all())
        tolerance = (1e-6 if dtype == torch.float64 else 1e-4) * proposal.reward.abs()  # the LP margin: ~1e-7
        assert bool((best.reward >= proposal.reward - tolerance).all())
    assert float((best.reward - proposal.reward).max()) > 1.0  # and strictly more on some states


@pytest.mark.parametrize("K", [2, 3])
def test_the_optimums_allocations_deploy_the_optimum(K, tmp_path):
    spec = ROOT / "specs" / "two_period.mech"
    model = load_file(spec, {"K": K})
    compile_spec(model, tmp_path / f"k{K}", source=spec.read_text(encoding="utf-8"))
    package = import_package(tmp_path / f"k{K}", f"mechdsl_optimal_payments_k{K}")
    state = package.sample_states(4, torch.Generator().manual_seed(29), dtype=torch.float64)
    contract, optimum = _solved_contracts(model, package, state)
    action = package.action_from_contract(state, contract, payments="optimal")
    assert action.shape == (4, package.env.ALLOCATION_DIM)
    result = package.env.evaluate(state, action, payments="optimal")
    assert bool((result.violation == 0).all())
    torch.testing.assert_close(result.reward, optimum.double(), rtol=1e-6, atol=0)


def test_the_gradient_is_the_deployed_values(two_period):
    """dV/dx by the envelope theorem equals central differences of the deployed reward along
    random directions (relative 1e-4, the LP's tolerance), on the states the perturbations do not
    push off the LP branch."""
    env = two_period.Env(payments="optimal", dtype=torch.float64)
    generator = torch.Generator().manual_seed(2)
    state = env.reset(128, generator)
    action = (0.3 * torch.randn(128, env.action_dim, generator=generator, dtype=torch.float64)).clamp(-0.99, 0.99)
    action.requires_grad_(True)
    result = env.evaluate(state, action)
    gradient, = torch.autograd.grad(result.reward.sum(), action)
    h, errors = 1e-6, []
    for _ in range(3):
        direction = torch.randn(action.shape, generator=generator, dtype=torch.float64)
        with torch.no_grad():
            plus, minus = env.evaluate(state, action + h * direction), env.evaluate(state, action - h * direction)
        difference = (plus.reward - minus.reward) / (2 * h)
        error = (difference - (gradient * direction).sum(1)).abs() / (1 + difference.abs())
        errors += error[(plus.info["repaired"] == 0) & (minus.info["repaired"] == 0)].tolist()
    assert len(errors) > 200  # the other states deploy the pooled menu (worth more there)
    assert max(errors) < 1e-4, max(errors)


def _two_period_source(setting: str) -> str:
    source = (ROOT / "specs" / "two_period.mech").read_text(encoding="utf-8")
    return source.replace("  action_penalty = lam\n", f"  action_penalty = lam\n  {setting}\n")


def test_the_specs_train_block_sets_the_default_mode(tmp_path):
    from mechdsl.lang import load_source

    source = _two_period_source("payments = optimal")
    compile_spec(load_source(source, "two_period.mech"), tmp_path / "p", source=source)
    package = import_package(tmp_path / "p", "mechdsl_optimal_payments_default")
    assert package.env.PAYMENTS == "optimal"
    env = package.Env(dtype=torch.float64)
    assert env.payments == "optimal" and env.action_dim == 6
    assert package.Env(payments="action").action_dim == 12  # the constructor overrides the spec
    state, raw = _random(env, 16, seed=1)
    assert package.env.evaluate(state, raw).reward.shape == (16,)  # the module's functions default to it too


def test_an_unknown_mode_in_the_spec_is_a_positioned_error():
    from mechdsl.lang import SpecError, load_source

    source = _two_period_source("payments = cheapest")
    with pytest.raises(SpecError) as caught:
        load_source(source, "two_period.mech")
    line = source.splitlines().index("  payments = cheapest") + 1
    text = str(caught.value)
    assert "unknown value for 'payments' 'cheapest'" in text and f"two_period.mech:{line}:" in text, text
