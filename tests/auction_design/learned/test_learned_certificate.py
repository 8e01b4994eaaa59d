"""The regret certificate against closed forms: known non-IC mechanisms, and mechanisms
that are IC and IR by construction (a lottery menu, an affine maximizer) read as zero."""

from __future__ import annotations

import pytest
import torch

from mechdsl.auction_design.learned import (
    AffineMaximizer,
    ItemwiseMyerson,
    LotteryMenu,
    Setting,
    certify,
    gradient_regret,
    grid_regret,
)
from mechdsl.auction_design.learned.mechanism import truthful_utilities
from mechdsl.auction_design.learned.setting import generator_for
from mechdsl.errors import UsageError


class FirstPrice:
    """One item, highest bid wins (lowest index on ties) and pays its bid."""

    def __init__(self, setting: Setting):
        self.setting = setting

    def outcome(self, reports, exact=True):
        bids = reports[:, :, 0]
        winner = bids.argmax(dim=1)
        allocation = torch.nn.functional.one_hot(winner, bids.shape[1]).to(reports.dtype)
        return allocation.unsqueeze(-1), allocation * bids


class OverchargedLottery:
    """One bidder, one item, allocation x(b) = b and payment b^2 (IC would charge b^2 / 2):
    u(v; b) = v b - b^2 peaks at b = v / 2, so the regret at v is v^2 / 4, E = 1/12."""

    exact_is_smooth = True

    def __init__(self, setting: Setting):
        self.setting = setting

    def outcome(self, reports, exact=True):
        return reports.clone(), reports[:, :, 0] ** 2


def _values(setting: Setting, n: int, seed: int = 7) -> torch.Tensor:
    return setting.sample(n, generator_for(seed), dtype=torch.float64)


def test_first_price_grid_regret_is_the_closed_form_per_profile():
    setting = Setting.iid(2, 1)
    values = _values(setting, 2000)
    points = 51
    estimate = grid_regret(FirstPrice(setting), values, points=points)
    # bidder i's best grid bid is the smallest grid point above the rival's value v_j: it
    # wins and keeps v_i - ceil_grid(v_j) (truthful bidding earns 0)
    rival = values[:, [1, 0], 0]
    smallest_winning_bid = torch.ceil(rival * (points - 1)) / (points - 1)
    expected = (values[:, :, 0] - smallest_winning_bid).clamp_min(0.0)
    assert torch.allclose(estimate.per_sample, expected, atol=1e-12)
    # and E[(v_i - v_j)^+] = 1/6 for the continuum, less about a half grid step
    assert estimate.per_bidder[0] == pytest.approx(1 / 6 - 0.5 / (points - 1), abs=0.012)


def test_gradient_and_grid_regret_agree_with_v_squared_over_4_in_one_dimension():
    setting = Setting.iid(1, 1)
    values = _values(setting, 256)
    mechanism = OverchargedLottery(setting)
    exact = values[:, :, 0] ** 2 / 4
    grid = grid_regret(mechanism, values, points=1001)
    gradient = gradient_regret(mechanism, values, restarts=4, steps=300, lr=0.01)
    # the grid misses the peak by at most half a step: (0.0005)^2 of utility
    assert (grid.per_sample <= exact + 1e-12).all()
    assert (grid.per_sample >= exact - 0.0005 ** 2 - 1e-12).all()
    assert torch.allclose(gradient.per_sample, exact, atol=1e-5)
    assert gradient.per_bidder[0] == pytest.approx(grid.per_bidder[0], abs=1e-5)
    assert grid.per_bidder[0] == pytest.approx(float(exact.mean()), abs=1e-6)


@pytest.mark.parametrize("valuation", ["additive", "unit_demand"])
def test_a_random_menu_has_zero_regret_and_no_ir_violation(valuation):
    setting = Setting.iid(1, 2, valuation)
    menu = LotteryMenu(setting, n_entries=40, seed=3).double()
    values = _values(setting, 300)
    grid = grid_regret(menu, values, points=41)
    gradient = gradient_regret(menu, values, restarts=4, steps=20)
    assert float(grid.per_sample.max()) <= 1e-9
    assert float(gradient.per_sample.max()) <= 1e-9
    with torch.no_grad():
        assert float(truthful_utilities(menu, values).min()) >= -1e-12
        # the menu is not trivial: some profiles buy a lottery at a positive price
        assert float(menu.outcome(values)[1].max()) > 0


@pytest.mark.parametrize("shape", [(2, 2, "additive"), (2, 2, "unit_demand"), (3, 1, "additive")])
def test_a_random_affine_maximizer_has_zero_regret_and_no_ir_violation(shape):
    setting = Setting.iid(*shape)
    ama = AffineMaximizer(setting, n_lotteries=8, seed=5).double()
    with torch.no_grad():   # away from VCG: unequal weights, large boosts
        ama.weight_logits.copy_(torch.linspace(-0.5, 0.5, setting.n_bidders))
        ama.boosts.mul_(3.0)
    values = _values(setting, 200)
    grid = grid_regret(ama, values, points=21)
    assert float(grid.per_sample.max()) <= 1e-9
    with torch.no_grad():
        assert float(truthful_utilities(ama, values).min()) >= -1e-12
        a = ama.candidates()
    assert float(a.sum(1).max()) <= 1 + 1e-12          # each item sold at most once
    if setting.valuation == "unit_demand":
        assert float(a.sum(2).max()) <= 1 + 1e-12      # each bidder gets at most one item


def test_affine_maximizer_with_unit_weights_and_no_boosts_is_vcg():
    setting = Setting.iid(3, 1)
    ama = AffineMaximizer(setting, n_lotteries=0).double()
    with torch.no_grad():
        ama.boosts.zero_()
    values = _values(setting, 500)
    with torch.no_grad():
        allocation, payment = ama.outcome(values)
    bids = values[:, :, 0]
    top2 = bids.topk(2, dim=1).values
    assert torch.equal(allocation[:, :, 0].argmax(1), bids.argmax(1))
    assert torch.allclose(payment.sum(1), top2[:, 1], atol=1e-12)   # second price


def test_grid_regret_refuses_three_value_dimensions():
    setting = Setting.iid(1, 3)
    menu = LotteryMenu(setting, n_entries=4)
    with pytest.raises(UsageError, match="at most 2 value dimensions"):
        grid_regret(menu, setting.sample(4), points=3)


def test_certify_itemwise_myerson_on_one_item_reads_five_twelfths_and_zero_regret():
    setting = Setting.iid(2, 1)
    c = certify(ItemwiseMyerson(setting), setting, "myerson", samples=1 << 14,
                gradient_samples=64, restarts=2, steps=5, grid_samples=128, grid_points=51)
    assert c.reference.value == pytest.approx(5 / 12, abs=1e-12)
    assert 0.002 < c.revenue_standard_error < 0.004          # std(payment) ~ 0.27
    assert abs(c.revenue - 5 / 12) < 4 * c.revenue_standard_error
    assert c.regret == (0.0, 0.0) and c.ir_violation_rate == 0.0
    assert c.regret_adjusted_revenue == c.revenue
    assert c.as_dict()["regret_grid"] == (0.0, 0.0)
