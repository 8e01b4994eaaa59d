"""Confidence-regulated generative diffusion model (CGDM, agent-migration paper, Algorithm 1).

Actor: the reverse chain with a tanh-bounded noise estimate (eqs. 31-32) and the posterior
    variance beta_tilde_k (eq. 28). Eq. (31) prints 1/sqrt(alpha_bar_k) in front; substituting
    (26) into (30) gives 1/sqrt(alpha_k), which we use (docs/rl.md).
Denoising consistency (eq. 33), per sample (S, A):
    L_BC(theta; S, A) = E_{k ~ U{1..K}, eps} ||eps_theta(A_k, k, S) - eps||^2,
    A_k = sqrt(alpha_bar_k) A + sqrt(1 - alpha_bar_k) eps  (eq. 26).
Confidence (eq. 34): w_a(S, A) = exp(-kappa L_BC(theta; S, A) / d), evaluated at A = pi_theta(S)
    and treated as a weight (no gradient through w_a; the paper leaves this open). The printed
    (34) has no 1 / d; but L_BC sums over the action's d entries, so with a fixed kappa the weight
    falls as exp(-d): on two_period.mech at K = 5 (d = 30) it silenced the critic's gradient
    (CGDM 0.7258 of the optimum against 0.9155 without the weight, 3 seeds), while d = 6 at K = 2
    left it 0.9747. Per entry, kappa = 1 gave 0.916 at K = 5 (docs/rl.md).
Actor objective (eq. 35): max E_S[w_a(S, pi(S)) Q(S, pi(S))] - rho E_{(S,A)~D}[L_BC(theta; S, A)],
    i.e. L_a = -E[w_a Q] + rho E[L_BC] (eq. 36; the printed gradient drops rho), step (37).
    Q = min(Q_1, Q_2). Plus the boundary penalty c_b E[excess] of the straight-through clips (dmsac).
Chain start: every reverse chain (exploration, the actor loss, the critic target) starts where
    inference does, `inference_start`: the default "mode" (A_K = 0, then exploration noise) or
    "sample" (A_K ~ N(0, I), the paper's preset). With the tanh-bounded noise estimate a chain from
    A_K ~ N(0, I) cannot pull |A_K| > 1 back (x_0 estimate (A_k - sqrt(1 - alpha_bar_k) eps) /
    sqrt(alpha_bar_k), |eps| <= 1), so its x_0 estimates leave [-1, 1]: on two_period.mech
    (K = 2) the actor loss was ~250 of boundary penalty, the exploration paid large slacks
    (mean learning reward -400 against an optimum of +830), and the deployed mode chain was never
    the one trained: -0.25 of the optimum at 48,000 samples (seed 0); from the mode, 0.78.
Ablations (Sec. V-B, Fig. 3): `confidence = false` drops the weight (w_a = 1, "CGDM w.o. Con",
    the paper's kappa = 0); `consistency = false` drops the rho L_BC term ("CGDM w.o. DC", rho = 0).
    Both are switches, so the ablated runs skip the unused noise-prediction passes.
Critic (eqs. 38-39): y = r + gamma (1 - d) min_i Q_hat_i(S', pi_hat(S')); the printed (38) has no
    done flag, needed for terminal states. Targets soft-updated (eq. 40).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mechdsl.rl.algorithms.base import (
    Agent,
    DiffusionPolicyHparams,
    adam,
    gaussian_noise,
    make_diffusion_actor,
    optimizer_step,
    td_target,
)
from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv
from mechdsl.rl.networks import TwinCritic, frozen_copy, init_from_generator, soft_update


@dataclass(frozen=True)
class CGDMHparams(DiffusionPolicyHparams):
    denoise_steps: int = 5          # K (CGDM Table)
    confidence_sensitivity: float = 1.0   # kappa in eq. (34), per action entry (w_a = exp(-kappa L_BC / d))
    consistency_weight: float = 0.05      # rho in eq. (35)
    exploration_noise: float = 0.1
    confidence: bool = True               # False: w_a = 1 (ablation "CGDM w.o. Con")
    consistency: bool = True              # False: no rho L_BC term (ablation "CGDM w.o. DC")


class CGDMAgent(Agent):
    stateful = ("diffusion", "diffusion_target", "critic", "critic_target", "actor_opt", "critic_opt")

    def __init__(self, env: BatchedEnv, hp: CGDMHparams, generator: torch.Generator, device: torch.device) -> None:
        self.hp = hp
        self.diffusion = init_from_generator(make_diffusion_actor(env, hp, noise_output="tanh"), generator).to(device)
        self.diffusion_target = frozen_copy(self.diffusion)
        critic = TwinCritic(env.state_dim, env.action_dim, hp.critic_widths, hp.critic_activation)
        self.critic = init_from_generator(critic, generator).to(device)
        self.critic_target = frozen_copy(self.critic)
        self.actor_opt = adam(self.diffusion.parameters(), hp.actor_lr, hp.weight_decay)
        self.critic_opt = adam(self.critic.parameters(), hp.critic_lr, hp.weight_decay)

    @property
    def actor(self) -> torch.nn.Module:
        return self.diffusion

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            net = self.diffusion_target if (self.hp.act_with_target and not explore) else self.diffusion
            action = net.sample(obs, generator, start_scale=self.hp.inference_start_scale)
            if explore:
                action = action + gaussian_noise(action.shape, self.hp.exploration_noise, generator, action)
            return action.clamp(-1, 1)

    def update(self, batch: Transition, *, step: int, generator: torch.Generator, env: BatchedEnv) -> dict[str, float]:
        hp = self.hp
        # eq. (33) on replayed pairs (S, A) ~ D
        if hp.consistency:
            consistency = self.diffusion.noise_prediction_loss(batch.obs, batch.action, generator).mean()
        else:
            consistency = torch.zeros((), device=batch.obs.device, dtype=batch.obs.dtype)
        # eq. (34) at the policy's own action, then eq. (35)-(37)
        action, excess = self.diffusion.sample_with_excess(batch.obs, generator, start_scale=hp.inference_start_scale)
        if hp.confidence:
            with torch.no_grad():
                per_entry = hp.confidence_sensitivity / action.shape[-1]  # kappa / d: L_BC sums over d entries
                confidence = torch.exp(-per_entry * self.diffusion.noise_prediction_loss(batch.obs, action.detach(),
                                                                                           generator))
        else:
            confidence = torch.ones(batch.obs.shape[0], device=batch.obs.device, dtype=batch.obs.dtype)
        actor_loss = ((hp.boundary_penalty * excess - confidence * self.critic.actor_value(batch.obs, action, "min")).mean()
                      + (hp.consistency_weight * consistency if hp.consistency else 0.0))
        optimizer_step(self.actor_opt, actor_loss, self.diffusion.parameters(), hp.grad_clip)

        # eqs. (38)-(39)
        y = td_target(batch, hp.gamma,
                      lambda o: self.critic_target.min_q(o, self.diffusion_target.sample(
                          o, generator, start_scale=hp.inference_start_scale)))
        q1, q2 = self.critic(batch.obs, batch.action)
        critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        optimizer_step(self.critic_opt, critic_loss, self.critic.parameters(), hp.grad_clip)

        # eq. (40)
        soft_update(self.diffusion_target, self.diffusion, hp.tau)
        soft_update(self.critic_target, self.critic, hp.tau)
        return {"actor_loss": actor_loss.item(), "critic_loss": critic_loss.item(),
                "consistency": consistency.item(), "confidence": confidence.mean().item()}


# CGDM Table II: K = 5, lr 1e-4 / 1e-3, gamma 0.95, tau 0.005, batch 256, |D| = 10^6.
PAPER: dict = {"warmup_steps": 0, "noise_scale": 1.0, "actor_lr": 1e-4, "critic_lr": 1e-3, "gamma": 0.95,
               "tau": 0.005, "batch_size": 256, "buffer_size": 1_000_000, "denoise_steps": 5,
               "hidden": (256, 256, 256), "inference_start": "sample"}
