"""DM-based DDPG: DDPG whose actor is the diffusion chain (the DMDDPG baseline of the EDMSAC paper).

pi_theta(S) = A_0 of the reverse chain (eq. 54), differentiated through all M steps:
    L(theta) = E[-Q(S, A_0(theta)) + c_b excess]   (deterministic policy gradient through the chain;
    ``excess`` is the boundary penalty of the straight-through clips, see dmsac)
The chain's own noise and the Gaussian exploration noise both explore; the critic is DDPG's,
or, with ``critic = "exact"`` (``"auto"``, the default, wherever the env allows: horizon 1 and a
reward differentiable in the action), the env's own reward: L(theta) = E[-c r(S, A_0(theta)) +
c_b excess] through the chain, c the loop's reward scale, and no critic is trained (dmsac's
docstring says why; the ``paper`` preset keeps the learned critic).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mechdsl.rl.algorithms.base import (
    EDMSAC_PAPER_DIFFUSION,
    DiffusionPolicyHparams,
    ExactRewardActor,
    make_diffusion_actor,
    optimizer_step,
)
from mechdsl.rl.algorithms.ddpg import DDPGAgent
from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv
from mechdsl.rl.networks import soft_update


@dataclass(frozen=True)
class DMDDPGHparams(DiffusionPolicyHparams):
    actor_lr: float = 1e-3
    exploration_noise: float = 0.1
    critic: str = "auto"              # "exact" (the env's own reward) | "learned" (DDPG's) | "auto"


class DMDDPGAgent(ExactRewardActor, DDPGAgent):
    def __init__(self, env: BatchedEnv, hp: DMDDPGHparams, generator: torch.Generator, device: torch.device) -> None:
        self.choose_critic(hp.critic, env)
        super().__init__(env, hp, generator, device)

    def update(self, batch: Transition, *, step: int, generator: torch.Generator, env: BatchedEnv) -> dict[str, float]:
        if not self.exact_reward:
            return super().update(batch, step=step, generator=generator, env=env)
        hp = self.hp
        action, regulariser = self.pi(self.policy, batch.obs, generator)
        actor_loss = (regulariser - self.scaled_reward(batch.state, action, env)).mean()
        optimizer_step(self.actor_opt, actor_loss, self.policy.parameters(), hp.grad_clip)
        soft_update(self.policy_target, self.policy, hp.tau)
        return {"actor_loss": actor_loss.item()}

    def make_actor(self, env: BatchedEnv, hp: DMDDPGHparams) -> nn.Module:
        return make_diffusion_actor(env, hp)

    def pi(self, net: nn.Module, obs: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(A_0, c_b excess). Under the exact reward the chain starts where inference starts it
        (the mode by default), so the actor ascends the reward of the action it deploys; under a
        learned critic from A_M ~ N(0, I), which explores (dmsac's `train_start` says why)."""
        start = self.hp.inference_start_scale if self.exact_reward else 1.0
        action, excess = net.sample_with_excess(obs, generator, start_scale=start)
        return action, self.hp.boundary_penalty * excess

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        if not explore:
            with torch.no_grad():
                net = self.policy_target if self.hp.act_with_target else self.policy
                return net.sample(obs, generator, start_scale=self.hp.inference_start_scale)
        return super().act(obs, explore=explore, generator=generator)


PAPER: dict = {**EDMSAC_PAPER_DIFFUSION, "critic": "learned"}
