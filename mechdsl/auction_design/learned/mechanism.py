"""What every learned (or baseline) auction mechanism offers, and the utilities it induces.

A mechanism maps a batch of reported profiles b, shaped (B, n, m), to an allocation
x(b) in [0, 1]^(B, n, m) and payments p(b) in R^(B, n). Bidder i with true values v_i
gets the quasi-linear utility u_i(v_i; b) = v_i . x_i(b) - p_i(b) (additive and unit-demand
valuations alike: for unit demand x_i is a lottery over single items).

`outcome(reports, exact=True)` is the mechanism as deployed (argmax menu selection, hard
affine maximisation); `exact=False` is its differentiable surrogate used in training and to
point a gradient-ascent misreport search (the certificate still scores the exact outcome).

`deviation_utilities` is the one place that builds the profiles in which a single bidder
deviates and the others report truthfully (RegretNet's misreport profiles, Duetting et al.
2019, Sec. 3): training, the gradient certificate and the grid certificate all use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import torch

from mechdsl.auction_design.learned.setting import Setting, generator_for
from mechdsl.errors import UsageError

Outcome = tuple[torch.Tensor, torch.Tensor]


class Mechanism(Protocol):
    setting: Setting

    def outcome(self, reports: torch.Tensor, exact: bool = True) -> Outcome:
        """Allocation (B, n, m) and payments (B, n) for reported profiles (B, n, m)."""
        ...


@dataclass
class TrainedMechanism:
    """A trained mechanism, the seconds its training took and its training curve."""

    mechanism: torch.nn.Module
    training_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


def truthful_utilities(mechanism: Mechanism, values: torch.Tensor, exact: bool = True) -> torch.Tensor:
    """u_i(v_i; v) for every bidder, shaped (B, n)."""
    allocation, payment = mechanism.outcome(values, exact=exact)
    return (allocation * values).sum(-1) - payment


def deviation_utilities(mechanism: Mechanism, values: torch.Tensor, misreports: torch.Tensor,
                        exact: bool = True) -> torch.Tensor:
    """u_i(v_i; (b_i, v_-i)) for every bidder i on its own deviation, shaped (B, n).

    ``misreports`` (B, n, m) holds b_i in row i; the mechanism sees B * n profiles, profile
    (s, i) being sample s with row i replaced by b_i.
    """
    batch, n, m = values.shape
    eye = torch.eye(n, dtype=torch.bool, device=values.device).view(1, n, n, 1)
    profiles = torch.where(eye, misreports.unsqueeze(2), values.unsqueeze(1))   # (B, i, n, m)
    allocation, payment = mechanism.outcome(profiles.reshape(batch * n, n, m), exact=exact)
    allocation = allocation.view(batch, n, n, m).diagonal(dim1=1, dim2=2).transpose(1, 2)  # (B, n, m)
    payment = payment.view(batch, n, n).diagonal(dim1=1, dim2=2)                           # (B, n)
    return (allocation * values).sum(-1) - payment


def expected_revenue(mechanism: Mechanism, values: torch.Tensor, exact: bool = True,
                     chunk: int = 1 << 16) -> float:
    """Mean of sum_i p_i(v) over the sampled profiles (truthful reports)."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, values.shape[0], chunk):
            _, payment = mechanism.outcome(values[start:start + chunk], exact=exact)
            total += float(payment.sum(-1).double().sum())
    return total / values.shape[0]


def maximize_soft_revenue(mechanism: torch.nn.Module, setting: Setting, *, steps: int, batch: int, lr: float,
                          seed: int, device: torch.device | str, time_limit_s: float | None,
                          log_every: int) -> TrainedMechanism:
    """Adam on -E[sum_i p_i] of a mechanism that is IC and IR for every parameter (a menu, an
    affine maximizer), under its softmax relaxation (`outcome(values, exact=False)`), fresh
    value samples every step. The learning rate decays from ``lr`` to ``lr / 20`` on a cosine
    over ``steps`` (the softmax selection is sharp, and a constant rate leaves the parameters
    jittering around the optimum); training stops early after ``time_limit_s`` seconds if given.
    The history logs the soft revenue every ``log_every`` steps and at the last step, then the
    exact (argmax) revenue on 2^16 fresh profiles."""
    optimizer = torch.optim.Adam(mechanism.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=lr / 20)
    g = generator_for(seed + 1, device)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    step = 0
    for step in range(1, steps + 1):
        _, payment = mechanism.outcome(setting.sample(batch, g, device), exact=False)
        loss = -payment.sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % log_every == 0 or step == steps:
            history.append({"step": step, "soft_revenue": -float(loss.detach())})
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            break
    return finished_training(mechanism, setting, step, start, history, seed, device, "exact_revenue", 1 << 16)


def finished_training(mechanism: torch.nn.Module, setting: Setting, step: int, start: float,
                      history: list[dict[str, float]], seed: int, device: torch.device | str, key: str,
                      profiles: int) -> TrainedMechanism:
    """The end of a training run: its time since `start`, the mechanism in eval mode, and the
    exact revenue on `profiles` fresh profiles (seed + 2) appended to the history under `key`."""
    seconds = time.perf_counter() - start
    mechanism.eval()
    history.append({"step": step, key: expected_revenue(
        mechanism, setting.sample(profiles, generator_for(seed + 2, device), device))})
    return TrainedMechanism(mechanism, seconds, history)


class ItemwiseMyerson:
    """Myerson's optimal auction run separately on every item (exactly DSIC and IR).

    For uniform(lo_i, hi_i) values the virtual value is phi_i(v) = 2 v - hi_i (Myerson 1981);
    item j goes to the bidder with the largest positive phi_i(v_ij), who pays the least value
    that would still win: max(lo_i, (hi_i + max(0, max_{k != i} phi_k)) / 2). Optimal among
    all mechanisms only for one item; for additive bidders it is the item-wise baseline
    (2 x 2 additive U[0, 1]: 2 * 5/12 = 0.8333).
    """

    def __init__(self, setting: Setting):
        if setting.valuation != "additive":
            raise UsageError("item-wise Myerson is a mechanism for additive bidders only",
                             hint="unit-demand bidders could be sold two items at once")
        self.setting = setting

    def outcome(self, reports: torch.Tensor, exact: bool = True) -> Outcome:
        lo, hi = self.setting.bounds(reports.device, reports.dtype)
        phi = 2.0 * reports - hi                                                   # (B, n, m)
        n = reports.shape[1]
        best, winner = phi.max(dim=1)                                              # (B, m)
        allocation = torch.nn.functional.one_hot(winner, n).transpose(1, 2).to(reports.dtype)
        allocation = allocation * (best > 0).unsqueeze(1).to(reports.dtype)
        # the highest virtual value among the others, per (bidder, item)
        others = phi.unsqueeze(1).expand(-1, n, -1, -1).clone()                    # (B, i, k, m)
        idx = torch.arange(n, device=reports.device)
        others[:, idx, idx, :] = -torch.inf
        rival = others.max(dim=2).values.clamp_min(0.0)                            # (B, n, m)
        threshold = torch.maximum(lo, (hi + rival) / 2.0)
        return allocation, (allocation * threshold).sum(-1)
