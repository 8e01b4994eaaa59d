"""Myerson's single-item auction as a batched NumPy mechanism: bids in, allocation and
payments out, exactly as `myerson.py` states the rules.

Bidder i's score is psi_i(b_i) (ironed where irregular); the item goes to the top score if it
is >= 0, shared uniformly at random among tied top bidders (a tie has probability zero
unless psi is ironed). The allocation and payments returned are the expectations over that
tie-break, so they are deterministic: a tied bidder gets x_i = 1/k. Payments follow
Myerson's payment identity p_i(b) = b x_i(b) - int_low^b x_i(z) dz; with
level = max(0, max_{j != i} score_j), z_ge = inf{z : psi_i(z) >= level} and
z_gt = inf{z : psi_i(z) > level} (they differ only on a flat of the ironed psi), a bidder
strictly above the level pays z_gt - s (z_gt - z_ge) and a tied one s z_ge, s being its tie
share. For a regular bidder z_ge = z_gt = max(r_i, psi_i^-1(level)): the threshold price."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mechdsl.auction_design.myerson import MyersonAuction

BISECTION_STEPS = 64


@dataclass(frozen=True)
class SingleItemMechanism:
    rankings: tuple[Callable[[np.ndarray], np.ndarray], ...]
    supports: tuple[tuple[float, float], ...]

    @classmethod
    def of(cls, auction: MyersonAuction) -> "SingleItemMechanism":
        return cls(tuple(b.ranking() for b in auction.bidders), tuple(b.law.numeric_support() for b in auction.bidders))

    def _groups(self) -> dict[tuple, list[int]]:
        """Bidders sharing one ranking function and support (symmetric bidders: one group)."""
        groups: dict[tuple, list[int]] = {}
        for i, (rank, support) in enumerate(zip(self.rankings, self.supports)):
            groups.setdefault((id(rank), support), []).append(i)
        return groups

    def scores(self, bids: np.ndarray) -> np.ndarray:
        scores = np.empty_like(bids, dtype=float)
        for members in self._groups().values():
            scores[:, members] = self.rankings[members[0]](bids[:, members])
        return scores

    def outcome(self, bids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(allocation, payments), each (profiles, bidders), for bids (profiles, bidders).

        Only a top scorer with a score >= 0 can win: its level is max(0, the best other
        score), which is the top score itself when k >= 2 bidders tie there (each then gets
        1/k) and max(0, the second-best score) otherwise."""
        scores = self.scores(bids)
        n = bids.shape[1]
        allocation = np.zeros_like(bids, dtype=float)
        payments = np.zeros_like(bids, dtype=float)
        top = scores.max(axis=1)
        at_top = scores == top[:, None]
        count_top = at_top.sum(axis=1)
        second = np.partition(scores, n - 2, axis=1)[:, n - 2] if n > 1 else np.full(len(bids), -np.inf)
        level = np.where(count_top >= 2, top, np.maximum(0.0, second))
        others_at_level = np.where(count_top >= 2, count_top - 1,
                                   (scores == level[:, None]).sum(axis=1) - (top == level))
        share = 1.0 / (1 + others_at_level)
        rows, bidders = np.nonzero(at_top & (top >= 0)[:, None])
        for members in self._groups().values():
            pick = np.isin(bidders, members)
            if not pick.any():
                continue
            r, i = rows[pick], bidders[pick]
            first = members[0]
            z_ge = self._least_bid(first, level[r], bids[r, i], strict=False)
            z_gt = self._least_bid(first, level[r], bids[r, i], strict=True)
            above, s = scores[r, i] > level[r], share[r]
            allocation[r, i] = np.where(above, 1.0, s)
            payments[r, i] = np.where(above, z_gt - s * (z_gt - z_ge), s * z_ge)
        return allocation, payments

    def _least_bid(self, i: int, level: np.ndarray, bid: np.ndarray, strict: bool) -> np.ndarray:
        """inf{z in [low_i, bid] : psi_i(z) >= level} (or > level), by bisection; psi_i is
        non-decreasing and psi_i(bid) >= level."""
        low = np.full_like(level, self.supports[i][0])
        high = bid.astype(float).copy()
        at_low = self.rankings[i](low)
        done = (at_low > level) if strict else (at_low >= level)
        for _ in range(BISECTION_STEPS):
            middle = 0.5 * (low + high)
            value = self.rankings[i](middle)
            ok = (value > level) if strict else (value >= level)
            high = np.where(ok, middle, high)
            low = np.where(ok, low, middle)
        return np.where(done, self.supports[i][0], high)


def sample_values(auction: MyersonAuction, profiles: int, rng: np.random.Generator) -> np.ndarray:
    """Value profiles (profiles, bidders) drawn from each bidder's law by the language's one
    sampler (`mechdsl.runtime.sampling`)."""
    from mechdsl.runtime.sampling import NumpyDraws, draw

    draws = NumpyDraws(rng)
    return np.stack([draw(draws, b.law.distribution.name, b.law.distribution.args, (profiles,))
                     for b in auction.bidders], axis=1)
