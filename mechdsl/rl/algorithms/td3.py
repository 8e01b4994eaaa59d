"""Twin Delayed DDPG (Fujimoto et al. 2018), the TD3 baseline.

critic: y = r + gamma (1 - d) min_i Q_hat_i(S', clip(pi_hat(S') + clip(N(0, s^2), -c, c), -1, 1))
actor:  L(theta) = -E[Q_1(S, pi_theta(S))], updated every ``policy_delay`` critic updates,
        together with the soft target updates (rate tau).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mechdsl.rl.algorithms.base import (
    EDMSAC_PAPER_SETTINGS,
    Agent,
    OffPolicyHparams,
    adam,
    gaussian_noise,
    optimizer_step,
    td_target,
)
from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv
from mechdsl.rl.networks import DeterministicActor, TwinCritic, frozen_copy, init_from_generator, soft_update


@dataclass(frozen=True)
class TD3Hparams(OffPolicyHparams):
    # No uniform warm-up, as DDPG (`ddpg.DDPGHparams` gives the measurement).
    warmup_steps: int = 0
    actor_lr: float = 1e-4
    exploration_noise: float = 0.2
    target_noise: float = 0.2
    target_noise_clip: float = 0.5
    policy_delay: int = 2


class TD3Agent(Agent):
    stateful = ("policy", "policy_target", "critic", "critic_target", "actor_opt", "critic_opt")

    def __init__(self, env: BatchedEnv, hp: TD3Hparams, generator: torch.Generator, device: torch.device) -> None:
        self.hp = hp
        policy = DeterministicActor(env.state_dim, env.action_dim, hp.hidden)
        self.policy = init_from_generator(policy, generator).to(device)
        self.policy_target = frozen_copy(self.policy)
        critic = TwinCritic(env.state_dim, env.action_dim, hp.critic_widths, hp.critic_activation)
        self.critic = init_from_generator(critic, generator).to(device)
        self.critic_target = frozen_copy(self.critic)
        self.actor_opt = adam(self.policy.parameters(), hp.actor_lr, hp.weight_decay)
        self.critic_opt = adam(self.critic.parameters(), hp.critic_lr, hp.weight_decay)

    @property
    def actor(self) -> torch.nn.Module:
        return self.policy

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            action = self.policy(obs)
            if explore:
                action = action + gaussian_noise(action.shape, self.hp.exploration_noise, generator, action)
            return action.clamp(-1, 1)

    def update(self, batch: Transition, *, step: int, generator: torch.Generator, env: BatchedEnv) -> dict[str, torch.Tensor]:
        hp = self.hp

        def next_value(next_obs: torch.Tensor) -> torch.Tensor:
            a2 = self.policy_target(next_obs)
            noise = gaussian_noise(a2.shape, hp.target_noise, generator, a2)
            noise = noise.clamp(-hp.target_noise_clip, hp.target_noise_clip)
            return self.critic_target.min_q(next_obs, (a2 + noise).clamp(-1, 1))

        y = td_target(batch, hp.gamma, next_value)
        q1, q2 = self.critic(batch.obs, batch.action)
        critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        optimizer_step(self.critic_opt, critic_loss, self.critic.parameters(), hp.grad_clip)
        metrics = {"critic_loss": critic_loss.detach()}

        if step % hp.policy_delay == 0:
            actor_loss = -self.critic.actor_value(batch.obs, self.policy(batch.obs), "first").mean()
            optimizer_step(self.actor_opt, actor_loss, self.policy.parameters(), hp.grad_clip)
            soft_update(self.policy_target, self.policy, hp.tau)
            soft_update(self.critic_target, self.critic, hp.tau)
            metrics["actor_loss"] = actor_loss.detach()
        return metrics


PAPER: dict = dict(EDMSAC_PAPER_SETTINGS)
