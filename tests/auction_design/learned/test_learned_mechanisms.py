"""The learned families' constraints by construction, the item-wise Myerson baseline, the
reference values and the Setting's refusals; tiny training runs that must improve."""

from __future__ import annotations

import math

import pytest
import torch

from mechdsl.auction_design.learned import (
    AffineMaximizer,
    ItemwiseMyerson,
    RegretNet,
    Setting,
    reference_revenue,
    train_affine_maximizer,
    train_menu,
    train_regretnet,
    uniform,
)
from mechdsl.auction_design.learned.mechanism import expected_revenue
from mechdsl.auction_design.learned.references import myerson_single_item_uniform
from mechdsl.auction_design.learned.setting import ValueDistribution, generator_for
from mechdsl.errors import UsageError


@pytest.mark.parametrize("valuation", ["additive", "unit_demand"])
def test_regretnet_never_charges_more_than_the_reported_value(valuation):
    setting = Setting.iid(3, 2, valuation, uniform(0.0, 2.0))
    torch.manual_seed(0)
    net = RegretNet(setting, hidden=16, layers=2)
    with torch.no_grad():   # push the payment fractions towards 1
        net.payment_net[-1].bias.fill_(4.0)
    reports = setting.sample(4000, generator_for(1))
    with torch.no_grad():
        allocation, payment = net.outcome(reports)
    reported_value = (allocation * reports).sum(-1)
    assert (payment <= reported_value + 1e-6).all()
    assert float((payment / reported_value).max()) > 0.9    # the bound is nearly reached
    assert float(allocation.sum(1).max()) <= 1 + 1e-6
    if valuation == "unit_demand":
        assert float(allocation.sum(2).max()) <= 1 + 1e-6


def test_itemwise_myerson_is_second_price_with_reserve_one_half():
    setting = Setting.iid(2, 1)
    values = setting.sample(1000, generator_for(2), dtype=torch.float64)
    _, payment = ItemwiseMyerson(setting).outcome(values)
    top2 = values[:, :, 0].topk(2, dim=1).values
    expected = torch.where(top2[:, 0] >= 0.5, top2[:, 1].clamp_min(0.5), torch.zeros(()))
    assert torch.allclose(payment.sum(1), expected.to(payment.dtype), atol=1e-12)


def test_itemwise_myerson_with_asymmetric_uniforms_uses_each_virtual_value():
    # bidder 0 ~ U[0, 1] (phi = 2v - 1), bidder 1 ~ U[0, 2] (phi = 2v - 2)
    setting = Setting(2, 1, "additive", ((uniform(0, 1),), (uniform(0, 2),)))
    reports = torch.tensor([[[0.9], [1.2]], [[0.9], [1.5]], [[0.3], [0.8]]], dtype=torch.float64)
    allocation, payment = ItemwiseMyerson(setting).outcome(reports)
    # 1: phi = 0.8 vs 0.4 -> bidder 0 wins, pays (1 + 0.4)/2; 2: 0.8 vs 1.0 -> bidder 1 wins,
    # pays (2 + 0.8)/2; 3: both phi < 0 -> unsold
    assert allocation[:, :, 0].tolist() == [[1, 0], [0, 1], [0, 0]]
    assert payment.sum(1).tolist() == pytest.approx([0.7, 1.4, 0.0])


def test_reference_values():
    assert [myerson_single_item_uniform(n) for n in (1, 2, 3, 5)] == pytest.approx(
        [1 / 4, 5 / 12, 17 / 32, 43 / 64], abs=1e-12)
    # (12 + 2 sqrt 2)/27 = 0.549201 (the "0.54917" is a rounding slip)
    assert reference_revenue(Setting.iid(1, 2)).value == pytest.approx(0.5492010046, abs=1e-9)
    assert reference_revenue(Setting.iid(1, 2, "unit_demand")).value == pytest.approx(
        2 / (3 * math.sqrt(3)))
    assert reference_revenue(Setting.iid(2, 2)).optimal is False
    assert reference_revenue(Setting.iid(1, 2, distribution=uniform(0, 2))) is None


def test_setting_refusals():
    with pytest.raises(UsageError, match="not supported"):
        ValueDistribution("normal", (0.0, 1.0))
    with pytest.raises(UsageError, match="0 <= lo < hi"):
        uniform(1.0, 1.0)
    with pytest.raises(UsageError, match="valuation"):
        Setting.iid(1, 2, "gross_substitutes")
    with pytest.raises(UsageError, match="rows"):
        Setting(2, 2, "additive", ((uniform(),) * 2,))
    with pytest.raises(UsageError, match="one bidder"):
        train_menu(Setting.iid(2, 2), n_entries=2, steps=1)
    with pytest.raises(UsageError, match="additive"):
        ItemwiseMyerson(Setting.iid(2, 2, "unit_demand"))


def test_sampling_follows_the_seed_and_the_support():
    setting = Setting(2, 2, "additive", ((uniform(0, 1), uniform(2, 3)), (uniform(), uniform())))
    a = setting.sample(1000, generator_for(4))
    assert torch.equal(a, setting.sample(1000, generator_for(4)))
    assert not torch.equal(a, setting.sample(1000, generator_for(5)))
    assert float(a[:, 0, 1].min()) >= 2 and float(a[:, 0, 1].max()) <= 3
    assert float(a[:, 1].max()) <= 1


def test_tiny_trainings_improve_on_their_start():
    one_bidder = Setting.iid(1, 2)
    menu = train_menu(one_bidder, n_entries=50, steps=60, batch=512, lr=0.02)
    # the exact (argmax) menu beats selling each item at 1/2 separately (0.5) only with
    # training; a random start earns far less
    assert menu.history[-1]["exact_revenue"] > 0.45
    two = Setting.iid(2, 2)
    values = two.sample(4096, generator_for(9))
    start = expected_revenue(AffineMaximizer(two, n_lotteries=4), values)
    ama = train_affine_maximizer(two, n_lotteries=4, steps=40, batch=512, lr=0.05)
    assert expected_revenue(ama.mechanism, values) > start + 0.02
    net = train_regretnet(two, steps=5, batch=32, n_train=256, hidden=8, layers=1,
                          misreport_steps=2)
    assert math.isfinite(net.history[-1]["test_revenue"])
