"""Registry of training algorithms, their typed hyperparameters and presets.

``ALGORITHMS[name]`` gives the hyperparameter dataclass, the agent class and the ``paper``
overrides. Presets: ``default`` = the dataclass defaults (ours, tuned to converge on the toy
contract env on 2 CPU cores in minutes); ``paper`` = the papers' settings (EDMSAC Sec. VI:
actor lr 2e-7, critic lr 2e-6, gamma 0.99, tau 0.005, weight decay 1e-4, 6 denoising steps,
pruning rate 0.5; CGDM Table II for ``cgdm``), which need ~10^5 steps. Where the ``default``
preset's critic resolves to the env's exact reward (`base.uses_exact_reward`; DMSAC/EDMSAC on a
compiled contract), ``AlgorithmSpec.exact_reward`` values replace the dataclass defaults: no
critic has to be fitted between actor steps, so fresh states in larger batches and one actor
step per update give the same ratio for a fraction of the time (dmsac.EXACT_REWARD;
edmsac.EXACT_REWARD adds its pruning schedule). On a contract env that pays every state
optimally (payments = "optimal", what `mechdsl.rl.payment_mode` gives a learned critic),
``AlgorithmSpec.optimal_payments`` values replace them likewise: the action is the allocations
only, and more critic updates per sample sharpen the critic instead of letting the actor exploit
its errors along the slack entries (`OFF_POLICY_OPTIMAL_PAYMENTS`).
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass
from typing import Any

import torch

from mechdsl.rl.algorithms import amortized, cgdm, ddpg, dmddpg, dmsac, edmsac, ppo, random_policy, sac, td3
from mechdsl.rl.algorithms.base import Agent, uses_exact_reward
from mechdsl.rl.env import BatchedEnv
from mechdsl.runtime.repair import OPTIMAL_PAYMENTS


@dataclass(frozen=True)
class AlgorithmSpec:
    name: str
    hparams: type
    agent: type[Agent]
    paper: dict[str, Any]
    summary: str
    exact_reward: dict[str, Any] = dataclasses.field(default_factory=dict)  # default preset under the exact reward
    optimal_payments: dict[str, Any] = dataclasses.field(default_factory=dict)  # ... on an optimally paying env


# The learned-critic baselines on a contract env paid by the payment LP (two_period.mech, K = 5,
# 48,000 states, seed 0; docs/rl.md, "Each learner's payment mode"): 8 updates per step and a cosine lr
# schedule take TD3 0.78 -> 0.905, SAC 0.60 -> 0.867, DDPG to 0.902 and CGDM -0.02 -> 0.781 (4
# updates: 0.537; 8 at actor lr 3e-3: 0.617); on the slack env the same 8 updates took TD3 from
# 0.35 to -0.33 (its actor followed the critic's errors into overpayment).
OFF_POLICY_OPTIMAL_PAYMENTS: dict[str, Any] = {"updates_per_step": 8, "lr_schedule": "cosine"}


ALGORITHMS: dict[str, AlgorithmSpec] = {
    spec.name: spec for spec in (
        AlgorithmSpec("edmsac", edmsac.EDMSACHparams, edmsac.EDMSACAgent, edmsac.PAPER,
                      "diffusion SAC with dynamic structured pruning (EDMSAC)", edmsac.EXACT_REWARD),
        AlgorithmSpec("dmsac", dmsac.DMSACHparams, dmsac.DMSACAgent, dmsac.PAPER, "diffusion SAC (DMSAC)",
                      dmsac.EXACT_REWARD),
        AlgorithmSpec("dmddpg", dmddpg.DMDDPGHparams, dmddpg.DMDDPGAgent, dmddpg.PAPER, "diffusion DDPG"),
        AlgorithmSpec("cgdm", cgdm.CGDMHparams, cgdm.CGDMAgent, cgdm.PAPER, "confidence-regulated diffusion (CGDM)",
                      optimal_payments=OFF_POLICY_OPTIMAL_PAYMENTS),
        AlgorithmSpec("amortized", amortized.AmortizedHparams, amortized.AmortizedAgent, amortized.PAPER,
                      "MLP policy trained through the differentiable env (reference)"),
        AlgorithmSpec("sac", sac.SACHparams, sac.SACAgent, sac.PAPER, "soft actor-critic",
                      optimal_payments=OFF_POLICY_OPTIMAL_PAYMENTS),
        AlgorithmSpec("td3", td3.TD3Hparams, td3.TD3Agent, td3.PAPER, "twin delayed DDPG",
                      optimal_payments=OFF_POLICY_OPTIMAL_PAYMENTS),
        AlgorithmSpec("ddpg", ddpg.DDPGHparams, ddpg.DDPGAgent, ddpg.PAPER, "deep deterministic policy gradient",
                      optimal_payments=OFF_POLICY_OPTIMAL_PAYMENTS),
        AlgorithmSpec("ppo", ppo.PPOHparams, ppo.PPOAgent, ppo.PAPER, "proximal policy optimisation"),
        AlgorithmSpec("random", random_policy.RandomHparams, random_policy.RandomAgent, random_policy.PAPER,
                      "uniformly random contracts"),
    )
}
PRESETS = ("default", "paper")


class HyperparameterError(ValueError):
    """Unknown algorithm, preset or hyperparameter name, or a value of the wrong type."""


def algorithm_spec(algo: str) -> AlgorithmSpec:
    if algo not in ALGORITHMS:
        close = difflib.get_close_matches(algo, ALGORITHMS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise HyperparameterError(f"unknown algorithm {algo!r}{hint} (known: {', '.join(ALGORITHMS)})")
    return ALGORITHMS[algo]


def hyperparameter_names(algo: str) -> dict[str, type]:
    """name -> Python type of every hyperparameter of ``algo`` (to validate a spec's train block)."""
    cls = algorithm_spec(algo).hparams
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(algo: str, name: str, value: Any, expected: Any) -> Any:
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif expected is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(expected) is tuple:
        if isinstance(value, int) and not isinstance(value, bool):
            value = (value,)
        positive_ints = isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        if positive_ints:
            return tuple(value)
    name_of = getattr(expected, "__name__", str(expected))
    raise HyperparameterError(f"{algo}: hyperparameter {name!r} expects {name_of}, got {value!r}")


def resolve_hparams(algo: str, preset: str = "default", overrides: dict[str, Any] | None = None,
                    env: BatchedEnv | None = None):
    """The algorithm's hyperparameter dataclass: preset values, then validated ``overrides``.
    With ``env``, the ``default`` preset of an algorithm whose critic resolves to the env's exact
    reward takes its ``exact_reward`` values, and on an env that pays optimally its
    ``optimal_payments`` values (an override still wins)."""
    hp = _resolve(algo, preset, overrides)
    spec = algorithm_spec(algo)
    if env is None or preset != "default":
        return hp
    if spec.exact_reward and uses_exact_reward(hp.critic, env):
        hp = _resolve(algo, preset, {**spec.exact_reward, **(overrides or {})})
    elif spec.optimal_payments and getattr(env, "payments", None) == OPTIMAL_PAYMENTS:
        hp = _resolve(algo, preset, {**spec.optimal_payments, **(overrides or {})})
    return hp


def _resolve(algo: str, preset: str, overrides: dict[str, Any] | None):
    spec = algorithm_spec(algo)
    if preset not in PRESETS:
        raise HyperparameterError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    types = hyperparameter_names(algo)
    values: dict[str, Any] = dict(spec.paper) if preset == "paper" else {}
    unknown = [k for k in (overrides or {}) if k not in types]
    if unknown:
        parts = []
        for k in unknown:
            close = difflib.get_close_matches(k, types, n=1)
            parts.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise HyperparameterError(f"{algo}: unknown hyperparameter(s) {', '.join(parts)}; known: {', '.join(types)}")
    values.update(overrides or {})
    values = {k: _coerce(algo, k, v, types[k]) for k, v in values.items()}
    try:
        return spec.hparams(**values)
    except ValueError as err:
        raise HyperparameterError(f"{algo}: {err}") from None


def make_agent(algo: str, env: BatchedEnv, hparams, generator: torch.Generator, device: torch.device) -> Agent:
    """Build the agent; network weights come from ``generator`` only."""
    return algorithm_spec(algo).agent(env, hparams, generator, device)
