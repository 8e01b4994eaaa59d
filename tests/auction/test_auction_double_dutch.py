"""Worked markets for the double Dutch auction, its clocks, its lottery and bad inputs."""

from __future__ import annotations

import pytest
import torch

from mechdsl.auction import AUCTIONS, ClockGrid, double_dutch, random_markets

F64 = torch.float64


def _run(values, costs, **kwargs):
    v = torch.tensor([values], dtype=F64)
    c = torch.tensor([costs], dtype=F64)
    return double_dutch(v, c, **kwargs)


def test_seller_set_price_all_efficient_pairs_trade():
    # b = (0.9, 0.8, 0.3), s = (0.1, 0.5, 0.6): k = 2, s_3 = 0.6 <= b_2 = 0.8, price 0.6
    out = _run([0.3, 0.9, 0.8], [0.6, 0.1, 0.5])
    assert out.price.item() == 0.6
    assert out.buyer_trades.tolist() == [[False, True, True]]
    assert out.seller_trades.tolist() == [[False, True, True]]
    assert out.seller_trade_prob.tolist() == [[0.0, 1.0, 1.0]]
    assert out.buyer_payment.tolist() == [[0.0, 0.6, 0.6]]
    assert out.seller_receipt.tolist() == [[0.0, 0.6, 0.6]]
    assert out.welfare.item() == pytest.approx(0.9 + 0.8 - 0.1 - 0.5)
    assert out.clock_rounds.item() == 2 * (2 + 1)


def test_buyer_set_price_drops_marginal_buyer_and_draws_sellers():
    # b = (1.0, 0.9, 0.7), s = (0.2, 0.4, 0.6, 0.95): k = 3, s_4 = 0.95 > b_3 = 0.7
    values, costs = [1.0, 0.7, 0.9], [0.6, 0.2, 0.95, 0.4]
    priorities = torch.tensor([[0.5, 0.1, 0.0, 0.7]], dtype=F64)
    out = _run(values, costs, lottery_priorities=priorities)
    assert out.price.item() == 0.7
    assert out.buyer_trade_prob.tolist() == [[1.0, 0.0, 1.0]]
    assert out.seller_trade_prob[0].tolist() == pytest.approx([2 / 3, 2 / 3, 0.0, 2 / 3])
    # the eligible seller with the lowest priority is left out: seller 1 (seller 2 has a
    # lower priority but is not eligible)
    assert out.seller_trades.tolist() == [[True, False, False, True]]
    assert out.num_trades.item() == 2
    # expected welfare = 1.0 + 0.9 - (2/3)(0.2 + 0.4 + 0.6)
    assert out.expected_welfare.item() == pytest.approx(1.9 - 0.8)


def test_lottery_leaves_out_the_lowest_priority_and_ignores_reports():
    values, costs = [1.0, 0.7, 0.9], [0.6, 0.2, 0.95, 0.4]
    v = torch.tensor([values] * 3, dtype=F64)
    c = torch.tensor([costs] * 3, dtype=F64)
    priorities = torch.tensor(
        [[0.1, 0.5, 0.0, 0.7], [0.9, 0.2, 0.0, 0.1], [0.3, 0.1, 0.9, 0.2]], dtype=F64
    )  # eligible sellers 0, 1, 3: lowest priority is seller 0, 3, 1 respectively
    out = double_dutch(v, c, lottery_priorities=priorities)
    left_out = (~out.seller_trades[:, [0, 3, 1]]).to(torch.int64)
    assert torch.equal(left_out, torch.eye(3, dtype=torch.int64))
    # seller 1 (cost 0.2) shading up to 0.65 < b_3 changes nothing: same set, same draw
    c_lie = c.clone()
    c_lie[:, 1] = 0.65
    lied = double_dutch(v, c_lie, lottery_priorities=priorities)
    assert torch.equal(lied.seller_trades, out.seller_trades)


def test_sampled_lottery_frequencies_match_the_exposed_probabilities():
    values, costs = random_markets(8, 5, 6, generator=torch.Generator().manual_seed(21))
    repeats = 4000
    gen = torch.Generator().manual_seed(22)
    out = double_dutch(
        values.repeat(repeats, 1), costs.repeat(repeats, 1), generator=gen
    )
    freq = out.seller_trades.to(F64).reshape(repeats, 8, 6).mean(0)
    prob = out.seller_trade_prob[:8]
    # binomial standard error <= 0.5/sqrt(4000) ~ 0.008; allow 5 of them
    assert torch.allclose(freq, prob, atol=0.04)


def test_no_trade_markets_have_nan_price_and_zero_payments():
    out = _run([0.2, 0.1], [0.5, 0.6])  # k = 0
    assert torch.isnan(out.price).all()
    assert out.num_trades.item() == 0 and out.welfare.item() == 0.0
    assert out.buyer_payment.abs().sum().item() == 0.0
    assert out.clock_rounds.item() == 2
    single = _run([0.9], [0.1, 0.95])  # k = 1, price b_1: the only buyer sets it and is dropped
    assert torch.isnan(single.price).all() and single.num_trades.item() == 0


def test_mirror_rule_is_max_of_s_k_and_b_next_with_a_buyer_lottery():
    # b = (0.9, 0.8, 0.3), s = (0.1, 0.5): k = 2, b_3 = 0.3 < s_2 = 0.5 -> price s_2,
    # seller 2 dropped, one of the two top buyers drawn
    out = _run([0.9, 0.3, 0.8], [0.5, 0.1], lottery_side="buyers",
               lottery_priorities=torch.tensor([[0.6, 0.0, 0.4]], dtype=F64))  # fmt: skip
    assert out.price.item() == 0.5
    assert out.buyer_trade_prob.tolist() == [[0.5, 0.0, 0.5]]
    assert out.seller_trade_prob.tolist() == [[0.0, 1.0]]
    assert out.buyer_trades.tolist() == [[True, False, False]]  # buyer 2 has the lower priority


def test_grid_clock_worked_example():
    # grid 0, 0.1, ..., 1 (J = 10); buyers seen at 0.8 and 0.5, sellers at 0.2 and 0.7.
    # ticks: buyer 10->8 (2), seller 0->2 (2), buyer 8->5 (3), seller 2->6 crosses (4),
    # last seller move 6->7 admits seller 2 below b_1's level 8 (1): 12 ticks, price 0.7.
    clock = ClockGrid(0.0, 1.0, 0.1)
    out = _run([0.85, 0.55], [0.15, 0.62], clock=clock)
    assert out.clock_rounds.item() == 12
    assert out.price.item() == pytest.approx(0.7)
    assert out.buyer_trades.tolist() == [[True, False]]
    assert out.seller_trades.tolist() == [[True, False]]
    exact = _run([0.85, 0.55], [0.15, 0.62])
    assert exact.price.item() == 0.62 and exact.clock_rounds.item() == 4


def test_grid_clock_converges_to_exact_clock_as_step_shrinks():
    values, costs = random_markets(500, 6, 6, generator=torch.Generator().manual_seed(23))
    draws = torch.rand(500, 6, generator=torch.Generator().manual_seed(24), dtype=F64)
    exact = double_dutch(values, costs, lottery_priorities=draws)
    fine = double_dutch(values, costs, clock=ClockGrid(0.0, 1.0, 1e-6), lottery_priorities=draws)
    traded = ~torch.isnan(exact.price)
    assert torch.equal(fine.buyer_trades, exact.buyer_trades)
    assert torch.equal(fine.seller_trades, exact.seller_trades)
    assert (fine.price[traded] - exact.price[traded]).abs().max().item() <= 1e-6
    assert bool((fine.clock_rounds > 1_000_000).all())  # ticks count grid levels travelled


def test_float32_and_device_follow_the_inputs():
    values, costs = random_markets(64, 4, 5, dtype=torch.float32,
                                   generator=torch.Generator().manual_seed(25))  # fmt: skip
    out = double_dutch(values, costs, generator=torch.Generator().manual_seed(26))
    assert out.price.dtype == torch.float32 and out.buyer_payment.dtype == torch.float32
    assert out.price.device == values.device
    ref = double_dutch(values.double(), costs.double(), generator=torch.Generator().manual_seed(26))
    assert torch.equal(out.buyer_trades, ref.buyer_trades)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():  # pragma: no cover - CPU-only CI
    values, costs = random_markets(16, 3, 3, device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    assert double_dutch(values, costs, generator=gen).price.device.type == "cuda"


def test_registry_runs_every_mechanism():
    values, costs = random_markets(4, 3, 3, generator=torch.Generator().manual_seed(27))
    assert set(AUCTIONS) == {"double_dutch", "mcafee", "k_double"}
    for auction in AUCTIONS.values():
        assert auction(values, costs).buyer_trades.shape == (4, 3)


def test_single_price_property_refuses_two_price_mechanisms():
    values, costs = torch.tensor([[1.0, 0.9]], dtype=F64), torch.tensor([[0.0, 0.1]], dtype=F64)
    with pytest.raises(AttributeError):
        _ = AUCTIONS["mcafee"](values, costs).price


GOOD_V, GOOD_C = torch.zeros(2, 3, dtype=F64), torch.zeros(2, 4, dtype=F64)


@pytest.mark.parametrize(
    "values, costs, kwargs, message",
    [
        (GOOD_V[0], GOOD_C, {}, "2-D"),
        (GOOD_V, GOOD_C[:1], {}, "batch sizes differ"),
        (GOOD_V.to(torch.int64), GOOD_C.to(torch.int64), {}, "floating dtype"),
        (GOOD_V, GOOD_C.float(), {}, "floating dtype"),
        (GOOD_V[:, :0], GOOD_C, {}, "at least one buyer"),
        (torch.full((2, 3), float("nan"), dtype=F64), GOOD_C, {}, "finite"),
        (GOOD_V, torch.full((2, 4), float("inf"), dtype=F64), {}, "finite"),
        ([[0.5]], [[0.1]], {}, "torch tensors"),
        (GOOD_V, GOOD_C, {"lottery_side": "auctioneer"}, "lottery_side"),
        (GOOD_V, GOOD_C, {"lottery_priorities": torch.zeros(2, dtype=F64)}, "shape"),
        (GOOD_V, GOOD_C, {"lottery_side": "buyers",
                          "lottery_priorities": torch.zeros(2, 4, dtype=F64)}, "shape"),
        (GOOD_V, GOOD_C, {"lottery_priorities": torch.full((2, 4), float("nan"))}, "finite"),
    ],
)
def test_bad_inputs_are_rejected_with_a_reason(values, costs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        double_dutch(values, costs, **kwargs)


@pytest.mark.parametrize(
    "low, high, step", [(0.0, 1.0, 0.0), (0.0, 1.0, -0.1), (1.0, 0.0, 0.1), (0.0, 1.0, 0.3),
                        (0.0, float("inf"), 0.1)],
)  # fmt: skip
def test_bad_clock_grids_are_rejected(low, high, step):
    with pytest.raises(ValueError):
        ClockGrid(low, high, step)
