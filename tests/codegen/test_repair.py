"""The feasibility repair of the generated contract envs (env.py `_repair`): infeasible
proposals x are replaced by x_ref + lambda* (x - x_ref), x_ref the pooled menu, lambda* the
largest feasible lambda; checked against the independent certificate in float64."""

from __future__ import annotations

import numpy as np
import torch

from mechdsl.solve.certificate import certify
from mechdsl.solve.state import with_derived

N = 1000


def _setup(package, seed):
    env = package.Env(dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    state = env.reset(N, generator)
    action = 2 * torch.rand(N, env.action_dim, generator=generator, dtype=torch.float64) - 1
    return env, state, action


def _certified_violation(model, package, state, info):
    values = {name: np.full(len(state), value) for name, value in package.env.CONSTANTS.items()}
    values.update({name: state[:, k].numpy() for k, name in enumerate(package.STATE_LAYOUT)})
    contract = {n: info[n].detach().numpy() for n in package.env.CONTRACT_LAYOUT}
    return certify(model, with_derived(model, values), contract).violation()


def _allocations(package, info):
    return torch.stack([info[name] for name in package.ACTION_LAYOUT])


def _pooled(package, allocations):
    groups = torch.tensor(package.env._POOL_GROUPS)
    return torch.stack([allocations[groups == groups[i]].mean(0) for i in range(len(groups))])


def test_repaired_contracts_pass_the_certificate(bundled):
    name, model, derivation, package = bundled
    env, state, action = _setup(package, seed=11)
    raw = env.evaluate(state, action) if not env.repair else package.env.evaluate(state, action, repair=False)
    repaired = env.evaluate(state, action)
    proposal = repaired.info["proposal_violation"]
    assert torch.equal(proposal, raw.violation)  # the proposal's violation is the unrepaired contract's
    certified = _certified_violation(model, package, state, repaired.info)
    fixed = (proposal.numpy() == 0) | (repaired.info["repair"].numpy() > 0)
    assert np.all(certified[fixed] <= 1e-8), float(certified[fixed].max())
    assert np.all(repaired.violation.numpy()[fixed] == 0)
    # rows left as proposed although infeasible: the pooled menu fails there too (declared
    # plain constraints pooling breaks, e.g. `r[1] - r[0] == 3` in static_declared)
    left = ~fixed
    if left.any():
        pooled = _pooled(package, _allocations(package, raw.info))[:, torch.from_numpy(left)]
        quantities = package.env._state_quantities(state[torch.from_numpy(left)])
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
    assert bool((repaired.info["repair"][untouched] == 0).all())
    for item in package.env.CONTRACT_LAYOUT:
        assert torch.equal(repaired.info[item][untouched], raw.info[item][untouched]), item


def test_repair_is_the_largest_feasible_step():
    """lambda* is within 2^-REPAIR_STEPS of the boundary: a step 2^-(REPAIR_STEPS - 1) further
    toward the proposal violates, and the repaired point lies on the segment to the pool."""
    from codegen_fixtures import import_package  # noqa: F401 (sys.path set by conftest)
    import importlib

    package = importlib.import_module("generated.two_period")
    env, state, action = _setup(package, seed=13)
    raw = package.env.evaluate(state, action, repair=False)
    repaired = env.evaluate(state, action)
    rows = repaired.info["repair"] > 0
    assert int(rows.sum()) > 50
    x = _allocations(package, raw.info)[:, rows]
    x_ref = _pooled(package, x)
    lam = 1 - repaired.info["repair"][rows]
    torch.testing.assert_close(_allocations(package, repaired.info)[:, rows], x_ref + lam * (x - x_ref),
                               rtol=1e-12, atol=1e-9)
    further = x_ref + (lam + 2.0 ** -(package.env.REPAIR_STEPS - 1)).clamp(max=1) * (x - x_ref)
    quantities = package.env._state_quantities(state[rows])
    assert bool((package.env._violation(quantities, further) > 0).all())


def test_repair_keeps_the_reward_differentiable():
    import importlib

    package = importlib.import_module("generated.two_period")
    env, state, action = _setup(package, seed=14)
    action.requires_grad_(True)
    result = env.evaluate(state, action)
    assert float((result.info["repair"] > 0).double().mean()) > 0.05
    result.reward.sum().backward()
    repaired_rows = result.info["repair"] > 0
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
        repaired = (result.info["proposal_violation"] == 0) | (result.info["repair"] > 0)
        assert bool((result.violation[repaired] == 0).all()), scale
