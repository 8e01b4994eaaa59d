"""Worked markets for McAfee's mechanism; concrete profitable lies in the k-double auction."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from mechdsl.auction import k_double, mcafee

F64 = torch.float64


def _market(values, costs):
    return torch.tensor([values], dtype=F64), torch.tensor([costs], dtype=F64)


def test_mcafee_midpoint_branch_trades_all_k_at_one_price():
    # b = (0.9, 0.8, 0.3), s = (0.1, 0.2, 0.5): k = 2, p0 = (0.3 + 0.5)/2 = 0.4 in [0.2, 0.8]
    out = mcafee(*_market([0.9, 0.3, 0.8], [0.5, 0.1, 0.2]))
    assert out.buyer_price.item() == out.seller_price.item() == pytest.approx(0.4)
    assert out.buyer_trades.tolist() == [[True, False, True]]
    assert out.seller_trades.tolist() == [[False, True, True]]
    assert out.budget_surplus.item() == 0.0


def test_mcafee_trade_reduction_branch_keeps_the_surplus():
    # b = (0.9, 0.8, 0.75), s = (0.1, 0.2, 0.7): k = 3 = n = m, no p0 -> reduction:
    # 2 trades, buyers pay b_3 = 0.75, sellers get s_3 = 0.7, surplus 2 * 0.05
    out = mcafee(*_market([0.9, 0.75, 0.8], [0.7, 0.1, 0.2]))
    assert out.buyer_price.item() == 0.75 and out.seller_price.item() == 0.7
    assert out.buyer_trades.tolist() == [[True, False, True]]
    assert out.seller_trades.tolist() == [[False, True, True]]
    assert out.budget_surplus.item() == pytest.approx(0.1)
    # p0 outside [s_k, b_k] also reduces: b_3 = 0.95 pushes p0 = (0.95 + 0.99)/2 above b_2
    out = mcafee(*_market([1.0, 0.96, 0.95], [0.1, 0.2, 0.99]))
    assert out.num_trades.item() == 1 and out.buyer_price.item() == 0.96


def _buyer_gain(mechanism, values, costs, buyer, lie):
    """Utility of ``buyer`` from reporting ``lie`` minus her utility from the truth."""
    v, c = _market(values, costs)
    lied = v.clone()
    lied[0, buyer] = lie
    honest = mechanism(v, c).expected_buyer_utility(v)[0, buyer]
    lying = mechanism(lied, c).expected_buyer_utility(v)[0, buyer]
    return (lying - honest).item()


def _seller_gain(mechanism, values, costs, seller, lie):
    v, c = _market(values, costs)
    lied = c.clone()
    lied[0, seller] = lie
    honest = mechanism(v, c).expected_seller_utility(c)[0, seller]
    lying = mechanism(v, lied).expected_seller_utility(c)[0, seller]
    return (lying - honest).item()


def test_k_double_rewards_shading_bids():
    """One buyer (value 1) and one seller (cost 0). At kappa = 1/2 the price is 0.5 and the
    buyer keeps 0.5; bidding 0.6 still trades at 0.3 and keeps 0.7."""
    half = partial(k_double, kappa=0.5)
    assert _buyer_gain(half, [1.0], [0.0], buyer=0, lie=0.6) == pytest.approx(0.2)
    assert _seller_gain(half, [1.0], [0.0], seller=0, lie=0.4) == pytest.approx(0.2)


@pytest.mark.parametrize(
    "kappa, side, lie, gain",
    [
        # kappa = 1: price b_k = 0.8; buyer 2 (value 0.8) bids 0.5 and pays 0.5
        (1.0, "buyer", 0.5, 0.3),
        # kappa = 0: price s_k = 0.3; seller 2 (cost 0.3) asks 0.7 and receives 0.7
        (0.0, "seller", 0.7, 0.4),
    ],
)
def test_k_double_is_not_truthful_at_either_extreme(kappa, side, lie, gain):
    values, costs = [0.9, 0.8, 0.1], [0.2, 0.3, 0.95]  # k = 2
    mechanism = partial(k_double, kappa=kappa)
    if side == "buyer":
        assert _buyer_gain(mechanism, values, costs, buyer=1, lie=lie) == pytest.approx(gain)
    else:
        assert _seller_gain(mechanism, values, costs, seller=1, lie=lie) == pytest.approx(gain)


def test_the_same_lies_do_not_pay_in_mcafee():
    values, costs = [0.9, 0.8, 0.1], [0.2, 0.3, 0.95]
    for lie in (0.31, 0.5, 0.79):
        assert _buyer_gain(mcafee, values, costs, buyer=1, lie=lie) <= 0.0
    for lie in (0.31, 0.7, 0.79):
        assert _seller_gain(mcafee, values, costs, seller=1, lie=lie) <= 0.0


def test_k_double_rejects_kappa_outside_unit_interval():
    with pytest.raises(ValueError, match="kappa"):
        k_double(*_market([1.0], [0.0]), kappa=1.5)
