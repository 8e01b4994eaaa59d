"""Transitions and a ring replay buffer kept on the training device."""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass(frozen=True)
class Transition:
    """A batch of (S, A, r, S', d): raw states, observations in [-1, 1], learning reward (eq. 46)."""

    state: torch.Tensor       # (B, state_dim) raw
    obs: torch.Tensor         # (B, state_dim) scaled
    action: torch.Tensor      # (B, action_dim) in [-1, 1]
    reward: torch.Tensor      # (B,) reward - penalty
    next_state: torch.Tensor  # (B, state_dim) raw
    next_obs: torch.Tensor    # (B, state_dim) scaled
    done: torch.Tensor        # (B,) in {0, 1}

    def __len__(self) -> int:
        return int(self.reward.shape[0])


class ReplayBuffer:
    """Fixed-capacity FIFO of transitions; uniform sampling with an explicit generator."""

    def __init__(self, capacity: int, state_dim: int, action_dim: int, device: torch.device,
                 dtype: torch.dtype = torch.float32) -> None:
        if capacity < 1:
            raise ValueError("replay buffer capacity must be >= 1")
        self.capacity, self.device = capacity, device
        shapes = {"state": (state_dim,), "obs": (state_dim,), "action": (action_dim,), "reward": (),
                  "next_state": (state_dim,), "next_obs": (state_dim,), "done": ()}
        self.data = {k: torch.zeros((capacity, *s), device=device, dtype=dtype) for k, s in shapes.items()}
        self.ptr = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, batch: Transition) -> None:
        n = len(batch)
        idx = (self.ptr + torch.arange(n, device=self.device)) % self.capacity
        for f in fields(Transition):
            self.data[f.name][idx] = getattr(batch, f.name).detach().to(self.data[f.name].dtype)
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Transition:
        idx = torch.randint(0, self.size, (batch_size,), generator=generator, device=self.device)
        return Transition(**{k: v[idx] for k, v in self.data.items()})

    def state_dict(self) -> dict:
        return {"ptr": self.ptr, "size": self.size, "capacity": self.capacity,
                "data": {k: v[: self.size].clone() for k, v in self.data.items()}}

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(f"checkpoint buffer capacity {state['capacity']} != {self.capacity}")
        self.ptr, self.size = state["ptr"], state["size"]
        for k, v in state["data"].items():
            self.data[k][: self.size] = v.to(self.device)
