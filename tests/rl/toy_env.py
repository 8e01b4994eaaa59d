"""Exactly solvable environments satisfying ``mechdsl.rl.env.BatchedEnv`` for tests.

``ScreeningContractEnv``: a static screening contract with K = 2 hidden types.
    state  S = (theta_1, theta_2, q) with theta_1 ~ U(1, 2), theta_2 ~ U(2, 3), q ~ U(0.2, 0.8)
           (q = probability of the low type, 1 - q of the high type).
    agent  of type theta taking item (T, R): u = theta * R - c * T.
    principal value  sum_k q_k (a sqrt(T_k) - R_k).
    action (u_1, u_2) in [-1, 1]^2 -> allocations monotone by construction:
           T_2 = T_max (u_2 + 1) / 2,  T_1 = T_2 (u_1 + 1) / 2,
    payments by the least-payment recursion (IR of type 1 and downward IC bind):
           R_1 = c T_1 / theta_1,  R_2 = R_1 + c (T_2 - T_1) / theta_2.
    Substituting, U = q_1 a sqrt(T_1) - c T_1 (1/theta_1 - q_2/theta_2) + q_2 (a sqrt(T_2) - c T_2/theta_2),
    separable and concave, so (clipped to [0, T_max]; the clipped solution is still monotone)
           T_2* = (a theta_2 / (2c))^2,   T_1* = (q_1 a / (2c (1/theta_1 - q_2/theta_2)))^2.

``TrackingEnv``: reward 1 - (a - s)^2 for s ~ U(-1, 1); optimum 1 at a = s.
"""
from __future__ import annotations

import torch

from mechdsl.rl.env import StepResult


class ScreeningContractEnv:
    state_dim = 3
    action_dim = 2
    state_names = ("theta_1", "theta_2", "q")
    action_names = ("u_1", "u_2")
    horizon = 1

    def __init__(self, *, a: float = 2.0, c: float = 1.0, t_max: float = 10.0,
                 penalty: float = 1e-3, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.a, self.c, self.t_max, self.penalty_weight = a, c, t_max, penalty
        self.device, self.dtype = torch.device(device), dtype
        self.state_low = torch.tensor([1.0, 2.0, 0.2], device=self.device, dtype=dtype)
        self.state_high = torch.tensor([2.0, 3.0, 0.8], device=self.device, dtype=dtype)
        self._state: torch.Tensor | None = None

    def reset(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand(batch_size, 3, generator=generator, device=self.device, dtype=self.dtype)
        self._state = self.state_low + u * (self.state_high - self.state_low)
        return self._state

    def step(self, action: torch.Tensor) -> StepResult:
        assert self._state is not None, "reset() before step()"
        return self.evaluate(self._state, action)

    def allocations(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = (action.clamp(-1, 1) + 1) / 2
        t2 = self.t_max * u[:, 1]
        return t2 * u[:, 0], t2

    def evaluate(self, state: torch.Tensor, action: torch.Tensor) -> StepResult:
        th1, th2, q1 = state[:, 0], state[:, 1], state[:, 2]
        q2 = 1 - q1
        t1, t2 = self.allocations(action)
        r1 = self.c * t1 / th1
        r2 = r1 + self.c * (t2 - t1) / th2
        # sqrt'(0) is infinite; a tiny floor keeps gradients finite at T = 0.
        value1 = self.a * torch.sqrt(t1 + 1e-12)
        value2 = self.a * torch.sqrt(t2 + 1e-12)
        reward = q1 * (value1 - r1) + q2 * (value2 - r2)
        u11, u12, u21, u22 = self._utilities(state, action)
        violation = self._violation(state.double(), action.double()).to(reward.dtype)
        penalty = self.penalty_weight * (action ** 2).sum(dim=1)
        info = {"T_1": t1, "T_2": t2, "R_1": r1, "R_2": r2, "utility_1": u11, "utility_2": u22}
        return StepResult(reward=reward, penalty=penalty, violation=violation, info=info)

    def _utilities(self, state: torch.Tensor, action: torch.Tensor):
        """u_jk = utility of type j taking item k: theta_j R_k - c T_k."""
        th1, th2 = state[:, 0], state[:, 1]
        t1, t2 = self.allocations(action)
        r1 = self.c * t1 / th1
        r2 = r1 + self.c * (t2 - t1) / th2
        return th1 * r1 - self.c * t1, th1 * r2 - self.c * t2, th2 * r1 - self.c * t1, th2 * r2 - self.c * t2

    def _violation(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """max(0, -IR_1, -IR_2, IC_1, IC_2), evaluated in float64 so binding constraints read 0."""
        u11, u12, u21, u22 = self._utilities(state, action)
        zero = torch.zeros_like(u11)
        return torch.stack([zero, -u11, -u22, u12 - u11, u21 - u22], dim=1).amax(dim=1).clamp_min(0)

    def optimal_allocations(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        th1, th2, q1 = state[:, 0], state[:, 1], state[:, 2]
        q2 = 1 - q1
        t2 = (self.a * th2 / (2 * self.c)) ** 2
        t1 = (q1 * self.a / (2 * self.c * (1 / th1 - q2 / th2))) ** 2
        return t1.clamp(0, self.t_max), t2.clamp(0, self.t_max)

    def optimum(self, state: torch.Tensor) -> torch.Tensor:
        t1, t2 = self.optimal_allocations(state)
        th1, th2, q1 = state[:, 0], state[:, 1], state[:, 2]
        q2 = 1 - q1
        r1 = self.c * t1 / th1
        r2 = r1 + self.c * (t2 - t1) / th2
        return q1 * (self.a * t1.sqrt() - r1) + q2 * (self.a * t2.sqrt() - r2)

    def optimal_action(self, state: torch.Tensor) -> torch.Tensor:
        """Inverse of the allocation map at the optimum (for tests)."""
        t1, t2 = self.optimal_allocations(state)
        u2 = t2 / self.t_max
        u1 = torch.where(t2 > 0, t1 / t2.clamp_min(1e-12), torch.zeros_like(t1))
        return torch.stack([2 * u1 - 1, 2 * u2 - 1], dim=1)


class TrackingEnv:
    state_dim = 1
    action_dim = 1
    state_names = ("s",)
    action_names = ("a",)
    horizon = 1

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.device, self.dtype = torch.device(device), dtype
        self.state_low = torch.tensor([-1.0], device=self.device, dtype=dtype)
        self.state_high = torch.tensor([1.0], device=self.device, dtype=dtype)
        self._state: torch.Tensor | None = None

    def reset(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        self._state = torch.rand(batch_size, 1, generator=generator, device=self.device, dtype=self.dtype) * 2 - 1
        return self._state

    def step(self, action: torch.Tensor) -> StepResult:
        assert self._state is not None, "reset() before step()"
        return self.evaluate(self._state, action)

    def evaluate(self, state: torch.Tensor, action: torch.Tensor) -> StepResult:
        reward = 1 - ((action - state) ** 2).sum(dim=1)
        zero = torch.zeros_like(reward)
        return StepResult(reward=reward, penalty=zero, violation=zero, info={"a": action[:, 0]})

    def optimum(self, state: torch.Tensor) -> torch.Tensor:
        return torch.ones(state.shape[0], device=state.device, dtype=state.dtype)
