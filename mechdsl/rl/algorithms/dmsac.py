"""DM-based Soft Actor-Critic (DMSAC): EDMSAC (Algorithm 1) without pruning.

Objective (eq. 51): max E[sum_z gamma^z (r(S_z, A_z) + kappa H(pi_theta(.|S_z)))], r by eq. (46).
Policy (eq. 52-54): A_0 from the reverse diffusion chain conditioned on S, started in training
from A_M ~ N(0, I) (``train_start = "sample"``) or, the default under the exact reward, from its
mode A_M = 0 (``"mode"``), the start deterministic inference uses.

Entropy realisation. log pi_theta(A_0|S) of the chain is intractable. We append one Gaussian
step to the chain, A = clip(A_0 + sigma (.) xi, -1, 1), xi ~ N(0, I), with a learned
state-independent log sigma, and use its log-density given the chain's output,
    log pi(A|S, A_0) = sum_i [-xi_i^2 / 2 - log sigma_i - log(2 pi) / 2],
whose negative expectation is the entropy of that step, H = sum_i log sigma_i + d/2 log(2 pi e).
(By reparameterisation this term's gradient only reaches sigma.) kappa is tuned as in SAC:
L(kappa) = -E[log kappa (log pi + H_target)], H_target = target_entropy x d (SAC: -d). With ``entropy = "none"`` there is
no extra step and kappa = 0: the chain's own noise is the only exploration. docs/rl.md
measures both. Evaluation (explore=False) runs the chain without the extra step.

Actor (eq. 55, sign corrected): L(theta) = E[kappa log pi(A|S) - min_i Q_{v_i}(S, A) + c_b excess],
    The printed L = -E[Q + kappa log pi] would *minimise* entropy, contradicting eq. (51).
    ``excess`` = sum relu(|x_0 estimate| - 1)^2 over the chain: the clips pass gradients
    straight through, and this boundary penalty (weight c_b) keeps the unclipped values near
    [-1, 1] so an early, wrong critic cannot park the chain far outside (docs/rl.md).
Exact reward (``critic = "exact"``; ``"auto"``, the default, picks it wherever the env allows:
    horizon 1 and a reward differentiable in the action, i.e. every compiled contract). A
    contract env is a one-step problem whose reward r(S, A) = U(S, A) - lambda |A|^2 - w phi(v)
    (eq. 46) is known in closed form and differentiable, so the learned Q of eq. (55) only
    approximates a function we have. The actor's loss then uses it directly,
        L(theta) = E[kappa log pi(A|S, A_0) - c r(S, A_0) + c_b excess],   A_0 = chain(S),
    the reward at the denoised action (the one inference deploys), back-propagated through all
    M denoising steps (as DRaFT/AlignProp fine-tune diffusion samplers on a differentiable
    reward), with c the loop's reward scale so kappa keeps its meaning. The entropy term still
    tunes the final Gaussian A = A_0 + sigma xi, which only explores: r at A instead
    (``exact_reward_at = "sample"``) ascends the Gaussian-smoothed reward, whose maximiser is
    not r's. Entropy, the final Gaussian, pruning and the schedules stay as
    they are; no critic is trained (its networks are kept, untrained, so checkpoints keep one
    layout). The ``paper`` preset keeps the learned critic (the reproduction).
Critic (eq. 56, corrected): sum_i E[(y - Q_{v_i}(S, A))^2],
    y = r + gamma (1 - d)(min_i Q_hat_i(S', A') - kappa log pi_hat(A'|S')),  A' ~ pi_hat(.|S').
Targets (eq. 60): theta_hat <- tau theta + (1 - tau) theta_hat, v_hat_i likewise.
Update order follows Algorithm 1: (pruning hook), actor (59), critic (56), targets (60).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mechdsl.rl.algorithms.base import (
    EDMSAC_PAPER_DIFFUSION,
    Agent,
    DiffusionPolicyHparams,
    ExactRewardActor,
    adam,
    make_diffusion_actor,
    optimizer_step,
    td_target,
)
from mechdsl.rl.buffer import Transition
from mechdsl.rl.diffusion import clip_unit
from mechdsl.rl.env import BatchedEnv
from mechdsl.rl.networks import TwinCritic, frozen_copy, gaussian_log_prob, init_from_generator, soft_update


@dataclass(frozen=True)
class DMSACHparams(DiffusionPolicyHparams):
    entropy: str = "final_gaussian"   # "final_gaussian" | "none"
    init_log_std: float = -1.0        # log sigma of the final Gaussian step at start
    init_temperature: float = 0.01    # kappa at start
    autotune_temperature: bool = True
    temperature_lr: float = 3e-3      # fast enough that sigma follows the target entropy (docs/rl.md)
    target_entropy: float = -1.0      # per action dimension: H_target = target_entropy x dim(A)
    # Sixteen critic updates per step, an actor step (through the M-step chain, the costly part)
    # on every second, 256-wide networks and a cosine lr schedule. Contract design is a
    # contextual bandit (y = r) where the policy is only as precise as its critic and its actor
    # steps allow: on two_period (K = 2, 1500 steps) the old 4 updates / 128 units left a critic
    # error of 22 utility units at the policy's actions and 0.940 of the optimum; these settings
    # reach 0.988 (docs/rl.md, "Making the critic-based learners precise on compiled contracts").
    hidden: tuple[int, ...] = (256, 256)
    updates_per_step: int = 16
    actor_every: int = 2
    lr_schedule: str = "cosine"
    actor_q: str = "min"              # "min" (eq. 55) | "mean" of the twin critics in the actor loss
    critic: str = "auto"              # "exact" (the env's own reward) | "learned" (eq. 56) | "auto" (exact where available)
    # Where the chain starts in training (exploring actions and the actor loss): "sample" (A_M ~
    # N(0, I), eq. 52), "mode" (A_M = 0, the deterministic inference path), or "auto": "mode"
    # under the exact reward, "sample" under a learned critic. With the exact reward the actor
    # ascends E_{A_M}[r(S, chain(A_M, S))] over the start's noise while inference deploys
    # chain(0, S); on two_period (K = 5, 60 action dims) the chain had to learn to cancel 60-dim
    # noise (x0 estimates 12x the noise at m = M, boundary excess ~800) and stayed at ratio -0.67
    # after 100 steps, against 0.83 from the mode (K = 2: 0.51 -> 0.975;
    # benchmarks/results/exact_critic/diagnosis_K5.md).
    train_start: str = "auto"
    # Where the exact reward is evaluated in the actor loss: "chain" (A_0, the action inference
    # deploys) or "sample" (A = A_0 + sigma xi, the exploring action). "sample" ascends the
    # Gaussian-smoothed reward E_xi[r(S, A_0 + sigma xi)], whose maximiser is not r's.
    exact_reward_at: str = "chain"


class DMSACAgent(ExactRewardActor, Agent):
    stateful = ("diffusion", "diffusion_target", "log_std", "critic", "critic_target", "log_kappa",
                "actor_opt", "critic_opt", "kappa_opt")

    def __init__(self, env: BatchedEnv, hp: DMSACHparams, generator: torch.Generator, device: torch.device) -> None:
        if hp.entropy not in ("final_gaussian", "none"):
            raise ValueError(f"unknown entropy realisation {hp.entropy!r}; choose 'final_gaussian' or 'none'")
        if hp.actor_q not in ("min", "mean"):
            raise ValueError(f"unknown actor_q {hp.actor_q!r}; choose 'min' or 'mean'")
        if hp.actor_every < 1:
            raise ValueError(f"actor_every must be >= 1, got {hp.actor_every}")
        self.hp = hp
        self.choose_critic(hp.critic, env)
        if hp.train_start not in ("auto", "mode", "sample"):
            raise ValueError(f"unknown train_start {hp.train_start!r}; choose 'auto', 'mode' or 'sample'")
        self.train_start = hp.train_start if hp.train_start != "auto" else ("mode" if self.exact_reward else "sample")
        if hp.exact_reward_at not in ("chain", "sample"):
            raise ValueError(f"unknown exact_reward_at {hp.exact_reward_at!r}; choose 'chain' or 'sample'")
        d_s, d_a = env.state_dim, env.action_dim
        self.diffusion = init_from_generator(make_diffusion_actor(env, hp), generator).to(device)
        self.diffusion_target = frozen_copy(self.diffusion)
        self.log_std = torch.full((d_a,), float(hp.init_log_std), device=device, requires_grad=True)
        self.critic = init_from_generator(TwinCritic(d_s, d_a, hp.critic_widths, hp.critic_activation), generator).to(device)
        self.critic_target = frozen_copy(self.critic)
        kappa0 = hp.init_temperature if hp.entropy == "final_gaussian" else 0.0
        self.log_kappa = torch.tensor(math.log(max(kappa0, 1e-30)), device=device, requires_grad=True)
        self.target_entropy = hp.target_entropy * float(d_a)
        self.actor_opt = adam([*self.diffusion.parameters(), self.log_std], hp.actor_lr, hp.weight_decay)
        self.critic_opt = adam(self.critic.parameters(), hp.critic_lr, hp.weight_decay)
        self.kappa_opt = adam([self.log_kappa], hp.temperature_lr)

    def actor_value(self, batch: Transition, action: torch.Tensor, env: BatchedEnv) -> torch.Tensor:
        """What the actor ascends at `action`: the env's own scaled learning reward (exact
        reward) or the learned critic's value (eq. 55)."""
        if self.exact_reward:
            return self.scaled_reward(batch.state, action, env)
        return self.critic.actor_value(batch.obs, action, self.hp.actor_q)

    # -- hooks EDMSAC fills in with dynamic pruning (eqs. 57-59) ---------------------------
    def before_update(self, step: int) -> None: ...
    def before_actor_step(self) -> None: ...
    def after_actor_step(self) -> None: ...
    def after_target_update(self) -> None: ...

    @property
    def actor(self) -> nn.Module:
        return self.diffusion

    def kappa(self) -> torch.Tensor:
        return self.log_kappa.exp().detach() if self.hp.entropy == "final_gaussian" else self.log_kappa.new_zeros(())

    def policy(self, net: nn.Module, obs: torch.Tensor,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(A, log pi(A|S, A_0), excess): the chain, then the final Gaussian step when enabled."""
        a, _, logp, excess = self.policy_with_chain_output(net, obs, generator)
        return a, logp, excess

    def policy_with_chain_output(self, net: nn.Module, obs: torch.Tensor, generator: torch.Generator
                                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(A, A_0, log pi(A|S, A_0), excess): `policy` plus the chain's own output A_0."""
        a0, excess = net.sample_with_excess(obs, generator, start_scale=0.0 if self.train_start == "mode" else 1.0)
        if self.hp.entropy == "none":
            return a0, a0, torch.zeros(obs.shape[0], device=obs.device, dtype=obs.dtype), excess
        log_std = self.log_std.clamp(-5.0, 1.0)
        u = a0 + log_std.exp() * torch.randn(a0.shape, generator=generator, device=a0.device, dtype=a0.dtype)
        return clip_unit(u, self.hp.straight_through), a0, gaussian_log_prob(u, a0, log_std.expand_as(a0)), excess

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            if explore:
                return self.policy(self.diffusion, obs, generator)[0]
            net = self.diffusion_target if self.hp.act_with_target else self.deployable_actor()
            return net.sample(obs, generator, start_scale=self.hp.inference_start_scale)

    def actor_loss(self, batch: Transition, env: BatchedEnv, generator: torch.Generator,
                   kappa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(L(theta) of eq. 55 as corrected above, log pi(A|S, A_0)). Under the exact reward with
        ``exact_reward_at = "chain"`` (the default) r is taken at the chain's output A_0, the action
        inference deploys, so the final Gaussian only explores; with "sample" at A, which makes
        the actor ascend the smoothed E_xi[r(S, A_0 + sigma xi)] (sigma ~0.4 on two_period: K = 5
        0.872 against 0.973 at 3,200 samples; benchmarks/results/exact_critic/exact_reward_at.md)."""
        action, a0, logp, excess = self.policy_with_chain_output(self.diffusion, batch.obs, generator)
        valued = a0 if self.exact_reward and self.hp.exact_reward_at == "chain" else action
        loss = (kappa * logp - self.actor_value(batch, valued, env) + self.hp.boundary_penalty * excess).mean()
        return loss, logp

    def update(self, batch: Transition, *, step: int, generator: torch.Generator, env: BatchedEnv) -> dict[str, torch.Tensor]:
        hp, kappa = self.hp, self.kappa()
        self.before_update(step)
        metrics = {"kappa": kappa, "sigma": self.log_std.detach().exp().mean()}
        actor_turn = step % hp.actor_every == 0

        # actor, eqs. (55) and (59)
        if actor_turn:
            actor_loss, logp = self.actor_loss(batch, env, generator, kappa)
            optimizer_step(self.actor_opt, actor_loss, [*self.diffusion.parameters(), self.log_std], hp.grad_clip,
                           before_step=self.before_actor_step)
            self.after_actor_step()
            metrics["actor_loss"] = actor_loss.detach()
            if hp.entropy == "final_gaussian" and hp.autotune_temperature:
                kappa_loss = -(self.log_kappa * (logp.detach() + self.target_entropy)).mean()
                optimizer_step(self.kappa_opt, kappa_loss, [self.log_kappa])

        if self.exact_reward:  # nothing to fit: the actor used the reward itself
            if actor_turn:
                soft_update(self.diffusion_target, self.diffusion, hp.tau)
            self.after_target_update()
            return metrics

        # critic, eq. (56) with the corrections in the module docstring
        def next_value(next_obs: torch.Tensor) -> torch.Tensor:
            a2, logp2, _ = self.policy(self.diffusion_target, next_obs, generator)
            return self.critic_target.min_q(next_obs, a2) - kappa * logp2

        y = td_target(batch, hp.gamma, next_value)
        q1, q2 = self.critic(batch.obs, batch.action)
        critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        optimizer_step(self.critic_opt, critic_loss, self.critic.parameters(), hp.grad_clip)
        metrics["critic_loss"] = critic_loss.detach()

        # targets, eq. (60)
        if actor_turn:
            soft_update(self.diffusion_target, self.diffusion, hp.tau)
        soft_update(self.critic_target, self.critic, hp.tau)
        self.after_target_update()
        return metrics


# The default preset where the critic resolves to the exact reward: 256 fresh states per step, then
# 48 updates on minibatches of 128 replayed states, each an actor step (no critic to fit in
# between), and a chain of one denoising pass (EDP's one-step action). The learned-critic schedule
# (32 states, 16 updates, an actor step on every second) spent 1-1.6 s per 32 states at K = 5
# (exact_critic/diagnosis_K5.md). The policy is limited by its number of updates, not by the states
# it sees: two_period K = 5, 48,000 samples, one seed, EDMSAC with 8 updates and M = 6 passes 0.9755
# (3 seeds), 16 updates and M = 3 0.9808, M = 1 0.9813; at K = 2, 8 updates, M = 6 / 3 / 1: 0.9937 /
# 0.9947 / 0.9949 (exact_critic/few_step/). Fewer passes keep the ratio at a fraction of the
# deployed FLOPs and pay for the added updates (with 48 updates of 128, M = 1 / 3: K = 2 0.9993 /
# 0.9994 in 150 / 185 s, seed 0; K = 5 0.9898 / 0.9900 in 440 / 537 s, seed 2). ReLU hidden layers
# instead of Diffusion-QL's Mish: at K = 2 (one seed) every other change left EDMSAC at 0.995
# (width, lr, clipping, the head, the buffer, the reward scale; docs/rl.md, "The diffusion actors'
# plateau"), ReLU 0.9984 with M = 3 or 1. With ReLU, width pays as it does for the amortized policy:
# (512, 512) at lr 2e-3 with its gradient clip at 10 took K = 2 to 0.9990 / 0.9988 (seeds 0 / 1, 512
# held-out states; (256, 256): 0.9978 over 3 seeds) and K = 5 from 0.9857 to 0.9879 (seed 0, the
# same states). More, smaller updates then pay at K = 5 where more width and more of the same
# updates did not ((1024, 1024) 0.9863 / 0.9879, seeds 0 / 1; 24 updates of 256 states 0.9888 in 572
# s on an earlier machine): with 16 updates of 256 states EDMSAC gave 0.9875 / 0.9855 (seeds 0 / 1,
# 243 s), 32 of 128 0.9899 / 0.9887 (316 s), 48 of 128 0.9914 on seed 1 (472 s; 64 of 64 0.9905 in
# 486 s), all with M = 3, two trials at a time on 2 cores, 1000 held-out states (docs/rl.md, "The
# diffusion actors' plateau"). With M = 1, 48 updates of 128 gave 0.9888 / 0.9911 / 0.9898 at K = 5
# (seeds 0 / 1 / 2, 398-440 s each), and 64 of 128 no more (0.9872 / 0.9914, seeds 0 / 1, 522 / 537
# s). These defaults, 3 seeds: benchmarks/results/default_env/.
EXACT_REWARD: dict = {"collect_batch": 256, "batch_size": 128, "updates_per_step": 48, "actor_every": 1,
                      "denoise_steps": 1, "actor_activation": "relu", "hidden": (512, 512), "actor_lr": 2e-3,
                      "grad_clip": 10.0}

# Algorithm 1: one actor and one critic update per step at constant learning rates.
PAPER: dict = {**EDMSAC_PAPER_DIFFUSION, "updates_per_step": 1, "actor_every": 1, "lr_schedule": "constant",
               "critic": "learned", "train_start": "sample"}
