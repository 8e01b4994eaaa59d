"""The environment protocol every training algorithm programs against.

The code generator emits environments that satisfy :class:`BatchedEnv`; ``tests/rl/toy_env.py``
holds hand-written ones. Everything is batched: a batch of ``B`` sampled states (one contract
design problem each) is reset, acted on and scored at once.

Contract (horizon 1, contract design as a contextual bandit)
    ``reset(B)`` samples and stores ``B`` raw states; ``step(a)`` scores the actions on the
    stored states. Every step ends the episode (``done = 1``), so the TD target is the reward.

Contract (horizon > 1, sequential scenarios)
    ``step(a)`` must also return ``info["next_state"]`` (B, state_dim) raw next states and
    ``info["done"]`` (B,) in {0, 1}; the environment advances its stored states itself. The
    training loop calls ``reset`` again once every episode in the batch is done or after
    ``horizon`` steps, whichever comes first.

Reward used for learning (eq. 46 of the EDMSAC paper)
    r(S, A) = ``reward`` - ``penalty`` with ``penalty = lambda * sum(raw_action**2)``.
    ``reward`` alone is the principal's objective used for the optimality ratio.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch


@dataclass(frozen=True)
class StepResult:
    """Per-sample outcome of acting on a batch of states.

    reward:    (B,) principal utility of the contract (objective), no penalty
    penalty:   (B,) action penalty lambda * sum(raw_action**2)  (eq. 46)
    violation: (B,) worst violation of the original constraints, >= 0 (0 = feasible)
    info:      extra per-sample tensors (contract items, agent utilities, next_state, done)
    """

    reward: torch.Tensor
    penalty: torch.Tensor
    violation: torch.Tensor
    info: dict[str, torch.Tensor] = field(default_factory=dict)


@runtime_checkable
class BatchedEnv(Protocol):
    """A batched, differentiable mechanism-design environment (see module docstring)."""

    state_dim: int
    action_dim: int
    state_names: tuple[str, ...]
    action_names: tuple[str, ...]
    state_low: torch.Tensor
    state_high: torch.Tensor
    horizon: int
    device: torch.device
    dtype: torch.dtype

    def reset(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample, store and return ``batch_size`` raw states, shape (B, state_dim)."""
        ...

    def step(self, action: torch.Tensor) -> StepResult:
        """Score ``action`` (B, action_dim) in [-1, 1] on the stored states."""
        ...

    def evaluate(self, state: torch.Tensor, action: torch.Tensor) -> StepResult:
        """Pure scoring of (state, action); differentiable in ``action``."""
        ...

    def optimum(self, state: torch.Tensor) -> torch.Tensor | None:
        """Exact optimal objective per state (B,), or None when unknown."""
        ...


def observation(env: BatchedEnv, state: torch.Tensor) -> torch.Tensor:
    """Affine map of raw states into [-1, 1]: o = 2 (s - low) / (high - low) - 1.

    Dimensions with ``high == low`` (constants) map to 0.
    """
    low, high = env.state_low.to(state), env.state_high.to(state)
    span = high - low
    safe = torch.where(span > 0, span, torch.ones_like(span))
    return torch.where(span > 0, 2.0 * (state - low) / safe - 1.0, torch.zeros_like(state))


VIOLATION_PENALTIES = ("linear", "log1p")


def learning_reward(result: StepResult, violation_weight: float = 0.0, violation_penalty: str = "linear") -> torch.Tensor:
    """r(S, A) = U(S, A) - lambda * sum(A~**2) (eq. 46) - w * phi(violation): what agents maximise.

    ``violation_weight`` w (hyperparameter; a negative w is the automatic default not yet
    resolved by the training loop, `loop.automatic_violation_weight`, and counts as 0 here)
    matters only for environments whose
    action map does not make every contract feasible by construction; the violation is the
    proposed contract's (``proposal_violation``), before any feasibility repair. ``violation_penalty``
    phi is ``linear`` (phi(v) = v, an exact penalty once w exceeds the constraints' Lagrange
    multipliers) or ``log1p`` (phi(v) = log(1 + v): the same slope w at v = 0, hence still
    exact, but it grows slowly, so a critic need not fit cliffs of size w * v far from the
    feasible set; docs/rl.md measures the difference).
    """
    if not violation_weight > 0:
        return result.reward - result.penalty
    violation = proposal_violation(result)
    if result.violation.requires_grad:
        # the proposal's violation as the value, the deployed contract's as the gradient: the
        # proposal's is measured before the repair without a graph; where the repair could not
        # restore a declared constraint, the deployed contract is what the learner must move
        violation = violation.detach() + (result.violation - result.violation.detach())
    if violation_penalty == "log1p":
        return result.reward - result.penalty - violation_weight * torch.log1p(violation)
    if violation_penalty == "linear":
        return result.reward - result.penalty - violation_weight * violation
    raise ValueError(f"unknown violation_penalty {violation_penalty!r}; choose one of {VIOLATION_PENALTIES}")


def proposal_violation(result: StepResult) -> torch.Tensor:
    """The violation the policy is answerable for: that of the contract its action proposed.
    Envs with a feasibility repair (generated contract envs) deploy a repaired, feasible
    contract (``result.violation`` = 0) and report the proposal's in
    ``info["proposal_violation"]``; without a repair the two are the same."""
    return result.info.get("proposal_violation", result.violation)


def transition_tail(env: BatchedEnv, state: torch.Tensor, result: StepResult) -> tuple[torch.Tensor, torch.Tensor]:
    """(next_state, done) of a step: the stated contract for horizon 1 and horizon > 1."""
    batch = state.shape[0]
    if env.horizon == 1 or "next_state" not in result.info:
        return state, torch.ones(batch, device=state.device, dtype=state.dtype)
    done = result.info.get("done", torch.zeros(batch, device=state.device, dtype=state.dtype))
    return result.info["next_state"], done.to(state.dtype)
