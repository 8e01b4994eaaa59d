"""RochetNet: one bidder, a learned menu of lotteries (Duetting et al. 2019, Sec. 4).

The mechanism is a menu of K lotteries (a_k, p_k), a_k in [0, 1]^m, plus the null entry
(0, 0). The bidder reporting b gets the entry maximising its reported utility
u_k(b) = a_k . b - p_k, so truthful reporting is optimal (a misreport only picks another
entry of the same menu: IC by construction) and the null entry makes the chosen utility
>= 0 (IR by construction). Training maximises the expected price under a softmax selection
softmax(beta * u(v)) (RochetNet's eq. with beta = 1000), test time takes the exact argmax.

For additive bidders a_k = sigmoid(alpha_k); for unit-demand ones a_k is the first m
coordinates of softmax over m + 1 logits (one for "no item"), so sum_j a_kj <= 1.
"""

from __future__ import annotations

import torch

from mechdsl.auction_design.learned.mechanism import Outcome, TrainedMechanism, maximize_soft_revenue
from mechdsl.auction_design.learned.setting import Setting, generator_for
from mechdsl.errors import UsageError


class LotteryMenu(torch.nn.Module):
    """A menu of ``n_entries`` lotteries and the null entry, for a single bidder."""

    def __init__(self, setting: Setting, n_entries: int = 1000, beta: float = 1000.0,
                 seed: int = 0, device: torch.device | str = "cpu"):
        super().__init__()
        if setting.n_bidders != 1:
            raise UsageError(f"a menu of lotteries sells to one bidder, the setting has "
                             f"{setting.n_bidders}", hint="use RegretNet or the affine maximizer")
        self.setting = setting
        self.beta = float(beta)
        g = generator_for(seed, "cpu")
        m = setting.n_items
        columns = m + 1 if setting.valuation == "unit_demand" else m
        _, hi = setting.bounds()
        scale = float(hi.max())
        # RochetNet's initialisation: normal allocation logits, intercepts -p_k ~ U[-1, 0]
        self.allocation_logits = torch.nn.Parameter(
            torch.randn((n_entries, columns), generator=g).to(device))
        self.neg_price = torch.nn.Parameter(
            (-scale * torch.rand((n_entries,), generator=g)).to(device))

    def menu(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The lotteries (K + 1, m) and prices (K + 1,), the null entry last."""
        if self.setting.valuation == "unit_demand":
            lotteries = torch.softmax(self.allocation_logits, dim=-1)[:, :-1]
        else:
            lotteries = torch.sigmoid(self.allocation_logits)
        null = lotteries.new_zeros((1, lotteries.shape[1]))
        prices = torch.cat([-self.neg_price, self.neg_price.new_zeros(1)])
        return torch.cat([lotteries, null]), prices

    def outcome(self, reports: torch.Tensor, exact: bool = True) -> Outcome:
        lotteries, prices = self.menu()
        lotteries, prices = lotteries.to(reports.dtype), prices.to(reports.dtype)
        b = reports[:, 0, :]                                                 # (B, m)
        utility = b @ lotteries.T - prices                                   # (B, K + 1)
        if exact:
            choice = utility.argmax(dim=-1)
            allocation, payment = lotteries[choice], prices[choice]
        else:
            weights = torch.softmax(self.beta * utility, dim=-1)
            allocation, payment = weights @ lotteries, weights @ prices
        return allocation.unsqueeze(1), payment.unsqueeze(1)


def train_menu(setting: Setting, n_entries: int = 1000, steps: int = 4000, batch: int = 8192,
               lr: float = 1e-3, beta: float = 1000.0, seed: int = 0,
               device: torch.device | str = "cpu", time_limit_s: float | None = None,
               log_every: int = 500) -> TrainedMechanism:
    """The menu trained by `maximize_soft_revenue` (Adam on its softmax relaxation)."""
    torch.manual_seed(seed)
    return maximize_soft_revenue(LotteryMenu(setting, n_entries, beta, seed, device),
                                 setting, steps=steps, batch=batch, lr=lr, seed=seed, device=device,
                                 time_limit_s=time_limit_s, log_every=log_every)
