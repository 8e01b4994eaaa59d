"""The feasibility repair of the generated contract envs (env.py `_repair`): a feasible
proposal is deployed as it is; an infeasible one keeps its allocations and gets the best
feasible payments for them (an LP in the payments), or else is shrunk toward the pooled menu
by bisection. Checked against the independent NumPy certificate in float64 and, for the LP,
against SciPy's HiGHS on the original constraints built from SymPy."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import sympy as sp
import torch
from scipy.optimize import linprog

from codegen_fixtures import model_of

from mechdsl.solve.certificate import certify
from mechdsl.solve.exact import numeric_substitution, original_constraints
from mechdsl.solve.state import with_derived

N = 1000


def _setup(package, seed, n=N):
    env = package.Env(dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    state = env.reset(n, generator)
    action = 2 * torch.rand(n, env.action_dim, generator=generator, dtype=torch.float64) - 1
    return env, state, action


def _values(model, package, state):
    values = {name: np.full(len(state), value) for name, value in package.env.CONSTANTS.items()}
    values.update({name: state[:, k].numpy() for k, name in enumerate(package.STATE_LAYOUT)})
    return with_derived(model, values)


def _certified_violation(model, package, state, info):
    contract = {n: info[n].detach().numpy() for n in package.env.CONTRACT_LAYOUT}
    return certify(model, _values(model, package, state), contract).violation()


def _allocations(package, info):
    return torch.stack([info[name] for name in package.ACTION_LAYOUT[:package.env.ALLOCATION_DIM]])


def _pooled(package, allocations):
    groups = torch.tensor(package.env._POOL_GROUPS)
    return torch.stack([allocations[groups == groups[i]].mean(0) for i in range(len(groups))])


def test_repaired_contracts_pass_the_certificate(bundled):
    name, model, derivation, package = bundled
    env, state, action = _setup(package, seed=11)
    raw = package.env.evaluate(state, action, repair=False)
    repaired = env.evaluate(state, action)
    proposal = repaired.info["proposal_violation"]
    assert torch.equal(proposal, raw.violation)  # the proposal's violation is the unrepaired contract's
    assert torch.equal(repaired.info["proposal_reward"], raw.reward)
    certified = _certified_violation(model, package, state, repaired.info)
    fixed = (proposal.numpy() == 0) | (repaired.info["repaired"].numpy() > 0)
    assert np.all(certified[fixed] <= 1e-8), float(certified[fixed].max())
    assert np.all(repaired.violation.numpy()[fixed] == 0)
    # rows left as proposed although infeasible: the pooled menu fails there too (declared
    # plain constraints pooling breaks, e.g. `r[1] - r[0] == 3` in static_declared)
    left = ~fixed
    if left.any():
        rows = torch.from_numpy(left)
        pooled = _pooled(package, _allocations(package, raw.info))[:, rows]
        quantities = package.env._state_quantities(state[rows])
        assert bool((package.env._violation(quantities, pooled) > 0).all())
    if name in ("two_period", "three_period"):  # the residual IIC fails often on random menus
        assert float((proposal > 0).double().mean()) > 0.05 and fixed.all()


def test_feasible_proposals_are_untouched(bundled):
    name, model, derivation, package = bundled
    env, state, action = _setup(package, seed=12)
    raw = package.env.evaluate(state, action, repair=False)
    repaired = env.evaluate(state, action)
    untouched = repaired.info["proposal_violation"] == 0
    assert bool(untouched.any()) or name == "static_declared"  # its `r[1] - r[0] == 3` fails on every draw
    assert bool((repaired.info["repaired"][untouched] == 0).all())
    assert bool((repaired.info["repair"][untouched] == 0).all())
    for item in package.env.CONTRACT_LAYOUT:
        assert torch.equal(repaired.info[item][untouched], raw.info[item][untouched]), item


def _payment_lp_optimum(model, package, state_row, info, column):
    """max objective over the payments with the allocations of `info[...][column]` fixed,
    subject to every original constraint and bound, by HiGHS on the SymPy constraints."""
    values = {name: float(v[0]) for name, v in _values(model, package, state_row.unsqueeze(0)).items()}
    fixed = numeric_substitution(model, values)
    payments = [s for v in model.variables.values() if v.kind == "payment" for s in v.symbols()]
    for v in model.variables.values():
        if v.kind == "allocation":
            fixed.update({s: sp.Float(float(info[s.name][column])) for s in v.symbols()})
    rows, rhs = [], []
    for _, g in original_constraints(model):
        g = sp.expand(g.xreplace(fixed))
        coefficients = [float(g.coeff(y)) for y in payments]
        rows.append([-c for c in coefficients])
        rhs.append(float(g.xreplace({y: 0 for y in payments})))
    objective = sp.expand(model.objective.expr.xreplace(fixed))
    cost = [-float(objective.coeff(y)) for y in payments]
    bounds = [(v.lower, v.upper) for v in model.variables.values() if v.kind == "payment" for _ in v.symbols()]
    result = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    assert result.status == 0, result.message
    return -result.fun + float(objective.xreplace({y: 0 for y in payments}))


@pytest.mark.parametrize("name", ["two_period", "three_period"])
def test_payment_repair_is_the_best_feasible_payment_for_the_allocations(name, tmp_path):
    """The LP repair's value equals HiGHS's optimum over the payments for the same allocations
    (relative 1e-6: the repair tightens each constraint by 1e-10 of its scale, utility terms included)."""
    from codegen_fixtures import STRUCTURES, import_package

    from mechdsl.codegen import compile_spec

    model = model_of(name)
    if name == "two_period":
        package = importlib.import_module("generated.two_period")
    else:
        compile_spec(model, tmp_path / name, source=STRUCTURES[name]())
        package = import_package(tmp_path / name, f"mechdsl_repair_lp_{name}")
    env, state, action = _setup(package, seed=16, n=200)
    result = env.evaluate(state, action)
    rows = (result.info["repaired"] == 1).nonzero().squeeze(1)[:8]
    assert len(rows) == 8
    for column in rows.tolist():
        expected = _payment_lp_optimum(model, package, state[column], result.info, column)
        assert abs(float(result.reward[column]) - expected) <= 1e-6 * max(1.0, abs(expected)), column


@pytest.fixture(scope="module")
def two_period_k5(tmp_path_factory):
    """(model, package) of specs/two_period.mech compiled with K = 5."""
    from codegen_fixtures import ROOT, import_package

    from mechdsl.codegen import compile_spec
    from mechdsl.lang import load_file

    spec, out = ROOT / "specs" / "two_period.mech", tmp_path_factory.mktemp("k5")
    model = load_file(spec, {"K": 5})
    compile_spec(model, out, source=spec.read_text(encoding="utf-8"))
    return model, import_package(out, "mechdsl_repair_k5")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_repair_never_lowers_a_feasible_value_and_always_deploys_feasibly_at_K5(dtype, two_period_k5):
    """10,000 random K = 5 proposals of two_period: feasible ones keep their value exactly, every
    deployed contract passes the env's certificate, and the float64 ones the NumPy certificate."""
    model, package = two_period_k5
    env = package.Env(dtype=dtype)
    generator = torch.Generator().manual_seed(17)
    state = env.reset(10_000, generator)
    action = 2 * torch.rand(10_000, env.action_dim, generator=generator, dtype=dtype) - 1
    result = env.evaluate(state, action)
    feasible = result.info["proposal_violation"] == 0
    assert 0.01 < float(feasible.double().mean()) < 0.99
    assert torch.equal(result.reward[feasible], result.info["proposal_reward"][feasible])
    assert bool((result.violation == 0).all())
    if dtype == torch.float64:
        certified = _certified_violation(model, package, state, result.info)
        assert certified.max() <= 1e-8, float(certified.max())


@pytest.mark.slow
def test_saturated_K5_proposals_keep_a_finite_reward_and_gradient(two_period_k5):
    """Proposals with half their entries at +-1 (what a tanh policy emits early in training)
    put some float32 payment LPs at the edge of feasibility, where their multipliers reach 1e29
    or overflow to inf: the envelope term z^T g then gave NaN rewards (inf * 0) that killed
    EDMSAC and DM-DDPG runs at K = 5 after ~15 steps. Such states keep dr/dx (bounded
    multipliers), so the reward and its gradient stay finite, and LP-fixed states still occur."""
    _, package = two_period_k5
    env = package.Env()  # float32, as trained
    generator = torch.Generator().manual_seed(0)
    state = env.reset(2048, generator)
    uniform = 2 * torch.rand(2048, env.action_dim, generator=generator) - 1
    saturated = torch.rand(2048, env.action_dim, generator=generator) < 0.5
    action = torch.where(saturated, uniform.sign(), 0.999 * uniform).requires_grad_(True)
    result = env.evaluate(state, action)
    result.reward.sum().backward()
    assert int((result.info["repaired"] == 1).sum()) > 10
    assert bool(torch.isfinite(result.reward).all()) and bool(torch.isfinite(action.grad).all())
    assert bool((result.violation == 0).all())


def test_pooling_fallback_is_the_largest_feasible_step(monkeypatch):
    """Where the payment LP cannot help (forced here: every LP reported unsolved), lambda* is
    within 2^-REPAIR_STEPS of the boundary: a step 2^-(REPAIR_STEPS - 1) further toward the
    proposal violates, and the deployed point lies on the segment to the pool (slacks scaled by
    lambda* too)."""
    package = importlib.import_module("generated.two_period")
    monkeypatch.setattr(package.env, "_optimal_payments", lambda quantities, decisions, columns: (
        torch.zeros(len(package.env.PAYMENT_COLUMNS), len(columns), dtype=decisions.dtype),
        torch.zeros(len(columns), dtype=torch.bool)))
    env, state, action = _setup(package, seed=13)
    raw = package.env.evaluate(state, action, repair=False)
    repaired = env.evaluate(state, action)
    rows = repaired.info["repaired"] == 2
    assert int(rows.sum()) > 50 and bool((rows == (raw.violation > 0)).all())
    x = _allocations(package, raw.info)[:, rows]
    x_ref = _pooled(package, x)
    lam = 1 - repaired.info["repair"][rows]
    torch.testing.assert_close(_allocations(package, repaired.info)[:, rows], x_ref + lam * (x - x_ref),
                               rtol=1e-12, atol=1e-9)
    slack = package.env._slack_fractions(package.env._batch_last(action[rows]))
    further = (lam + 2.0 ** -(package.env.REPAIR_STEPS - 1)).clamp(max=1)
    quantities = package.env._state_quantities(state[rows])
    assert bool((package.env._violation(quantities, x_ref + further * (x - x_ref), slack * further) > 0).all())


def _deployed_value_gradient_errors(package, seed, n=64, scale=0.3, h=1e-6):
    """Relative errors |autograd - central difference| / (1 + |difference|) of the deployed
    reward's derivative along random allocation directions (slack entries fixed), per repair kind
    of the states whose kind the perturbations do not change; and the slack entries' gradient of
    the payment-repaired states (their deployed payments are the LP's, whatever the slack)."""
    env = package.Env(dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    state = env.reset(n, generator)
    action = (scale * torch.randn(n, env.action_dim, generator=generator, dtype=torch.float64)).clamp(-0.99, 0.99)
    action.requires_grad_(True)
    result = env.evaluate(state, action)
    gradient, = torch.autograd.grad(result.reward.sum(), action)
    kind = result.info["repaired"]
    errors = {0: [], 1: []}
    for _ in range(3):
        direction = torch.randn(action.shape, generator=generator, dtype=torch.float64)
        direction[:, package.env.ALLOCATION_DIM:] = 0
        with torch.no_grad():
            plus, minus = env.evaluate(state, action + h * direction), env.evaluate(state, action - h * direction)
        difference = (plus.reward - minus.reward) / (2 * h)
        same = (plus.info["repaired"] == kind) & (minus.info["repaired"] == kind)
        error = (difference - (gradient * direction).sum(1)).abs() / (1 + difference.abs())
        for k in errors:
            errors[k] += error[same & (kind == k)].tolist()
    return errors, gradient[kind == 1, package.env.ALLOCATION_DIM:]


@pytest.mark.parametrize("K", [2, pytest.param(5, marks=pytest.mark.slow)])
def test_payment_repaired_gradient_is_the_deployed_values(K, tmp_path):
    """Where the LP fixed the payments, the gradient is that of the value deployed, V(x) = max_y
    r(x, y) (envelope theorem with the LP's multipliers), not the infeasible proposal's: checked
    against central differences of the deployed reward (relative 1e-4: the LP's tolerance); the
    proposal's gradient was off by factors of 6-60 at K = 5."""
    from codegen_fixtures import ROOT, import_package

    from mechdsl.codegen import compile_spec
    from mechdsl.lang import load_file

    if K == 2:
        package = importlib.import_module("generated.two_period")
    else:
        spec = ROOT / "specs" / "two_period.mech"
        compile_spec(load_file(spec, {"K": K}), tmp_path / "k", source=spec.read_text(encoding="utf-8"))
        package = import_package(tmp_path / "k", f"mechdsl_repair_gradient_k{K}")
    errors, slack_gradient = _deployed_value_gradient_errors(package, seed=1, n=256 if K == 2 else 64)
    assert len(errors[0]) > 20 and len(errors[1]) > 60
    assert max(errors[0]) < 1e-6 and max(errors[1]) < 1e-4, (max(errors[0]), max(errors[1]))
    assert float(slack_gradient.abs().max()) == 0.0


def test_repair_keeps_the_reward_differentiable():
    package = importlib.import_module("generated.two_period")
    env, state, action = _setup(package, seed=14)
    action.requires_grad_(True)
    result = env.evaluate(state, action)
    assert float((result.info["repaired"] > 0).double().mean()) > 0.05
    result.reward.sum().backward()
    repaired_rows = result.info["repaired"] > 0
    assert torch.isfinite(action.grad).all() and action.grad[repaired_rows].abs().sum() > 0


def test_float32_repair_leaves_no_violation(bundled):
    """The bisection and the returned contract use the same float operations on the same
    shapes, so a feasible step stays feasible in float32 (an earlier lerp/affine mismatch left
    5 % of K = 5 menus violating by ~1e-4, a column-subset bisection 0.1 % by ~3e-5). Menus
    near the pool (scale 0.03) put many boundaries within a few ulps."""
    name, model, derivation, package = bundled
    env = package.Env()  # float32
    generator = torch.Generator().manual_seed(15)
    state = env.reset(4096, generator)
    for scale in (1.0, 0.03):
        action = scale * (2 * torch.rand(4096, env.action_dim, generator=generator) - 1)
        result = env.evaluate(state, action)
        repaired = (result.info["proposal_violation"] == 0) | (result.info["repaired"] > 0)
        assert bool((result.violation[repaired] == 0).all()), scale
