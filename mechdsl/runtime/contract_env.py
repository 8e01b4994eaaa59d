"""Base class of the generated contract envs: `HorizonOneEnv` with the action penalty, the
feasibility repair switch and the payment mode, and `evaluate` on the env's device and dtype.

Payment modes (`mechdsl.runtime.repair.PAYMENT_MODES`):
  * "action" (default): the action holds the allocations, then one slack entry per payment the
    derivation could not prove optimal at its floor; every feasible contract is an action's image.
  * "optimal": the action holds the allocations only (its first `allocation_dim` entries) and
    every state is paid the best feasible payments for them, a linear program in the payments:
    the deployed value is V(x) = max_y r(x, y) s.t. g(x, y) >= 0, whose maximum over x is the
    exact optimum, and `evaluate`'s gradient is the envelope theorem's dV/dx. A smaller action and
    no overpayment to learn away, for one LP per state per call. Where the derivation proves the
    least payments optimal (no slack entries) the two modes are the same map; a spec whose
    payments do not enter affinely has no LP, and asking for "optimal" is an error.

The mode is the constructor's `payments`, by default the spec's (`train { payments = optimal }`).
A spec that does not fix it has "auto" (`AUTO_PAYMENTS`): the training run picks the mode for
its learner (`mechdsl.rl.payment_mode`), and an env built without a learner pays from the action.

A generated subclass sets, besides `HorizonOneEnv`'s attributes, `score_actions` (its
module's pure `evaluate(state, action, action_penalty, repair, payments)`),
`default_action_penalty` (the spec's `action_penalty`), `default_payments` (the spec's
`payments`), `allocation_dim` and
`payment_program_available`, and defines `optimum`.
"""

from __future__ import annotations

from typing import Callable, ClassVar

import torch

from mechdsl.runtime.bandit_env import HorizonOneEnv
from mechdsl.runtime.repair import AUTO_PAYMENTS, OPTIMAL_PAYMENTS, PAYMENT_MODES, PAYMENTS_FROM_ACTION


def checked_payment_mode(payments: str, slack_dim: int, program_available: bool) -> str:
    """The payment mode an env runs: `payments` itself, "action" for "auto" (no learner chose)
    and where the action has no slack entries (the least payments are proven optimal, so the LP
    would only repeat them); a ValueError for an unknown mode, or for "optimal" when no LP exists
    for the spec."""
    if payments == AUTO_PAYMENTS:
        return PAYMENTS_FROM_ACTION
    if payments not in PAYMENT_MODES:
        raise ValueError(f"unknown payment mode {payments!r}; expected one of {', '.join((AUTO_PAYMENTS, *PAYMENT_MODES))}")
    if payments == OPTIMAL_PAYMENTS and slack_dim == 0:
        return PAYMENTS_FROM_ACTION
    if payments == OPTIMAL_PAYMENTS and not program_available:
        raise ValueError("payments='optimal' needs a payment LP: this package's utility or objective is not affine "
                         "in the payments (or it was compiled before the LP); use payments='action'")
    return payments


class ContractEnv(HorizonOneEnv):
    """A generated contract env (see the module docstring); `action_penalty=None` is the spec's."""

    default_action_penalty: ClassVar[float] = 0.0
    differentiable_reward: ClassVar[bool] = True  # `evaluate` is differentiable in the action (exact-reward learners)
    default_payments: ClassVar[str] = PAYMENTS_FROM_ACTION  # the spec's train-block `payments`
    allocation_dim: ClassVar[int | None] = None  # action entries that are allocations (None: unknown, older package)
    payment_program_available: ClassVar[bool] = False
    score_actions: ClassVar[Callable]  # score_actions(state, action, action_penalty, repair[, payments]) -> StepResult

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 action_penalty: float | None = None, repair: bool = True, payments: str | None = None):
        super().__init__(device, dtype)
        self.action_penalty = float(self.default_action_penalty if action_penalty is None else action_penalty)
        self.repair = bool(repair)
        self.requested_payments = self.default_payments if payments is None else payments  # "auto": the learner's
        self.payments = checked_payment_mode(self.requested_payments, self.slack_dim,
                                             self.payment_program_available)
        if self.payments == OPTIMAL_PAYMENTS:
            self.action_names = tuple(self.action_names[:self.allocation_dim])
            self.action_dim = len(self.action_names)

    @property
    def slack_dim(self) -> int:
        """Payment slack entries of the action map ("action" mode; 0 in an older package)."""
        return 0 if self.allocation_dim is None else len(type(self).action_names) - self.allocation_dim

    def with_payments(self, payments: str) -> "ContractEnv":
        """The same env (device, dtype, action penalty, repair) in payment mode `payments`."""
        return type(self)(self.device, self.dtype, self.action_penalty, self.repair, payments)

    def evaluate(self, state: torch.Tensor, action: torch.Tensor):
        state, action = state.to(self.device, self.dtype), action.to(self.device, self.dtype)
        if self.allocation_dim is None:  # a package compiled before the payment modes
            return self.score_actions(state, action, self.action_penalty, self.repair)
        return self.score_actions(state, action, self.action_penalty, self.repair, self.payments)


__all__ = ["ContractEnv", "checked_payment_mode"]
