"""DM-based DDPG: DDPG whose actor is the diffusion chain (the DMDDPG baseline of the EDMSAC paper).

pi_theta(S) = A_0 of the reverse chain (eq. 54), differentiated through all M steps:
    L(theta) = E[-Q(S, A_0(theta)) + c_b excess]   (deterministic policy gradient through the chain;
    ``excess`` is the boundary penalty of the straight-through clips, see dmsac)
The chain's own noise and the Gaussian exploration noise both explore; the critic is DDPG's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mechdsl.rl.algorithms.base import EDMSAC_PAPER_DIFFUSION, DiffusionPolicyHparams, make_diffusion_actor
from mechdsl.rl.algorithms.ddpg import DDPGAgent
from mechdsl.rl.env import BatchedEnv


@dataclass(frozen=True)
class DMDDPGHparams(DiffusionPolicyHparams):
    actor_lr: float = 1e-3
    exploration_noise: float = 0.1


class DMDDPGAgent(DDPGAgent):
    def make_actor(self, env: BatchedEnv, hp: DMDDPGHparams) -> nn.Module:
        return make_diffusion_actor(env, hp)

    def pi(self, net: nn.Module, obs: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        action, excess = net.sample_with_excess(obs, generator)
        return action, self.hp.boundary_penalty * excess

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        if not explore:
            with torch.no_grad():
                net = self.policy_target if self.hp.act_with_target else self.policy
                return net.sample(obs, generator, start_scale=self.hp.inference_start_scale)
        return super().act(obs, explore=explore, generator=generator)


PAPER: dict = dict(EDMSAC_PAPER_DIFFUSION)
