"""Soft Actor-Critic with a tanh-Gaussian MLP policy (Haarnoja et al. 2018, the SAC baseline).

critic:  L(v_i) = E[(y - Q_i(S, A))^2],  y = r + gamma (1 - d)(min_i Q_hat_i(S', A') - alpha log pi(A'|S'))
actor:   L(theta) = E[alpha log pi(A|S) - min_i Q_i(S, A)],  A = tanh(mu + sigma xi)
alpha:   L(alpha) = -E[log alpha (log pi(A|S) + H_target)],  H_target = -dim(A)
targets: soft update with rate tau (as eq. 60).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mechdsl.rl.algorithms.base import EDMSAC_PAPER_SETTINGS, Agent, OffPolicyHparams, adam, optimizer_step, td_target
from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv
from mechdsl.rl.networks import TanhGaussianActor, TwinCritic, frozen_copy, init_from_generator, soft_update


@dataclass(frozen=True)
class SACHparams(OffPolicyHparams):
    actor_lr: float = 3e-4
    alpha_lr: float = 3e-4
    init_alpha: float = 0.1
    autotune_alpha: bool = True


class SACAgent(Agent):
    stateful = ("policy", "critic", "critic_target", "log_alpha", "actor_opt", "critic_opt", "alpha_opt")

    def __init__(self, env: BatchedEnv, hp: SACHparams, generator: torch.Generator, device: torch.device) -> None:
        self.hp = hp
        d_s, d_a = env.state_dim, env.action_dim
        self.policy = init_from_generator(TanhGaussianActor(d_s, d_a, hp.hidden), generator).to(device)
        self.critic = init_from_generator(TwinCritic(d_s, d_a, hp.critic_widths, hp.critic_activation), generator).to(device)
        self.critic_target = frozen_copy(self.critic)
        self.log_alpha = torch.tensor(math.log(hp.init_alpha), device=device, requires_grad=True)
        self.target_entropy = -float(d_a)
        self.actor_opt = adam(self.policy.parameters(), hp.actor_lr, hp.weight_decay)
        self.critic_opt = adam(self.critic.parameters(), hp.critic_lr, hp.weight_decay)
        self.alpha_opt = adam([self.log_alpha], hp.alpha_lr)

    @property
    def actor(self) -> torch.nn.Module:
        return self.policy

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            return self.policy(obs, deterministic=not explore, generator=generator)[0]

    def update(self, batch: Transition, *, step: int, generator: torch.Generator, env: BatchedEnv) -> dict[str, torch.Tensor]:
        hp, alpha = self.hp, self.log_alpha.exp().detach()

        def next_value(next_obs: torch.Tensor) -> torch.Tensor:
            a2, logp2 = self.policy(next_obs, generator=generator)
            return self.critic_target.min_q(next_obs, a2) - alpha * logp2

        y = td_target(batch, hp.gamma, next_value)
        q1, q2 = self.critic(batch.obs, batch.action)
        critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        optimizer_step(self.critic_opt, critic_loss, self.critic.parameters(), hp.grad_clip)

        action, logp = self.policy(batch.obs, generator=generator)
        actor_loss = (alpha * logp - self.critic.actor_value(batch.obs, action, "min")).mean()
        optimizer_step(self.actor_opt, actor_loss, self.policy.parameters(), hp.grad_clip)

        metrics = {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "alpha": alpha}
        if hp.autotune_alpha:
            alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
            optimizer_step(self.alpha_opt, alpha_loss, [self.log_alpha])
        soft_update(self.critic_target, self.critic, hp.tau)
        return metrics


PAPER: dict = dict(EDMSAC_PAPER_SETTINGS)
