"""The vectorised env of agent_migration.mech behaves exactly as the scalar one it replaces.

`fixtures/agent_migration_scalar/env.py` is generated/agent_migration/env.py as committed at
1497eb4, the last commit of the scalar generator (one (B,) tensor per entity index, 2,727
lines). Both envs are reset with the same seeds and stepped 20 slots with the same raw
actions; every observation, reward, penalty, violation and info field must agree: exactly for
what is discrete (decisions, violation and fallback counts, the random draws) and to rounding
for the rest (float64: 1e-9 relative; float32: float32 noise), the vectorised env summing in
another order than the scalar one.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT

SCALAR_ENV = Path(__file__).parent / "fixtures" / "agent_migration_scalar" / "env.py"
DISCRETE = ("decisions", "fallback_target", "unavoidable_c22d", "violations_c22b", "violations_c22c",
            "violations_c22d", "done", "hits")
TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4}


@pytest.fixture(scope="module")
def scalar():
    spec = importlib.util.spec_from_file_location("agent_migration_scalar_env", SCALAR_ENV)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def assert_agrees(new: torch.Tensor, old: torch.Tensor, rtol: float, name: str, unit_scale: bool = False) -> None:
    """|new - old| <= rtol (|old| + scale): the scale is the largest magnitude of the field
    (of each column of a state), or 1 for quantities made of simplex shares and one-hot
    decisions (penalties, excesses), whose rounding errors are 1e-16 absolute."""
    assert new.shape == old.shape and new.dtype == old.dtype, name
    if not old.numel():
        return
    scale = 1.0 if unit_scale else old.abs().amax(0, keepdim=True) if name.endswith("next_state") else old.abs().max()
    excess = ((new - old).abs() - rtol * (old.abs() + scale)).max().item()
    assert excess <= 0.0, f"{name}: differs by up to {(new - old).abs().max().item():.3g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_vectorised_env_reproduces_the_scalar_one(package, scalar, dtype):
    rtol = TOLERANCE[dtype]
    for seed in (0, 1):
        old_env, new_env = scalar.AgentMigrationEnv(dtype=dtype), package.Env(dtype=dtype)
        old_state = old_env.reset(32, torch.Generator().manual_seed(seed))
        new_state = new_env.reset(32, torch.Generator().manual_seed(seed))
        assert torch.equal(new_state, old_state)  # the same draws, in the same order
        actions = torch.Generator().manual_seed(100 + seed)
        for slot in range(package.HORIZON):
            action = 2 * torch.rand(32, old_env.action_dim, generator=actions, dtype=dtype) - 1
            old, new = old_env.step(action), new_env.step(action)
            for field in ("reward", "penalty", "violation"):
                assert_agrees(getattr(new, field), getattr(old, field), rtol, f"slot {slot} {field}",
                              unit_scale=field != "reward")
            assert set(new.info) == set(old.info)
            for key, value in old.info.items():
                if key in DISCRETE:
                    assert torch.equal(new.info[key], value), f"slot {slot} {key}"
                else:
                    assert_agrees(new.info[key], value, rtol, f"slot {slot} {key}")
        assert torch.equal(new_env._state[:, -1], old_env._state[:, -1])


def test_the_choice_rules_and_scores_agree_on_any_state(package, scalar):
    """`qualifying`, `fallback_preferences`, `decisions` and `score` on states away from the
    start (reputations spread over [0, 1], hosts shuffled), in float64."""
    generator = torch.Generator().manual_seed(7)
    state = package.initial_states(64, generator, dtype=torch.float64)
    layout = package.STATE_LAYOUT
    rep = [k for k, name in enumerate(layout) if name.startswith("rep[")]
    state[:, rep] = torch.rand(64, len(rep), generator=generator, dtype=torch.float64)
    for key in ("qualifying", "fallback_preferences"):
        old, new = getattr(scalar, key)(state), getattr(package, key)(state)
        assert set(old) == set(new) and all(torch.equal(new[k], old[k]) for k in old)
    action = 2 * torch.rand(64, len(package.ACTION_LAYOUT), generator=generator, dtype=torch.float64) - 1
    decided = package.decisions(state, action)
    assert torch.equal(decided, scalar.decisions(state, action))
    old, new = scalar.score(state, decided), package.score(state, decided)
    assert set(old.excess) == set(new.excess) and set(old.metrics) == set(new.metrics)
    for label in old.excess:
        assert_agrees(new.excess[label], old.excess[label], 1e-9, label, unit_scale=True)
    for name in old.metrics:
        assert_agrees(new.metrics[name], old.metrics[name], 1e-9, name)
    assert all(torch.equal(new.counts[k], old.counts[k]) for k in old.counts)


def test_the_generated_env_is_short_and_readable():
    """Issue 15 item 5: a few hundred lines, none over 120 characters, one tensor per family."""
    lines = (ROOT / "generated" / "agent_migration" / "env.py").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 800 and max(map(len, lines)) <= 120
    assert sum(line.lstrip().startswith("f_") for line in lines) < 100  # vs 1,262 scalar intermediates
