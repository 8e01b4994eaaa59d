"""Proximal Policy Optimisation (Schulman et al. 2017), the PPO baseline.

Policy: A = tanh(U), U ~ N(mu_theta(S), diag(sigma^2)), state-independent log sigma. Actions
stored in [-1, 1] are mapped back by U = atanh(A) so no extra per-step data is needed; the
tanh Jacobian cancels in the probability ratio rho = pi_new(U|S) / pi_old(U|S).
Each training step is one PPO iteration on the freshly collected batch:
    advantage  A_hat = r + gamma (1 - d) V(S') - V(S)   (TD(0); = r - V(S) at horizon 1), normalised
    surrogate  L_clip = -E[min(rho A_hat, clip(rho, 1 - eps, 1 + eps) A_hat)] - c_H H(pi)
    value      L_V = E[(V(S) - (r + gamma (1 - d) V(S')))^2]
optimised for ``epochs`` passes over shuffled minibatches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mechdsl.rl.algorithms.base import Agent, CommonHparams, adam, optimizer_step
from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv
from mechdsl.rl.networks import GaussianActor, ValueNet, gaussian_log_prob, init_from_generator


@dataclass(frozen=True)
class PPOHparams(CommonHparams):
    collect_batch: int = 256
    epochs: int = 4
    minibatch_size: int = 64
    clip_ratio: float = 0.2
    gamma: float = 0.99
    actor_lr: float = 3e-4
    critic_lr: float = 1e-3
    entropy_coef: float = 0.0
    init_log_std: float = -0.5
    hidden: tuple[int, ...] = (64, 64)
    grad_clip: float = 0.5


class PPOAgent(Agent):
    uses_replay = False
    stateful = ("policy", "value", "actor_opt", "critic_opt")

    def __init__(self, env: BatchedEnv, hp: PPOHparams, generator: torch.Generator, device: torch.device) -> None:
        self.hp = hp
        policy = GaussianActor(env.state_dim, env.action_dim, hp.hidden, hp.init_log_std)
        self.policy = init_from_generator(policy, generator).to(device)
        self.value = init_from_generator(ValueNet(env.state_dim, hp.hidden), generator).to(device)
        self.actor_opt = adam(self.policy.parameters(), hp.actor_lr)
        self.critic_opt = adam(self.value.parameters(), hp.critic_lr)

    @property
    def actor(self) -> torch.nn.Module:
        return self.policy

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            mean, log_std = self.policy(obs)
            if not explore:
                return torch.tanh(mean)
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
            return torch.tanh(mean + log_std.exp() * noise)

    def update(self, batch: Transition, *, step: int, generator: torch.Generator, env: BatchedEnv) -> dict[str, float]:
        hp = self.hp
        u = torch.atanh(batch.action.clamp(-1 + 1e-6, 1 - 1e-6))
        with torch.no_grad():
            old_logp = gaussian_log_prob(u, *self.policy(batch.obs))
            returns = batch.reward + hp.gamma * (1 - batch.done) * self.value(batch.next_obs)
            adv = returns - self.value(batch.obs)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        n = len(batch)
        losses = []
        for _ in range(hp.epochs):
            perm = torch.randperm(n, generator=generator, device=batch.obs.device)
            for start in range(0, n, hp.minibatch_size):
                idx = perm[start:start + hp.minibatch_size]
                mean, log_std = self.policy(batch.obs[idx])
                ratio = torch.exp(gaussian_log_prob(u[idx], mean, log_std) - old_logp[idx])
                clipped = ratio.clamp(1 - hp.clip_ratio, 1 + hp.clip_ratio)
                entropy = (log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1).mean()
                policy_loss = -torch.minimum(ratio * adv[idx], clipped * adv[idx]).mean() - hp.entropy_coef * entropy
                optimizer_step(self.actor_opt, policy_loss, self.policy.parameters(), hp.grad_clip)
                value_loss = F.mse_loss(self.value(batch.obs[idx]), returns[idx])
                optimizer_step(self.critic_opt, value_loss, self.value.parameters(), hp.grad_clip)
                losses.append((policy_loss.item(), value_loss.item()))
        return {"actor_loss": sum(p for p, _ in losses) / len(losses),
                "critic_loss": sum(v for _, v in losses) / len(losses)}


PAPER: dict = {"actor_lr": 2e-7, "critic_lr": 2e-6, "gamma": 0.99}
