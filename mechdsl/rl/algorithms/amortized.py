"""Amortized optimisation: no RL, the strong reference.

A deterministic MLP policy a = tanh(f_phi(o)) is trained by gradient ascent on the
differentiable environment itself:
    max_phi  E_S [ U(S, pi_phi(S)) - lambda sum(pi_phi(S)^2) - w violation ]   (the eq. 46 reward)
with the gradient taken through ``env.evaluate``. Only valid for horizon 1 (a contextual
bandit): there is no bootstrapping, so it is the upper reference for what the RL agents can
learn from the same states.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mechdsl.rl.algorithms.base import Agent, CommonHparams, adam, optimizer_step
from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv, learning_reward
from mechdsl.rl.networks import DeterministicActor, init_from_generator


@dataclass(frozen=True)
class AmortizedHparams(CommonHparams):
    collect_batch: int = 256
    # Sixteen gradient steps on each fresh batch of states, two layers of 512 and a cosine lr
    # schedule: the env is a known differentiable function, so a batch can be reused, and
    # annealing removes the last updates' noise. The policy is limited by its number of updates
    # and its width, not by the states it sees (per-state gradient ascent from its actions
    # reaches 0.999 of the optimum; the gap is in the allocations). On two_period.mech, 48,000
    # states, K = 5, one seed: (128, 128) x 4 updates 0.977, (512, 512) x 4 0.983, x 8 0.987,
    # x 16 0.990, x 24 0.990, x 16 at lr 2e-3 0.991 (docs/rl.md, "The amortized policy's width
    # and updates"). These defaults, 3 seeds: 0.9994 in 71 s (K = 2), 0.9900 in 250 s (K = 5)
    # (benchmarks/results/default_env/).
    updates_per_step: int = 16
    lr_schedule: str = "cosine"
    actor_lr: float = 2e-3
    weight_decay: float = 0.0
    hidden: tuple[int, ...] = (512, 512)
    grad_clip: float = 10.0


class AmortizedAgent(Agent):
    uses_replay = False
    stateful = ("policy", "opt")

    def __init__(self, env: BatchedEnv, hp: AmortizedHparams, generator: torch.Generator, device: torch.device) -> None:
        if env.horizon != 1:
            raise ValueError("the amortized reference needs a horizon-1 (contract design) environment")
        self.hp = hp
        policy = DeterministicActor(env.state_dim, env.action_dim, hp.hidden)
        self.policy = init_from_generator(policy, generator).to(device)
        self.opt = adam(self.policy.parameters(), hp.actor_lr, hp.weight_decay)

    @classmethod
    def places_payments(cls, hp, env: BatchedEnv) -> bool:
        return True  # it ascends the env's own gradient

    @property
    def actor(self) -> torch.nn.Module:
        return self.policy

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            return self.policy(obs)

    def update(self, batch: Transition, *, step: int, generator: torch.Generator, env: BatchedEnv) -> dict[str, float]:
        result = env.evaluate(batch.state, self.policy(batch.obs))
        loss = -learning_reward(result, self.hp.violation_weight, self.hp.violation_penalty).mean()
        optimizer_step(self.opt, loss, self.policy.parameters(), self.hp.grad_clip)
        return {"actor_loss": loss.item()}


PAPER: dict = {}
