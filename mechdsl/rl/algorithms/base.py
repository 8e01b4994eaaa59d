"""What every algorithm shares: the agent interface, common hyperparameters, TD targets.

An algorithm module defines a frozen hyperparameter dataclass and an ``Agent`` subclass. The
training loop (``mechdsl.rl.loop``) collects transitions and calls ``update``; it never looks
inside an agent.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch import nn

from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv, learning_reward
from mechdsl.rl.networks import ACTIVATIONS, stack_legacy_twin_state


@dataclass(frozen=True)
class CommonHparams:
    """Fields every algorithm has. ``collect_batch`` states are acted on per training step."""

    collect_batch: int = 32
    updates_per_step: int = 1
    # Learning reward subtracts w * phi(violation) (env.learning_reward). Default (-1): automatic,
    # `loop.automatic_violation_weight`: 0 where the env deploys only feasible contracts, else a
    # weight that makes a typical violation cost AUTO_VIOLATION_FACTOR reward spreads; 0 opts out.
    violation_weight: float = -1.0
    violation_penalty: str = "linear"  # phi: "linear" (v) or "log1p" (log(1 + v))
    # Rewards fed to the learner are multiplied by this; 0 = automatic, 1 / std of the learning
    # reward of uniformly random actions on a fixed probe batch (contract rewards are ~1e3,
    # which stalls critics tuned for unit-scale rewards). Reported metrics stay unscaled.
    reward_scale: float = 0.0
    # Learning-rate schedule over the run: "constant", or "cosine" from each optimizer's lr down
    # to lr_final x lr at the last step (lr(f) = lr (lr_final + (1 - lr_final)(1 + cos(pi f))/2),
    # f = step / steps). A contextual bandit ends with a policy as precise as the last updates'
    # noise allows; annealing removes that noise (docs/rl.md measures it).
    lr_schedule: str = "constant"
    lr_final: float = 0.1


@dataclass(frozen=True)
class OffPolicyHparams(CommonHparams):
    """Replay-buffer actor-critic fields (EDMSAC Algorithm 1 / Table I names in comments)."""

    batch_size: int = 256          # B
    warmup_steps: int = 10         # steps of uniformly random actions before the policy acts
    buffer_size: int = 100_000     # |D|
    gamma: float = 0.99            # gamma
    tau: float = 0.005             # tau, soft-update rate (eq. 60)
    actor_lr: float = 1e-3         # eta
    critic_lr: float = 1e-3
    weight_decay: float = 0.0
    hidden: tuple[int, ...] = (128, 128)
    critic_hidden: tuple[int, ...] = ()  # the critics' widths; () = the same as `hidden`
    grad_clip: float = 0.0         # 0 disables global-norm clipping
    critic_activation: str = "mish"

    @property
    def critic_widths(self) -> tuple[int, ...]:
        return self.critic_hidden or self.hidden


# EDMSAC Sec. VI (also used for its baselines): Adam with weight decay 1e-4, gamma 0.99,
# tau 0.005, actor / critic lr 2e-7 / 2e-6; batch 512 and three 256-unit layers as in GDM/DMSAC.
EDMSAC_PAPER_SETTINGS: dict = {"warmup_steps": 0, "actor_lr": 2e-7, "critic_lr": 2e-6, "gamma": 0.99, "tau": 0.005,
                               "batch_size": 512, "weight_decay": 1e-4, "hidden": (256, 256, 256)}
# ... and for its diffusion actors: M = 6, the DDPM chain of eq. (54) (noise sqrt(beta_m)), and
# inference with the target policy (Algorithm 1 line 22).
EDMSAC_PAPER_DIFFUSION: dict = {**EDMSAC_PAPER_SETTINGS, "denoise_steps": 6, "noise_scale": 1.0, "variance": "beta",
                                "act_with_target": True, "inference_start": "sample"}


class Agent(ABC):
    """Interface the loop drives. ``stateful`` names the attributes saved in checkpoints."""

    uses_replay: ClassVar[bool] = True
    stateful: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        """Actions (B, action_dim) in [-1, 1] for observations (B, state_dim)."""

    @abstractmethod
    def update(self, batch: Transition, *, step: int, generator: torch.Generator,
               env: BatchedEnv) -> dict[str, float | torch.Tensor]:
        """One learning step on `batch`; returns the losses to log (floats or 0-d tensors, which
        the loop reads from the device once per training step)."""

    def plan(self, updates: int) -> None:
        """The number of updates the run plans (its steps x updates_per_step), before the first:
        for schedules set as a fraction of the run (EDMSAC's ``prune_span``); others ignore it."""

    @property
    def actor(self) -> nn.Module | None:
        """The network that maps observations to actions (dense / masked form)."""
        return None

    def deployable_actor(self) -> nn.Module | None:
        """The network used after training (compacted when pruned, Algorithm 1 line 19)."""
        return self.actor

    def pruning_sparsity(self) -> float | None:
        return None

    def set_reward_scale(self, scale: float) -> None:
        """The factor the loop multiplies learning rewards by (`CommonHparams.reward_scale`), for
        agents that compute rewards themselves (an exact-reward actor loss); others ignore it."""

    def critic_kind(self) -> str | None:
        """"exact" (the actor's loss uses the env's own reward), "learned" (a Q network), or None
        for agents without a critic; stated in `mechdsl train`'s output and the report."""
        return None

    @classmethod
    def places_payments(cls, hp, env: BatchedEnv) -> bool:
        """Whether this learner with hyperparameters `hp`, on a contract env whose spec leaves
        `payments` to it, places the payments itself (slack entries in its action) rather than
        leaving them to the payment LP (`mechdsl.rl.payment_mode`): True for a learner that
        ascends the env's own reward gradient; False (this default) for one that estimates the
        reward from samples (a learned critic, a likelihood-ratio gradient)."""
        return False

    def optimizers(self) -> list[torch.optim.Optimizer]:
        """Every optimizer among the checkpointed attributes (their lrs follow the schedule)."""
        return [value for value in (getattr(self, name) for name in self.stateful)
                if isinstance(value, torch.optim.Optimizer)]

    def scale_learning_rates(self, factor: float) -> None:
        """Set every optimizer's lr to ``factor`` x its initial lr (kept as ``initial_lr``)."""
        for opt in self.optimizers():
            for group in opt.param_groups:
                group.setdefault("initial_lr", group["lr"])
                group["lr"] = group["initial_lr"] * factor

    def state_dict(self) -> dict:
        out = {}
        for name in self.stateful:
            value = getattr(self, name)
            out[name] = value.detach().clone() if isinstance(value, torch.Tensor) else value.state_dict()
        return out

    def load_state_dict(self, state: dict) -> None:
        for name in self.stateful:
            value = getattr(self, name)
            if isinstance(value, torch.Tensor):
                with torch.no_grad():
                    value.copy_(state[name])
            elif isinstance(value, torch.optim.Optimizer):
                value.load_state_dict(stack_legacy_twin_state(state[name], value))
            else:
                value.load_state_dict(state[name])


CRITICS = ("auto", "exact", "learned")


def exact_reward_available(env: BatchedEnv) -> bool:
    """Whether `env.evaluate` gives the exact learning reward of a one-step episode, differentiable
    in the action: horizon 1 and an env that declares `differentiable_reward` (compiled contracts;
    not the game's auctioneer, whose reward is piecewise constant in the clocks)."""
    return env.horizon == 1 and bool(getattr(env, "differentiable_reward", False))


def critic_problem(choice: str, env: BatchedEnv) -> str | None:
    """Why the `critic` hyperparameter cannot be used on `env`, or None."""
    if choice not in CRITICS:
        return f"critic must be one of {', '.join(CRITICS)}, got {choice!r}"
    if choice == "exact" and not exact_reward_available(env):
        why = (f"its episodes last {env.horizon} steps" if env.horizon != 1
               else "its reward is not differentiable in the action")
        return (f"critic = exact needs a one-step env whose reward is differentiable in the action, and {why}; "
                "use critic = learned (or auto)")
    return None


def uses_exact_reward(choice: str, env: BatchedEnv) -> bool:
    """critic = "exact", or "auto" on an env where the exact reward is available (see
    `critic_problem` for the refusal of "exact" elsewhere)."""
    return choice == "exact" or (choice == "auto" and exact_reward_available(env))


class ExactRewardActor:
    """The `critic` hyperparameter of the diffusion learners (DMSAC, EDMSAC, DM-DDPG), mixed into
    their agents: `choose_critic` resolves it for the env (refusing `exact` where the env does
    not allow it), `scaled_reward` is what an exact-reward actor ascends, c r(S, A) with c the
    loop's reward scale (`set_reward_scale`)."""

    exact_reward: bool = False
    reward_scale: float = 1.0

    def choose_critic(self, choice: str, env: BatchedEnv) -> None:
        problem = critic_problem(choice, env)
        if problem is not None:
            raise ValueError(problem)
        self.exact_reward = uses_exact_reward(choice, env)

    def set_reward_scale(self, scale: float) -> None:
        self.reward_scale = float(scale)

    def critic_kind(self) -> str:
        return "exact" if self.exact_reward else "learned"

    @classmethod
    def places_payments(cls, hp, env: BatchedEnv) -> bool:
        return uses_exact_reward(hp.critic, env)

    def scaled_reward(self, state: torch.Tensor, action: torch.Tensor, env: BatchedEnv) -> torch.Tensor:
        """c r(S, A): the env's own learning reward (eq. 46), differentiable in the action."""
        hp = self.hp
        return self.reward_scale * learning_reward(env.evaluate(state, action), hp.violation_weight, hp.violation_penalty)


def adam(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam with the multi-tensor (foreach) kernels: the same arithmetic as the per-tensor loop
    (bitwise, tests/rl/test_rl_networks.py), in a few kernel calls per step instead of ~10 per tensor."""
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params, grad_clip: float = 0.0,
                   before_step: Callable[[], None] | None = None) -> None:
    """zero_grad, backward, optional global-norm clip and gradient hook, step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(list(params), grad_clip)
    if before_step is not None:
        before_step()
    opt.step()


def td_target(batch: Transition, gamma: float,
              next_value: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """y = r + gamma (1 - d) V_hat(S')  -- ``next_value`` is only evaluated if some d = 0.

    With horizon 1 every d = 1 and y = r, the contextual-bandit case of contract design.
    The EDMSAC paper prints gamma^z (eq. 56); the Bellman backup uses gamma (docs/rl.md).
    """
    if bool((batch.done > 0.5).all()):
        return batch.reward
    with torch.no_grad():
        return batch.reward + gamma * (1 - batch.done) * next_value(batch.next_obs)


def uniform_actions(n: int, action_dim: int, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand((n, action_dim), generator=generator, device=like.device, dtype=like.dtype) * 2 - 1


def gaussian_noise(shape, std: float, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return std * torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)


@dataclass(frozen=True)
class DiffusionPolicyHparams(OffPolicyHparams):
    """Diffusion-actor fields (eqs. 47-54): M steps, noise schedule, reverse-step variance."""

    denoise_steps: int = 6         # M
    schedule: str = "vp"           # "vp" (eq. 47) | "linear" | "cosine"
    variance: str = "posterior"    # "posterior" (beta_tilde_m) | "beta" (as printed in eq. 54)
    clip_denoised: bool = True     # clip the x_0 estimate to [-1, 1] inside the chain
    straight_through: bool = True  # clips pass gradients straight through (diffusion.clip_unit)
    noise_scale: float = 0.0       # eta: reverse-step noise sigma_m multiplied by eta (1 = eq. 54)
    boundary_penalty: float = 1.0  # weight of relu(|x_0 estimate| - 1)^2 in the actor loss
    time_dim: int = 16
    actor_activation: str = "mish"  # hidden layers of the noise predictor (networks.ACTIVATIONS)
    act_with_target: bool = False  # Algorithm 1 line 22 acts with the target policy at inference
    # Where deterministic inference (explore=False) starts the reverse chain: "mode" (A_M = 0,
    # with eta = 0 a deterministic policy) or "sample" (A_M ~ N(0, I), eq. 52). A contract has
    # one optimal menu per state; the chain's residual spread over A_M draws (std ~0.025 per
    # action on two_period) costs 0.3 % of the optimum there (docs/rl.md).
    inference_start: str = "mode"

    @property
    def inference_start_scale(self) -> float:
        return 0.0 if self.inference_start == "mode" else 1.0


def make_diffusion_actor(env: BatchedEnv, hp: DiffusionPolicyHparams, noise_output: str = "linear") -> nn.Module:
    from mechdsl.rl.diffusion import SCHEDULES, DiffusionActor

    if hp.schedule not in SCHEDULES:
        raise ValueError(f"unknown noise schedule {hp.schedule!r}; choose one of {sorted(SCHEDULES)}")
    if hp.variance not in ("posterior", "beta"):
        raise ValueError(f"unknown reverse-step variance {hp.variance!r}; choose 'posterior' or 'beta'")
    if hp.actor_activation not in ACTIVATIONS:
        raise ValueError(f"unknown actor_activation {hp.actor_activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if hp.inference_start not in ("mode", "sample"):
        raise ValueError(f"unknown inference_start {hp.inference_start!r}; choose 'mode' or 'sample'")
    return DiffusionActor(env.state_dim, env.action_dim, hidden=hp.hidden, steps=hp.denoise_steps,
                          schedule=hp.schedule, variance=hp.variance, clip_denoised=hp.clip_denoised,
                          noise_output=noise_output, time_dim=hp.time_dim,
                          straight_through=hp.straight_through, noise_scale=hp.noise_scale,
                          activation=hp.actor_activation)
