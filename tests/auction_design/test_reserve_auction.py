"""The second-price auction with per-bidder reserves and its expected objective by quadrature
(mechdsl.auction_design.reserve_auction): exact values where Myerson's closed forms exist, a
Monte-Carlo simulation of the auction written here for the rest, and the reserve map."""

from __future__ import annotations

import math

import pytest
import torch

from mechdsl.auction_design.reserve_auction import (BidderLaw, action_from_reserves, expected_revenue_and_welfare,
                                                    itemwise_revenue_and_welfare, reserves_from_action)


def uniform(lo: float, hi: float) -> BidderLaw:
    return BidderLaw(lambda v: (v - lo) / (hi - lo), lambda v: 1.0 / (hi - lo), lo, hi)


def loguniform(lo: float, hi: float) -> BidderLaw:
    scale = math.log(hi / lo)
    return BidderLaw(lambda v: torch.log(v / lo) / scale, lambda v: 1.0 / (v * scale), lo, hi)


def normal(mu: float, sd: float) -> BidderLaw:
    return BidderLaw(lambda v: 0.5 * (1 + torch.erf((v - mu) / (sd * math.sqrt(2)))),
                     lambda v: torch.exp(-((v - mu) / sd) ** 2 / 2) / (sd * math.sqrt(2 * math.pi)),
                     mu - 8 * sd, mu + 8 * sd)


@pytest.mark.parametrize(("n", "exact"), [(1, 1 / 4), (2, 5 / 12), (3, 17 / 32), (5, 43 / 64)])
def test_myerson_reserve_one_half_gives_the_optimal_revenue_of_iid_uniforms(n, exact):
    reserves = torch.tensor([[0.5] * n, [0.0] * n], dtype=torch.float64)
    revenue, welfare = expected_revenue_and_welfare(reserves, [uniform(0, 1)] * n)
    assert float(revenue[0]) == pytest.approx(exact, abs=1e-12)
    assert float(revenue[1]) == pytest.approx((n - 1) / (n + 1), abs=1e-12)   # second price, no reserve
    assert float(welfare[1]) == pytest.approx(n / (n + 1), abs=1e-12)          # E[max of n uniforms]


def simulated(values: torch.Tensor, reserves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Payment and winner's value per profile: the eligible (v_i >= r_i) highest value wins and
    pays the larger of its reserve and the best other eligible value."""
    payments, won = torch.zeros(values.shape[0], dtype=values.dtype), torch.zeros(values.shape[0], dtype=values.dtype)
    n = values.shape[1]
    for i in range(n):
        eligible = values >= reserves
        others = torch.where(eligible, values, torch.zeros_like(values))
        others[:, i] = 0.0
        best_other = others.max(dim=1).values
        wins = eligible[:, i] & (values[:, i] > best_other)
        payments += torch.where(wins, torch.maximum(reserves[i], best_other), torch.zeros_like(best_other))
        won += torch.where(wins, values[:, i], torch.zeros_like(best_other))
    return payments, won


def test_quadrature_matches_a_simulation_of_the_auction_for_asymmetric_laws():
    laws = [uniform(0, 1), uniform(0.5, 2), loguniform(0.2, 3), normal(1.0, 0.3)]
    g = torch.Generator().manual_seed(0)
    s = 400_000
    u = torch.rand((s, 4), generator=g, dtype=torch.float64)
    values = torch.stack([u[:, 0], 0.5 + 1.5 * u[:, 1], 0.2 * 15 ** u[:, 2],
                          1.0 + 0.3 * math.sqrt(2) * torch.erfinv(2 * u[:, 3] - 1)], dim=1)
    for reserves in ([0.3, 1.1, 0.9, 0.8], [0.9, 0.5, 2.5, 1.2], [0.0, 0.5, 0.2, 0.0]):
        r = torch.tensor(reserves, dtype=torch.float64)
        revenue, welfare = expected_revenue_and_welfare(r[None], laws)
        payments, won = simulated(values, r)
        for exact, sample in ((revenue, payments), (welfare, won)):
            error = float(sample.std()) / math.sqrt(s)
            assert abs(float(exact[0]) - float(sample.mean())) < 4 * error, (reserves, float(exact), float(sample.mean()))


def test_the_revenue_gradient_vanishes_at_myersons_reserve_and_matches_finite_differences():
    laws = [uniform(0, 1), uniform(0, 2)]
    r = torch.tensor([[0.5, 0.5]], dtype=torch.float64, requires_grad=True)
    expected_revenue_and_welfare(r, [uniform(0, 1)] * 2)[0].sum().backward()
    assert torch.allclose(r.grad, torch.zeros_like(r), atol=1e-12)          # phi(1/2) = 0: first-order optimal
    r = torch.tensor([[0.3, 0.9]], dtype=torch.float64, requires_grad=True)
    expected_revenue_and_welfare(r, laws)[0].sum().backward()
    h = 1e-6
    for i in range(2):
        step = torch.zeros_like(r)
        step[0, i] = h
        up = expected_revenue_and_welfare(r.detach() + step, laws)[0]
        down = expected_revenue_and_welfare(r.detach() - step, laws)[0]
        assert float(r.grad[0, i]) == pytest.approx(float((up - down) / (2 * h)), abs=1e-6)


def test_the_action_reaches_every_reserve_of_the_support_and_back():
    laws = [uniform(0, 1), uniform(0.5, 2)]
    action = torch.tensor([[-1.0, 1.0], [0.0, -0.5], [2.0, -3.0]], dtype=torch.float64)
    reserves = reserves_from_action(action, laws)
    assert torch.allclose(reserves, torch.tensor([[0.0, 2.0], [0.5, 0.875], [1.0, 0.5]], dtype=torch.float64))
    assert torch.allclose(action_from_reserves(reserves, laws), action.clamp(-1, 1))


def test_items_sold_separately_add_their_auctions_bidder_major():
    # 2 bidders x 3 items, a law per (bidder, item); entry i * 3 + j is bidder i's reserve for item j
    laws = [uniform(0, 1), loguniform(1, 4), normal(2, 0.5),      # bidder 0, items 0..2
            uniform(0, 2), uniform(1, 3), loguniform(0.5, 3)]     # bidder 1
    reserves = torch.tensor([[0.5, 2.0, 2.2, 0.7, 1.5, 1.0], [0.0, 1.0, -2.0, 0.0, 1.0, 0.5]], dtype=torch.float64)
    revenue, welfare = itemwise_revenue_and_welfare(reserves, laws, 3)
    expected_revenue = torch.zeros(2, dtype=torch.float64)
    expected_welfare = torch.zeros(2, dtype=torch.float64)
    for item in range(3):
        item_revenue, item_welfare = expected_revenue_and_welfare(reserves[:, [item, 3 + item]],
                                                                  [laws[item], laws[3 + item]])
        expected_revenue, expected_welfare = expected_revenue + item_revenue, expected_welfare + item_welfare
    assert torch.allclose(revenue, expected_revenue, atol=1e-14) and torch.allclose(welfare, expected_welfare, atol=1e-14)
    # one item: the single-item auction itself
    one = itemwise_revenue_and_welfare(reserves[:, :2], laws[:2], 1)
    assert all(torch.equal(a, b) for a, b in zip(one, expected_revenue_and_welfare(reserves[:, :2], laws[:2])))
    with pytest.raises(ValueError, match="not 4 per bidder"):
        itemwise_revenue_and_welfare(reserves, laws, 4)


def test_item_wise_myerson_for_two_iid_uniform_items():
    # 2 bidders x 2 items U[0, 1] at r* = 1/2: 2 x 5/12; 1 bidder x 2 items: 2 x 1/4
    revenue, _ = itemwise_revenue_and_welfare(torch.full((1, 4), 0.5, dtype=torch.float64), [uniform(0, 1)] * 4, 2)
    assert float(revenue[0]) == pytest.approx(5 / 6, abs=1e-12)
    revenue, _ = itemwise_revenue_and_welfare(torch.full((1, 2), 0.5, dtype=torch.float64), [uniform(0, 1)] * 2, 2)
    assert float(revenue[0]) == pytest.approx(1 / 2, abs=1e-12)
