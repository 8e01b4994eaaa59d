"""Declared constraints hold in training by default (issue 29, item 4).

`constraint s[k] <= 300 for k in K` added to the static contract is a constraint the action map
cannot build in and the payment repair cannot restore (it binds an allocation). With the old
default `violation_weight = 0` every deployed contract violated it and the learner never knew
(60 amortized steps: ratio 1.61, 100 % violations). The default is now automatic: 0 where the
env deploys only feasible contracts, else a weight on the violation; and the penalty carries
the deployed contract's gradient, so a gradient learner can move out of the violation (60 steps:
3 % violations)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mechdsl.cli.main import main
from mechdsl.rl import resolve_hparams, train
from mechdsl.rl.env import learning_reward
from mechdsl.rl.loop import AUTO_VIOLATION_FACTOR, automatic_violation_weight
from mechdsl.rl.runs import load_package

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "static_contract.mech"


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("declared")
    capped = folder / "capped.mech"
    capped.write_text(SPEC.read_text().replace("constraint ic", "constraint ic\nconstraint s[k] <= 300 for k in K", 1))
    assert main(["compile", str(capped), "--out", str(folder / "capped")]) == 0
    plain = load_package(ROOT / "generated" / "static_contract").Env()
    return plain, load_package(folder / "capped").Env()


def test_the_default_weight_is_automatic_and_zero_where_every_deployed_contract_is_feasible(envs):
    plain, capped = envs
    hp = resolve_hparams("amortized", "default", None)
    assert hp.violation_weight < 0  # the automatic default
    assert automatic_violation_weight(plain, hp, seed=0) == 0.0
    weight = automatic_violation_weight(capped, hp, seed=0)
    assert weight > 0
    # a typical violation (hundreds of units of s) costs AUTO_VIOLATION_FACTOR reward spreads
    assert weight == automatic_violation_weight(capped, hp, seed=0)  # its own generator: deterministic
    assert 1 < weight < 100 * AUTO_VIOLATION_FACTOR


def test_training_resolves_the_weight_and_an_explicit_zero_opts_out(envs):
    _, capped = envs
    run = train(capped, "random", steps=1, eval_every=1, log="none", eval_states=8)
    assert run.hparams.violation_weight == automatic_violation_weight(capped, run.hparams, seed=0) > 0
    run = train(capped, "random", steps=1, eval_every=1, log="none", eval_states=8, hparams={"violation_weight": 0.0})
    assert run.hparams.violation_weight == 0.0


def test_the_penalty_moves_the_deployed_contract_out_of_the_violation(envs):
    """d(learning reward)/d(action) = d(reward)/d(action) - w d(deployed violation)/d(action)."""
    _, capped = envs
    state = capped.reset(16, torch.Generator().manual_seed(0))
    action = torch.full((16, capped.action_dim), 0.9, requires_grad=True)  # s[1] near its bound of 2000

    def gradient(weight: float, of: str = "learning") -> torch.Tensor:
        result = capped.evaluate(state, action)
        value = learning_reward(result, weight) if of == "learning" else result.violation
        (grad,) = torch.autograd.grad(value.sum(), action)
        return grad

    violation = capped.evaluate(state, action).violation
    assert bool((violation > 100).all())
    expected = gradient(0.0) - 5.0 * gradient(0.0, of="violation")
    assert torch.allclose(gradient(5.0), expected, rtol=1e-5, atol=1e-4)
    assert bool((gradient(0.0, of="violation").abs().sum(1) > 0).all())  # the violation has a gradient
