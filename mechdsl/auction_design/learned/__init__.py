"""Learned auction mechanisms for multi-item settings and their incentive certificate.

    setting.py           the Setting (bidders, items, valuation, value distributions)
    mechanism.py         the Mechanism protocol, deviation utilities, item-wise Myerson
    menu.py              RochetNet: one bidder, a menu of lotteries (IC and IR by construction)
    regretnet.py         RegretNet: several bidders, augmented Lagrangian on regret
    affine_maximizer.py  a lottery affine maximizer (exactly DSIC and IR for any parameters)
    regret.py            regret by misreport gradient ascent and by grid enumeration
    references.py        closed-form or published revenues of the classic settings
    report.py            `certify`: revenue, both regrets, IR, the reference, in one value
"""

from mechdsl.auction_design.learned.affine_maximizer import AffineMaximizer, train_affine_maximizer
from mechdsl.auction_design.learned.mechanism import ItemwiseMyerson, Mechanism, TrainedMechanism
from mechdsl.auction_design.learned.menu import LotteryMenu, train_menu
from mechdsl.auction_design.learned.references import Reference, reference_revenue
from mechdsl.auction_design.learned.regret import RegretEstimate, gradient_regret, grid_regret
from mechdsl.auction_design.learned.regretnet import RegretNet, train_regretnet
from mechdsl.auction_design.learned.report import AuctionCertificate, certify
from mechdsl.auction_design.learned.setting import Setting, ValueDistribution, uniform

__all__ = [
    "AffineMaximizer", "AuctionCertificate", "ItemwiseMyerson", "LotteryMenu", "Mechanism",
    "Reference", "RegretEstimate", "RegretNet", "Setting", "TrainedMechanism",
    "ValueDistribution", "certify", "gradient_regret", "grid_regret", "reference_revenue",
    "train_affine_maximizer", "train_menu", "train_regretnet", "uniform",
]
