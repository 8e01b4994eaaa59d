"""Base class of the generated horizon-1 envs (contract design and the game auctioneer as
contextual bandits), satisfying `mechdsl.rl.env.BatchedEnv`.

`reset(B, generator)` draws B states with the subclass's `sample` and stores them;
`step(action)` scores the actions on the stored states with the subclass's `evaluate`. Every
step ends the episode (horizon 1). A generated subclass sets the layouts, the state bounds
and `sample` (its module's `sample_states`) and defines `evaluate` and `optimum`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable, ClassVar

import torch


class HorizonOneEnv(ABC):
    """Fixed reset/step logic of a generated horizon-1 env (see the module docstring)."""

    horizon = 1
    differentiable_reward: ClassVar[bool] = False  # True where `evaluate`'s reward has useful gradients in the action
    state_names: ClassVar[tuple[str, ...]]
    action_names: ClassVar[tuple[str, ...]]
    state_bounds: ClassVar[tuple[tuple[float, ...], tuple[float, ...]]]  # (STATE_LOW, STATE_HIGH)
    sample: ClassVar[Callable]  # sample(batch_size, generator, device, dtype) -> (B, state_dim)

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        self.device = torch.device(device)
        self.dtype = dtype
        low, high = self.state_bounds
        self.state_low = torch.tensor(low, device=self.device, dtype=dtype)
        self.state_high = torch.tensor(high, device=self.device, dtype=dtype)
        self.state: torch.Tensor | None = None

    def reset(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        self.state = self.sample(batch_size, generator, self.device, self.dtype)
        return self.state

    def step(self, action: torch.Tensor):
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        return self.evaluate(self.state, action)

    @abstractmethod
    def evaluate(self, state: torch.Tensor, action: torch.Tensor):
        """Pure, differentiable in `action`: the StepResult of (state, action); the generated env defines it."""


__all__ = ["HorizonOneEnv"]
