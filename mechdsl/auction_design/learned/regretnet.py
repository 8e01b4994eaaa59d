"""RegretNet: several bidders, learned allocation and payment networks trained on regret
(Duetting, Feng, Narasimhan, Parkes, Ravindranath 2019, "Optimal Auctions through Deep
Learning", Sec. 3).

Allocation network: an MLP on the flattened bids; for additive bidders a softmax over the
n bidders plus a dummy bidder (the item unsold) per item, so sum_i x_ij <= 1; for
unit-demand bidders the element-wise minimum of that softmax and a softmax over the m items
plus a dummy item per bidder, so also sum_j x_ij <= 1 (their Sec. 3.2).
Payment network: an MLP with a sigmoid output per bidder, the fraction of the reported
value of the allocation charged: p_i = ptilde_i * sum_j x_ij b_ij, so ex post IR holds for
every report by construction.

Training (their eq. (5)): the augmented Lagrangian
    C_rho(w; lambda) = -revenue + sum_i lambda_i rgt_i + rho / 2 sum_i rgt_i^2,
with rgt_i the empirical regret at misreports found by Adam ascent on u_i (`misreport_steps`
steps per batch, started from the previous batch's misreports of the same samples: their
`adv_reuse`), Lagrange multipliers lambda_i += rho * rgt_i every `lagrange_every` steps and
rho += `rho_increment` every `rho_every` steps.
"""

from __future__ import annotations

import time

import torch

from mechdsl.auction_design.learned.mechanism import (
    Outcome,
    TrainedMechanism,
    deviation_utilities,
    finished_training,
    truthful_utilities,
)
from mechdsl.auction_design.learned.setting import Setting, generator_for


def _mlp(inputs: int, hidden: int, layers: int, outputs: int) -> torch.nn.Sequential:
    modules: list[torch.nn.Module] = []
    width = inputs
    for _ in range(layers):
        linear = torch.nn.Linear(width, hidden)
        torch.nn.init.xavier_uniform_(linear.weight)
        modules += [linear, torch.nn.Tanh()]
        width = hidden
    modules.append(torch.nn.Linear(width, outputs))
    return torch.nn.Sequential(*modules)


class RegretNet(torch.nn.Module):
    """Allocation and payment networks for n bidders and m items."""

    exact_is_smooth = True   # the deployed network is its own differentiable surrogate

    def __init__(self, setting: Setting, hidden: int = 100, layers: int = 3):
        super().__init__()
        self.setting = setting
        n, m = setting.n_bidders, setting.n_items
        self.allocation_net = _mlp(n * m, hidden, layers, (n + 1) * m)
        if setting.valuation == "unit_demand":
            self.item_net = _mlp(n * m, hidden, layers, n * (m + 1))
        self.payment_net = _mlp(n * m, hidden, layers, n)

    def outcome(self, reports: torch.Tensor, exact: bool = True) -> Outcome:
        batch, n, m = reports.shape
        dtype = reports.dtype     # a float64 certificate of float32 networks: cast in and out
        flat = reports.reshape(batch, n * m).to(self.payment_net[0].weight.dtype)
        by_bidder = torch.softmax(self.allocation_net(flat).view(batch, n + 1, m), dim=1)[:, :n]
        allocation = by_bidder
        if self.setting.valuation == "unit_demand":
            by_item = torch.softmax(self.item_net(flat).view(batch, n, m + 1), dim=2)[:, :, :m]
            allocation = torch.minimum(by_bidder, by_item)
        fraction = torch.sigmoid(self.payment_net(flat))
        allocation = allocation.to(dtype)
        return allocation, fraction.to(dtype) * (allocation * reports).sum(-1)


def ascend_misreports(mechanism, values: torch.Tensor, misreports: torch.Tensor, steps: int,
                      lr: float, exact: bool = False) -> torch.Tensor:
    """``steps`` Adam steps raising every bidder's deviation utility, kept in the value box."""
    lo, hi = mechanism.setting.bounds(values.device, values.dtype)
    misreports = misreports.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([misreports], lr=lr)
    for _ in range(steps):
        utility = deviation_utilities(mechanism, values, misreports, exact=exact)
        # the gradient w.r.t. the misreports only: the network's weights are not trained here
        (misreports.grad,) = torch.autograd.grad(-utility.sum(), [misreports])
        optimizer.step()
        with torch.no_grad():
            misreports.copy_(torch.maximum(torch.minimum(misreports, hi), lo))
    return misreports.detach()


def train_regretnet(setting: Setting, steps: int = 5000, batch: int = 128,
                    n_train: int = 1 << 15, hidden: int = 100, layers: int = 3,
                    lr: float = 1e-3, misreport_steps: int = 25, misreport_lr: float = 0.1,
                    rho: float = 1.0, rho_increment: float = 1.0, rho_every: int = 1000,
                    lagrange_init: float = 5.0, lagrange_every: int = 100, seed: int = 0,
                    device: torch.device | str = "cpu", time_limit_s: float | None = None,
                    log_every: int = 500) -> TrainedMechanism:
    """RegretNet's augmented-Lagrangian training on a fixed sample of ``n_train`` profiles.

    Stops after ``steps`` steps or ``time_limit_s`` seconds of training, whichever first.
    """
    torch.manual_seed(seed)
    net = RegretNet(setting, hidden, layers).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    g = generator_for(seed + 1, device)
    values = setting.sample(n_train, g, device)
    misreports = setting.sample(n_train, g, device)   # RegretNet starts them at random
    multipliers = torch.full((setting.n_bidders,), float(lagrange_init), device=device)
    history: list[dict[str, float]] = []
    order = torch.randperm(n_train, generator=g, device=device)
    cursor = 0
    start = time.perf_counter()
    step = 0
    for step in range(1, steps + 1):
        if cursor + batch > n_train:
            order, cursor = torch.randperm(n_train, generator=g, device=device), 0
        idx = order[cursor:cursor + batch]
        cursor += batch
        v = values[idx]
        misreports[idx] = ascend_misreports(net, v, misreports[idx], misreport_steps, misreport_lr)
        regret = (deviation_utilities(net, v, misreports[idx]) - truthful_utilities(net, v)).clamp_min(0)
        regret = regret.mean(0)                                            # (n,)
        _, payment = net.outcome(v)
        revenue = payment.sum(-1).mean()
        loss = -revenue + (multipliers * regret).sum() + 0.5 * rho * (regret ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % lagrange_every == 0:
            multipliers = multipliers + rho * regret.detach()
        if step % rho_every == 0:
            rho += rho_increment
        if step % log_every == 0:
            history.append({"step": step, "revenue": float(revenue.detach()),
                            "regret": float(regret.detach().mean()), "rho": rho,
                            "seconds": time.perf_counter() - start})
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            break
    return finished_training(net, setting, step, start, history, seed, device, "test_revenue", 1 << 14)
