"""The payment mode a contract env runs for a learner, where the spec leaves it to the learner.

A spec whose train block does not fix `payments` compiles to an env whose mode is "auto"
(`mechdsl.runtime.repair.AUTO_PAYMENTS`); a training run then picks, per learner
(`Agent.places_payments`):
  * "action" for a learner that ascends the env's own reward gradient (the amortized policy, the
    diffusion learners under the exact reward) and for the random-contract baseline: the policy
    places every payment in its range (a slack entry each), and a gradient costs an LP only on
    the proposals the repair fixes (two_period.mech, K = 5, a trained policy's 256 states:
    0.067 s forward and backward, against 0.13 s with an LP on every state);
  * "optimal" for a learner that estimates the reward from samples (a learned critic: TD3, DDPG,
    SAC, CGDM, the diffusion learners' `paper` preset; PPO's likelihood ratios): the action holds
    the allocations only and every state is paid the best feasible payments for them. With K = 5
    a critic cannot resolve 30 slack entries besides 30 allocations: TD3 with 8 updates per step
    reached -0.33 of the optimum on the slack env and 0.905 on this one (48,000 states, seed 0;
    docs/rl.md, "Each learner's payment mode").
A spec that fixes `payments` (or an env without slack entries or without a payment LP) keeps
its mode.
"""
from __future__ import annotations

from typing import Any

from mechdsl.rl.algorithms import algorithm_spec, resolve_hparams
from mechdsl.rl.env import BatchedEnv
from mechdsl.runtime.contract_env import ContractEnv
from mechdsl.runtime.repair import AUTO_PAYMENTS, OPTIMAL_PAYMENTS, PAYMENTS_FROM_ACTION


def learner_payment_mode(env: BatchedEnv, algo: str, preset: str = "default",
                         overrides: dict[str, Any] | None = None) -> str | None:
    """The payment mode `algo` (with `preset` and `overrides`) trains `env` in, or None where the
    env has no choice to make (not a contract env, or its spec or constructor fixed `payments`)."""
    if not isinstance(env, ContractEnv) or env.requested_payments != AUTO_PAYMENTS:
        return None
    if env.slack_dim == 0 or not env.payment_program_available:
        return PAYMENTS_FROM_ACTION
    hparams = resolve_hparams(algo, preset, overrides)
    return PAYMENTS_FROM_ACTION if algorithm_spec(algo).agent.places_payments(hparams, env) else OPTIMAL_PAYMENTS


def learner_env(env: BatchedEnv, algo: str, preset: str = "default",
                overrides: dict[str, Any] | None = None) -> BatchedEnv:
    """`env` in the payment mode `learner_payment_mode` picks (itself where that is its mode)."""
    mode = learner_payment_mode(env, algo, preset, overrides)
    return env if mode is None or mode == env.payments else env.with_payments(mode)


__all__ = ["learner_env", "learner_payment_mode"]
