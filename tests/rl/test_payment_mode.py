"""`mechdsl.rl.payment_mode`: the payment mode a contract env runs for each learner where the
spec leaves `payments` to it ("auto"), and the default preset's values that follow the mode."""
from __future__ import annotations

from pathlib import Path

import pytest

from mechdsl.rl import resolve_hparams
from mechdsl.rl.payment_mode import learner_env, learner_payment_mode
from mechdsl.rl.runs import load_package

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def package():
    """two_period.mech (K = 2) as committed: 6 allocations and 6 payment slacks, `payments` left
    to the learner."""
    return load_package(ROOT / "generated" / "two_period")


def test_an_env_built_directly_pays_from_the_action(package):
    env = package.Env()
    assert (env.requested_payments, env.payments, env.action_dim) == ("auto", "action", 12)


@pytest.mark.parametrize("algo, preset, mode", [
    ("amortized", "default", "action"),  # ascends the env's gradient: places the payments itself
    ("edmsac", "default", "action"),     # exact reward
    ("dmsac", "default", "action"),
    ("dmddpg", "default", "action"),
    ("random", "default", "action"),     # the random-contract baseline
    ("edmsac", "paper", "optimal"),      # the paper's learned critic
    ("td3", "default", "optimal"),
    ("ddpg", "default", "optimal"),
    ("sac", "default", "optimal"),
    ("cgdm", "default", "optimal"),
    ("ppo", "default", "optimal"),       # likelihood-ratio gradient: estimates the reward from samples
])
def test_each_learner_gets_its_payment_mode(package, algo, preset, mode):
    env = learner_env(package.Env(), algo, preset)
    assert env.payments == mode
    assert env.action_dim == (6 if mode == "optimal" else 12)
    assert learner_env(env, algo, preset) is env  # idempotent


def test_a_learned_critic_is_overridden_back_to_the_slack_env(package):
    assert learner_payment_mode(package.Env(), "dmsac", "default", {"critic": "learned"}) == "optimal"
    assert learner_payment_mode(package.Env(), "dmsac", "default", {"critic": "exact"}) == "action"


def test_a_fixed_payment_mode_is_kept(package):
    for fixed in ("action", "optimal"):
        env = package.Env(payments=fixed)
        assert learner_payment_mode(env, "td3") is None
        assert learner_env(env, "amortized") is env


def test_an_env_without_slack_entries_pays_its_proven_least_payments():
    static = load_package(ROOT / "generated" / "static_contract").Env()
    assert static.slack_dim == 0
    assert learner_payment_mode(static, "td3") == "action"


def test_learned_critics_take_more_updates_on_the_optimal_payment_env(package):
    optimal, action = package.Env(payments="optimal"), package.Env(payments="action")
    assert resolve_hparams("td3", "default", None, optimal).updates_per_step == 8
    assert resolve_hparams("td3", "default", None, optimal).lr_schedule == "cosine"
    assert resolve_hparams("td3", "default", None, action).updates_per_step == 1
    assert resolve_hparams("td3", "default", {"updates_per_step": 2}, optimal).updates_per_step == 2  # override wins
    assert resolve_hparams("td3", "paper", None, optimal).updates_per_step == 1
    assert resolve_hparams("cgdm", "default", None, optimal).updates_per_step == 8
    assert resolve_hparams("ppo", "default", None, optimal) == resolve_hparams("ppo", "default")
