"""Base class of the generated contract envs: `HorizonOneEnv` with the action penalty and the
feasibility repair switch, and `evaluate` on the env's device and dtype.

A generated subclass sets, besides `HorizonOneEnv`'s attributes, `score_actions` (its
module's pure `evaluate(state, action, action_penalty, repair)`) and `default_action_penalty`
(the spec's `action_penalty`), and defines `optimum`.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import torch

from mechdsl.runtime.bandit_env import HorizonOneEnv


class ContractEnv(HorizonOneEnv):
    """A generated contract env (see the module docstring); `action_penalty=None` is the spec's."""

    default_action_penalty: ClassVar[float] = 0.0
    score_actions: ClassVar[Callable]  # score_actions(state, action, action_penalty, repair) -> StepResult

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 action_penalty: float | None = None, repair: bool = True):
        super().__init__(device, dtype)
        self.action_penalty = float(self.default_action_penalty if action_penalty is None else action_penalty)
        self.repair = bool(repair)

    def evaluate(self, state: torch.Tensor, action: torch.Tensor):
        return self.score_actions(state.to(self.device, self.dtype), action.to(self.device, self.dtype),
                                  self.action_penalty, self.repair)


__all__ = ["ContractEnv"]
