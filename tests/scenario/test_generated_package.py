"""The committed package generated/agent_migration is exactly what `mechdsl compile` writes
today (byte for byte), rendering is deterministic, and the env keeps the BatchedEnv
contract for horizon > 1."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mechdsl.lang import load_file
from mechdsl.rl.env import BatchedEnv, observation
from mechdsl.scenario.codegen import compile_scenario, render

from conftest import ROOT, SPEC

COMMITTED = ROOT / "generated" / "agent_migration"


@pytest.fixture(scope="module")
def model():
    return load_file(SPEC)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_recompiling_reproduces_the_committed_package(model, tmp_path):
    """Fails on any byte of difference: run `mechdsl compile specs/agent_migration.mech` to update."""
    compile_scenario(model, tmp_path / "agent_migration", source=SPEC.read_text(encoding="utf-8"))
    assert _files(tmp_path / "agent_migration") == _files(COMMITTED)


def test_rendering_is_deterministic(model):
    source = SPEC.read_text(encoding="utf-8")
    assert render(model, source) == render(load_file(SPEC), source)


def test_compile_refuses_a_foreign_folder(model, tmp_path):
    from mechdsl.cli.output import UsageError

    (tmp_path / "mine.txt").write_text("not generated")
    with pytest.raises(UsageError, match="not created by mechdsl"):
        compile_scenario(model, tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "not generated"


def test_env_follows_the_horizon_contract(package):
    env = package.Env()
    assert isinstance(env, BatchedEnv) and env.horizon == package.HORIZON == 20
    generator = torch.Generator().manual_seed(0)
    state = env.reset(5, generator)
    assert state.shape == (5, env.state_dim) and state.dtype == torch.float32
    for t in range(env.horizon):
        result = env.step(torch.zeros(5, env.action_dim))
        assert result.reward.shape == result.penalty.shape == result.violation.shape == (5,)
        assert torch.equal(result.info["next_state"][:, -1], torch.full((5,), float(t + 1)))
        assert bool((result.info["done"] == (1.0 if t == env.horizon - 1 else 0.0)).all())
    again = env.reset(5, torch.Generator().manual_seed(0))
    assert torch.equal(again, state)                      # same seed, same starts


def test_observation_hides_unobserved_columns(package):
    env = package.Env()
    state = env.reset(7, torch.Generator().manual_seed(1))
    obs = observation(env, state)
    hidden = torch.tensor([not o for o in package.OBSERVED])
    assert bool((obs[:, hidden] == 0).all())
    assert bool((obs[:, ~hidden].abs() <= 1 + 1e-6).all())
    assert int((~hidden).sum()) == 8 + 8 + 32 + 4 + 32 + 1  # pos, lane, host, load, rep, slot


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_env_runs_on_cuda(package):
    env = package.Env(device="cuda")
    state = env.reset(4, torch.Generator(device="cuda").manual_seed(0))
    result = env.step(torch.zeros(4, env.action_dim, device="cuda"))
    assert state.is_cuda and result.reward.is_cuda and result.info["next_state"].is_cuda
