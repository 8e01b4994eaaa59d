"""A lottery affine maximizer: an exactly DSIC and IR family with learned parameters
(Roberts 1979; Sandholm and Likhodedov 2015; learned lottery AMAs: Curry, Sandholm and
Dickerson 2023, "Differentiable Economics for Randomized Affine Maximizer Auctions").

Candidate allocations A = {a_1, ..., a_K}: every deterministic allocation (each item to one
bidder or to nobody; for unit demand at most one item per bidder) and `n_lotteries` learned
lotteries. With bidder weights w_i > 0 and boosts lambda_k, the mechanism picks

    k*(b) = argmax_k W_k(b),   W_k(b) = sum_i w_i b_i . a_ki + lambda_k,

and charges the weighted VCG payment

    p_i(b) = (1 / w_i) [ max_k W^{-i}_k(b) - W^{-i}_{k*}(b) ],   W^{-i}_k = W_k - w_i b_i . a_ki.

Bidder i's utility is (1 / w_i)[W_{k*}(v_i, b_-i) - max_k W^{-i}_k(b_-i)]: its report moves
only the first term, which truthful reporting maximises over A (DSIC for any parameters),
and it is >= 0 because W_k >= W^{-i}_k when values are >= 0 (IR). Training uses the softmax
relaxation of Curry et al. (their eq. (3)-(4)): selection softmax(beta W), and the max in the
payment replaced by the softmax(beta W^{-i})-weighted mean of W^{-i} (not their
(1 / beta) logsumexp, which overstates the max by up to log(K) / beta: with K = 265
candidates and beta = 100 training learned to sit on that bias, 0.46 exact revenue on 1 x 2
additive against 0.50 for selling the items separately); test time is the exact argmax.

The exact mechanism is unchanged when (w, lambda) is scaled by any c > 0, but the relaxation
is not: its selection softmax(beta W) runs at temperature beta * c, and its payment gap is
divided by w. Left free, training shrinks the scale (one bidder, 1 x 2 additive: w fell from
1 to 0.015 in 400 steps) to a soft payment near -beta Cov_softmax(beta lambda)(b . a, lambda)
that no exact mechanism charges: soft revenue 1.39 > E[v_1 + v_2], exact revenue 0 (every
report picks the largest boost at price 0). So the weights live on a fixed scale,
w = n softmax(weight_logits) (sum_i w_i = n; w = 1 for one bidder): every affine maximizer
is still reachable (divide its (w, lambda) by mean_i w_i), and the relaxation's bias stays
below log(K) / (beta min_i w_i).
"""

from __future__ import annotations

import itertools

import torch

from mechdsl.auction_design.learned.mechanism import Outcome, TrainedMechanism, maximize_soft_revenue
from mechdsl.auction_design.learned.setting import Setting, generator_for

MAX_DETERMINISTIC = 4096


def deterministic_allocations(setting: Setting) -> torch.Tensor:
    """Every deterministic feasible allocation, shaped (K, n, m) (at most `MAX_DETERMINISTIC`)."""
    n, m = setting.n_bidders, setting.n_items
    if (n + 1) ** m > MAX_DETERMINISTIC:
        return torch.zeros((1, n, m))
    rows = []
    for owners in itertools.product(range(n + 1), repeat=m):   # owner n: the item is unsold
        a = torch.zeros((n, m))
        for item, owner in enumerate(owners):
            if owner < n:
                a[owner, item] = 1.0
        if setting.valuation == "unit_demand" and bool((a.sum(1) > 1).any()):
            continue
        rows.append(a)
    return torch.stack(rows)


def initial_boosts(setting: Setting, fixed: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """lambda at initialisation: N(0, 0.1^2) for several bidders; for one bidder the menu's
    (RochetNet's) start, lambda = 0 on the empty allocation and -hi U[0, 1] elsewhere.

    With one bidder, W^{-1}_k = lambda_k, so candidate k costs max_j lambda_j - lambda_k: the
    affine maximizer is the menu {(a_k, max_j lambda_j - lambda_k)}, and the candidate with the
    largest boost is free. Random boosts start with some item free (1 x 2 additive, seed 3:
    item 2 free from step 0, the soft gradient never lowers it, exact revenue 0.25); the empty
    allocation on top makes every other entry start at a price in [0, hi]."""
    if setting.n_bidders != 1:
        return 0.1 * torch.randn((k,), generator=g)
    _, hi = setting.bounds()
    boosts = -float(hi.max()) * torch.rand((k,), generator=g)
    empty = fixed.flatten(1).abs().sum(1) == 0
    boosts[: fixed.shape[0]][empty] = 0.0
    return boosts


class AffineMaximizer(torch.nn.Module):
    def __init__(self, setting: Setting, n_lotteries: int = 64, beta: float = 100.0,
                 seed: int = 0, device: torch.device | str = "cpu"):
        super().__init__()
        self.setting = setting
        self.beta = float(beta)
        n, m = setting.n_bidders, setting.n_items
        g = generator_for(seed, "cpu")
        self.register_buffer("fixed", deterministic_allocations(setting).to(device))
        self.lottery_logits = torch.nn.Parameter(torch.randn((n_lotteries, n + 1, m), generator=g).to(device))
        if setting.valuation == "unit_demand":
            self.item_logits = torch.nn.Parameter(torch.randn((n_lotteries, n, m + 1), generator=g).to(device))
        self.weight_logits = torch.nn.Parameter(torch.zeros(n, device=device))
        k = self.fixed.shape[0] + n_lotteries
        self.boosts = torch.nn.Parameter(initial_boosts(setting, self.fixed, k, g).to(device))

    def candidates(self) -> torch.Tensor:
        """All candidate allocations, (K, n, m): the deterministic ones first."""
        lotteries = torch.softmax(self.lottery_logits, dim=1)[:, :-1]
        if self.setting.valuation == "unit_demand":
            by_item = torch.softmax(self.item_logits, dim=2)[:, :, :-1]
            lotteries = torch.minimum(lotteries, by_item)
        return torch.cat([self.fixed, lotteries])

    def weights(self) -> torch.Tensor:
        """The bidder weights w = n softmax(weight_logits), on the fixed scale sum_i w_i = n."""
        return self.setting.n_bidders * torch.softmax(self.weight_logits, dim=0)

    def outcome(self, reports: torch.Tensor, exact: bool = True) -> Outcome:
        a = self.candidates().to(reports.dtype)                                   # (K, n, m)
        w = self.weights().to(reports.dtype)                                      # (n,)
        boosts = self.boosts.to(reports.dtype)
        bidder_value = torch.einsum("bim,kim->bki", reports, a) * w              # (B, K, n)
        welfare = bidder_value.sum(-1) + boosts                                   # (B, K)
        without = welfare.unsqueeze(-1) - bidder_value                            # (B, K, n)
        if exact:
            choice = welfare.argmax(dim=-1)
            allocation = a[choice]
            chosen_without = without.gather(1, choice.view(-1, 1, 1).expand(-1, 1, without.shape[-1])).squeeze(1)
            best_without = without.max(dim=1).values
        else:
            weights = torch.softmax(self.beta * welfare, dim=-1)                  # (B, K)
            allocation = torch.einsum("bk,kim->bim", weights, a)
            chosen_without = torch.einsum("bk,bki->bi", weights, without)
            best_without = (torch.softmax(self.beta * without, dim=1) * without).sum(1)
        return allocation, (best_without - chosen_without) / w


def train_affine_maximizer(setting: Setting, n_lotteries: int = 64, steps: int = 2000,
                           batch: int = 4096, lr: float = 1e-2, beta: float = 100.0,
                           seed: int = 0, device: torch.device | str = "cpu",
                           time_limit_s: float | None = None, log_every: int = 500) -> TrainedMechanism:
    """The affine maximizer trained by `maximize_soft_revenue` (Adam on its softmax relaxation)."""
    torch.manual_seed(seed)
    return maximize_soft_revenue(AffineMaximizer(setting, n_lotteries, beta, seed, device),
                                 setting, steps=steps, batch=batch, lr=lr, seed=seed, device=device,
                                 time_limit_s=time_limit_s, log_every=log_every)
