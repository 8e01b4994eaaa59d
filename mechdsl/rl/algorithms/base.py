"""What every algorithm shares: the agent interface, common hyperparameters, TD targets.

An algorithm module defines a frozen hyperparameter dataclass and an ``Agent`` subclass. The
training loop (``mechdsl.rl.loop``) collects transitions and calls ``update``; it never looks
inside an agent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
from torch import nn

from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv


@dataclass(frozen=True)
class CommonHparams:
    """Fields every algorithm has. ``collect_batch`` states are acted on per training step."""

    collect_batch: int = 32
    updates_per_step: int = 1


@dataclass(frozen=True)
class OffPolicyHparams(CommonHparams):
    """Replay-buffer actor-critic fields (EDMSAC Algorithm 1 / Table I names in comments)."""

    batch_size: int = 256          # B
    buffer_size: int = 100_000     # |D|
    gamma: float = 0.99            # gamma
    tau: float = 0.005             # tau, soft-update rate (eq. 60)
    actor_lr: float = 3e-4         # eta
    critic_lr: float = 3e-4
    weight_decay: float = 0.0
    hidden: tuple[int, ...] = (128, 128)
    grad_clip: float = 0.0         # 0 disables global-norm clipping


class Agent:
    """Interface the loop drives. ``stateful`` names the attributes saved in checkpoints."""

    uses_replay: ClassVar[bool] = True
    stateful: ClassVar[tuple[str, ...]] = ()

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def update(self, batch: Transition, *, step: int, generator: torch.Generator,
               env: BatchedEnv) -> dict[str, float]:
        raise NotImplementedError

    @property
    def actor(self) -> nn.Module | None:
        """The network that maps observations to actions (dense / masked form)."""
        return None

    def deployable_actor(self) -> nn.Module | None:
        """The network used after training (compacted when pruned, Algorithm 1 line 19)."""
        return self.actor

    def pruning_sparsity(self) -> float | None:
        return None

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
            else:
                value.load_state_dict(state[name])


def adam(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


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
