"""The random contract scheme: actions uniform on [-1, 1]^d, no learning (EDMSAC Sec. VI baseline)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from mechdsl.rl.algorithms.base import Agent, CommonHparams, uniform_actions
from mechdsl.rl.buffer import Transition
from mechdsl.rl.env import BatchedEnv


@dataclass(frozen=True)
class RandomHparams(CommonHparams):
    pass


class RandomAgent(Agent):
    uses_replay = False

    def __init__(self, env: BatchedEnv, hp: RandomHparams, generator: torch.Generator, device: torch.device) -> None:
        self.hp, self.action_dim = hp, env.action_dim

    @classmethod
    def places_payments(cls, hp, env: BatchedEnv) -> bool:
        return True  # the baseline is uniformly random contracts, payments included

    def act(self, obs: torch.Tensor, *, explore: bool, generator: torch.Generator) -> torch.Tensor:
        return uniform_actions(obs.shape[0], self.action_dim, generator, obs)

    def update(self, batch: Transition, *, step: int, generator: torch.Generator, env: BatchedEnv) -> dict[str, float]:
        return {}


PAPER: dict = {}
