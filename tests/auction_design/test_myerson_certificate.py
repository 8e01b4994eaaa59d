"""`mechdsl solve` of an auction_design spec: Myerson's auction run on sampled profiles, its
outcomes checked against the rules computed here, and a certificate that can fail."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mechdsl.auction_design.certificate import _grid_regret, certify
from mechdsl.auction_design.mechanism import SingleItemMechanism
from mechdsl.auction_design.report import derive
from mechdsl.cli.main import main
from mechdsl.lang import load_file, load_source

ROOT = Path(__file__).resolve().parents[2]
SINGLE = ROOT / "examples" / "auction_single_item.mech"
ASYMMETRIC = ROOT / "examples" / "auction_asymmetric.mech"


def test_the_symmetric_auction_is_a_second_price_auction_with_reserve_one_half():
    mechanism = SingleItemMechanism.of(derive(load_file(SINGLE, {"n": 3})).auction)
    rng = np.random.default_rng(3)
    bids = rng.uniform(0, 1, (5000, 3))
    allocation, payments = mechanism.outcome(bids)
    top = bids.argmax(axis=1)
    sold = bids.max(axis=1) >= 0.5
    assert np.array_equal(allocation.argmax(axis=1)[sold], top[sold]) and allocation[~sold].sum() == 0
    second = np.sort(bids, axis=1)[:, -2]
    assert np.allclose(payments.sum(axis=1), np.where(sold, np.maximum(0.5, second), 0), atol=1e-12)


def test_the_asymmetric_auction_pays_thresholds_in_virtual_value():
    """phi_1 = 2v - 1, phi_2 = 2v - 2: bidder 2 wins iff 2 b2 - 2 > max(2 b1 - 1, 0) and then pays
    max(1, b1 + 1/2); bidder 1 pays max(1/2, b2 - 1/2)."""
    mechanism = SingleItemMechanism.of(derive(load_file(ASYMMETRIC)).auction)
    rng = np.random.default_rng(4)
    bids = rng.uniform(0, 1, (5000, 2)) * np.array([1, 2])
    allocation, payments = mechanism.outcome(bids)
    phi = 2 * bids - np.array([1, 2])
    second_wins = (phi[:, 1] > np.maximum(phi[:, 0], 0))
    first_wins = (phi[:, 0] > np.maximum(phi[:, 1], 0))
    assert np.array_equal(allocation[:, 1] == 1, second_wins) and np.array_equal(allocation[:, 0] == 1, first_wins)
    assert np.allclose(payments[:, 1], np.where(second_wins, np.maximum(1, bids[:, 0] + 0.5), 0), atol=1e-12)
    assert np.allclose(payments[:, 0], np.where(first_wins, np.maximum(0.5, bids[:, 1] - 0.5), 0), atol=1e-12)


def test_solve_certifies_ir_and_ic_and_samples_the_revenue(capsys):
    assert main(["solve", str(SINGLE), "--seed", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    c = report["certificate"]
    assert c["holds"] and c["ir"]["violations"] == 0 and c["ic"]["max_regret"] <= 1e-9
    assert report["expected_revenue"] == 5 / 12
    assert abs(report["sampled_revenue"] - 5 / 12) < 4 * report["sampled_revenue_standard_error"]


def test_an_ironed_auction_is_certified_too():
    """loguniform(0.01, 1) is irregular; the ironed auction stays IR and DSIC on the grid."""
    source = ("design auction a\nsize n = 2\nbidder b[i in n] value ~ loguniform(0.01, 1)\nvaluation single\n"
              "maximize revenue\nconstraint ir\nconstraint ic\n")
    derived = derive(load_source(source, "l.mech"))
    certificate = certify(derived.auction, 20_000, seed=5, regret_profiles=100)
    assert certificate.holds
    assert abs(certificate.revenue - derived.revenue.value) < 4 * certificate.revenue_se


def test_the_grid_search_finds_the_regret_of_a_first_price_auction():
    """The same brute force on a first-price auction (pay your bid, no reserve) finds what a
    bidder gains by shading: with v = (0.9, 0.5) the first bidder's truthful utility is 0.9 - 0.9 = 0
    and its best grid bid, 0.51, wins at utility 0.39; the second cannot gain (winning costs > 0.9)."""

    class FirstPrice(SingleItemMechanism):
        def outcome(self, bids):
            allocation = (bids == bids.max(axis=1, keepdims=True)).astype(float)
            allocation /= allocation.sum(axis=1, keepdims=True)
            return allocation, allocation * bids

    first_price = FirstPrice((lambda v: v, lambda v: v), ((0.0, 1.0), (0.0, 1.0)))
    regret = _grid_regret(first_price, np.array([[0.9, 0.5]]), grid=101, bidders=(0, 1))
    assert abs(regret[0, 0] - 0.39) < 1e-12 and regret[0, 1] == 0


def test_solve_refuses_a_pinned_value(capsys):
    assert main(["solve", str(SINGLE), "--set", "v=0.3"]) == 2
    assert "not a size or constant" in capsys.readouterr().err
